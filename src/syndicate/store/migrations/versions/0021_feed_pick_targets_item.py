"""An index on ``feed_pick_targets`` by item: (channel, article_id).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_feed_pick_targets_item", "feed_pick_targets", ["channel", "article_id"])


def downgrade() -> None:
    op.drop_index("ix_feed_pick_targets_item", table_name="feed_pick_targets")
