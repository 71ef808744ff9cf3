"""Feed items' stored "More from" picks: computed once per item, so old items stay stable.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from syndicate.store.schema import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_item_picks",
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("article_id", sa.String(512), nullable=False),
        sa.Column("pick_ids", sa.JSON(), nullable=False),
        sa.Column("item_hash", sa.String(64), nullable=False),
        sa.Column("settings", sa.String(64), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "article_id", name="pk_feed_item_picks"),
    )


def downgrade() -> None:
    op.drop_table("feed_item_picks")
