"""Tables of subscribers, suppressions and the outbox (deliveries).

Defined on the same ``metadata`` as :mod:`syndicate.store.schema`; migration 0003
creates the first four, migration 0007 ``rate_limits``, migration 0011 the record of
the "More from" picks each delivery carried and the index the ledger reads it by.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from syndicate.store.schema import UTCDateTime, metadata

SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bounced", "complained")
CADENCES = ("edition", "daily", "weekly")
DELIVERY_STATUSES = ("queued", "sending", "sent", "deferred", "failed", "suppressed")

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("consent", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("unsubscribed_at", UTCDateTime, nullable=True),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("channel", String(64), primary_key=True),
    Column("cadence", String(16), nullable=False),
    Column("sections", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("reason", String(16), nullable=False),
    Column("source", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("edition_id", Integer, ForeignKey("editions.id", ondelete="CASCADE"), nullable=False),
    Column(
        "subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
    ),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("provider_message_id", Text, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    # The "More from" candidates this delivery shows, a bit mask over the edition's
    # related_ids (bit n: the n-th). Set once, before the first send, and reused by every
    # retry, so a resend carries the same picks; NULL until then (and for deliveries made
    # before migration 0011, which showed all of related_ids).
    Column("picks", BigInteger, nullable=True),
    UniqueConstraint("edition_id", "subscriber_id", name="uq_deliveries_edition_subscriber"),
    Index("ix_deliveries_status_next", "status", "next_attempt_at"),
    # The ledger: what did these subscribers receive since T (store/ledger.py).
    Index(
        "ix_deliveries_subscriber_sent", "subscriber_id", "status", "sent_at", "edition_id", "picks"
    ),
)

channel_pauses = Table(
    "channel_pauses",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("policy_failures", Integer, nullable=False),
    Column("paused_at", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=True),
)

# One row per shared rate limit (a delivery backend's messages per second across every
# worker): the time, in seconds since the epoch, from which the next message may go.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("name", String(96), primary_key=True),
    Column("next_at", Float, nullable=False),
)
