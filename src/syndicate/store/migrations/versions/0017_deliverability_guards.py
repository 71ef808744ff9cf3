"""Deliverability guards: warm-up caps, circuit breakers, sign-up abuse counters.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from syndicate.store.schema import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "warmup_days",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("domain_group", sa.String(16), nullable=False),
        sa.Column("cap", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "domain_group", name=op.f("pk_warmup_days")),
    )
    op.create_table(
        "group_pauses",
        sa.Column("domain_group", sa.String(16), nullable=False),
        sa.Column("paused_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("edition_id", sa.Integer(), nullable=True),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("domain_group", name=op.f("pk_group_pauses")),
    )
    op.create_table(
        "breaker_counts",
        sa.Column("edition_id", sa.Integer(), nullable=False),
        sa.Column("domain_group", sa.String(16), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("bounces", sa.Integer(), nullable=False),
        sa.Column("complaints", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name=op.f("fk_breaker_counts_edition_id_editions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("edition_id", "domain_group", name=op.f("pk_breaker_counts")),
    )
    op.create_table(
        "deliverability_flags",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deliverability_flags")),
    )
    op.create_table(
        "confirmation_sends",
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_confirmation_sends")),
    )
    op.create_table(
        "guard_counters",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_guard_counters")),
    )


def downgrade() -> None:
    for table in (
        "guard_counters",
        "confirmation_sends",
        "deliverability_flags",
        "breaker_counts",
        "group_pauses",
        "warmup_days",
    ):
        op.drop_table(table)
