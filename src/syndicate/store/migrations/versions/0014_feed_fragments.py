"""Feed items' rendered fragments: each item rendered once per format, then spliced.

The table starts empty; the next ``syndicate build`` fills it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_fragments",
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("article_id", sa.String(512), nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("fragment", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "format", "article_id", name="pk_feed_fragments"),
    )
    op.create_index("ix_feed_fragments_article_id", "feed_fragments", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_feed_fragments_article_id", table_name="feed_fragments")
    op.drop_table("feed_fragments")
