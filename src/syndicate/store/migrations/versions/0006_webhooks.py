"""Provider webhook events, unique per provider and event id.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from syndicate.store.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(512), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("provider_message_id", sa.Text(), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=True),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_events"),
        sa.UniqueConstraint("provider", "event_id", name="uq_webhook_events_provider_event"),
        sa.UniqueConstraint("provider", "nonce", name="uq_webhook_events_provider_nonce"),
    )
    op.create_index("ix_webhook_events_email", "webhook_events", ["email"])


def downgrade() -> None:
    op.drop_index("ix_webhook_events_email", table_name="webhook_events")
    op.drop_table("webhook_events")
