"""Articles' term vectors for "More from" ranking (the persistent related index).

The table starts empty; ``syndicate db upgrade`` (and every later ingest or compose)
fills it from the articles (``syndicate.related.sync``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from syndicate.store.schema import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "related_terms",
        sa.Column("id", sa.String(512), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("section", sa.String(200), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("story", sa.String(512), nullable=False),
        sa.Column("related_exclude", sa.Boolean(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("length", sa.Float(), nullable=False),
        sa.Column("term_ids", sa.LargeBinary(), nullable=False),
        sa.Column("term_counts", sa.LargeBinary(), nullable=False),
        sa.Column("indexed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_related_terms")),
    )
    op.create_index("ix_related_terms_indexed_at", "related_terms", ["indexed_at"])
    # Read by every ranking (has any article changed?): probes, not table scans.
    op.create_index("ix_articles_first_seen_at", "articles", ["first_seen_at"])
    op.create_index("ix_articles_updated_at", "articles", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_articles_updated_at", table_name="articles")
    op.drop_index("ix_articles_first_seen_at", table_name="articles")
    op.drop_index("ix_related_terms_indexed_at", table_name="related_terms")
    op.drop_table("related_terms")
