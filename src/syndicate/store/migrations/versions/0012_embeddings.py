"""Article embeddings for semantic "More from" picks (the ``semantic`` extra).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from syndicate.store.schema import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_embeddings",
        sa.Column("article_id", sa.String(512), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("dims", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("embedded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_article_embeddings_article_id_articles",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name="pk_article_embeddings"),
    )
    op.create_index("ix_article_embeddings_model", "article_embeddings", ["model"])


def downgrade() -> None:
    op.drop_index("ix_article_embeddings_model", table_name="article_embeddings")
    op.drop_table("article_embeddings")
