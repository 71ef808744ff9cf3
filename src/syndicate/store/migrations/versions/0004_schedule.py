"""The scheduler's state: last completed slot per schedule, and the lock holder.

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
