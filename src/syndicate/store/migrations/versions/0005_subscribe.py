"""Subscription requests waiting for the double opt-in click (the subscriber web).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from syndicate.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscription_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("cadence", sa.String(16), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("consent", sa.JSON(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name="fk_subscription_requests_subscriber_id_subscribers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_subscription_requests"),
        sa.UniqueConstraint(
            "subscriber_id", "channel", name="uq_subscription_requests_subscriber_channel"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_subscription_requests_requested_at", "subscription_requests", ["requested_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_subscription_requests_requested_at", table_name="subscription_requests")
    op.drop_table("subscription_requests")
