"""The scheduler's state: last completed slot per schedule, the lock holder, and the
cadence of an edition (the channel's own, or a daily/weekly round-up).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from syndicate.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.add_column(
            sa.Column("cadence", sa.String(16), nullable=False, server_default="edition")
        )
        batch.drop_constraint("uq_editions_channel_slot", type_="unique")
        batch.create_unique_constraint(
            "uq_editions_channel_cadence_slot", ["channel", "cadence", "slot"]
        )
    op.create_table(
        "schedule_state",
        sa.Column("schedule", sa.String(96), nullable=False),
        sa.Column("last_slot", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("schedule", name="pk_schedule_state"),
    )
    op.create_table(
        "scheduler_holder",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scheduler_holder"),
    )


def downgrade() -> None:
    op.drop_table("scheduler_holder")
    op.drop_table("schedule_state")
    with op.batch_alter_table("editions") as batch:
        batch.drop_constraint("uq_editions_channel_cadence_slot", type_="unique")
        batch.create_unique_constraint("uq_editions_channel_slot", ["channel", "slot"])
        batch.drop_column("cadence")
