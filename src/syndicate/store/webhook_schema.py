"""The table of provider webhook events (bounces, complaints, unsubscribes).

Defined on the same ``metadata`` as :mod:`syndicate.store.schema`; migration 0006
creates exactly this.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, Text, UniqueConstraint

from syndicate.store.schema import UTCDateTime, metadata

# One row per (provider, event id): providers redeliver, so the unique key is what makes
# a repeated event change nothing. ``nonce`` is a one-use token the request was signed
# with (Mailgun's signature does not cover the event, so a token must never be
# accepted twice); NULLs do not collide in a unique constraint on either backend.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider", String(16), nullable=False),
    Column("event_id", String(512), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("email", String(320), nullable=False),
    Column("provider_message_id", Text, nullable=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("nonce", String(128), nullable=True),
    Column("outcome", String(24), nullable=False),
    Column("detail", JSON, nullable=False),
    UniqueConstraint("provider", "event_id", name="uq_webhook_events_provider_event"),
    UniqueConstraint("provider", "nonce", name="uq_webhook_events_provider_nonce"),
    Index("ix_webhook_events_email", "email"),
)
