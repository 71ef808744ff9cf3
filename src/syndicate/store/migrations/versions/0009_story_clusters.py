"""Story clusters and the editor's "More from" choices on articles.

``url_key`` and ``signature`` stay NULL on existing rows: ingest computes them for those
rows on its next run (``syndicate.ingest.stories.backfill``), so no application code runs
inside the migration. ``story`` starts empty (each article its own cluster), pins empty,
nothing excluded.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("url_key", sa.String(32), nullable=True))
        batch.add_column(sa.Column("signature", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("story", sa.String(512), nullable=False, server_default=""))
        batch.add_column(sa.Column("related_pins", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(
            sa.Column("related_exclude", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_articles_url_key", "articles", ["url_key"])
    op.create_index("ix_articles_story", "articles", ["story"])


def downgrade() -> None:
    op.drop_index("ix_articles_story", "articles")
    op.drop_index("ix_articles_url_key", "articles")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("related_exclude")
        batch.drop_column("related_pins")
        batch.drop_column("story")
        batch.drop_column("signature")
        batch.drop_column("url_key")
