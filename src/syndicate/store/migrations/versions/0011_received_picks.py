"""The "More from" picks each delivery carried, and the ledger's index.

``deliveries.picks`` is a bit mask over the edition's ``related_ids`` (NULL until the
message is first built; rows from before this migration showed all of ``related_ids``).
``ix_deliveries_subscriber_sent`` makes "what did these subscribers receive since T" one
indexed query.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("picks", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_deliveries_subscriber_sent",
        "deliveries",
        ["subscriber_id", "status", "sent_at", "edition_id", "picks"],
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_subscriber_sent", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("picks")
