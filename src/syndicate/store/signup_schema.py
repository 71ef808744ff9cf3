"""The table of subscription requests waiting for their double opt-in click.

Defined on the same ``metadata`` as :mod:`syndicate.store.schema`; migration 0005
creates exactly this.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from syndicate.store.schema import UTCDateTime, metadata

# A request is kept apart from ``subscriptions`` so that nothing is ever sent for it
# before the confirmation click (SE-6): the audience query reads only subscriptions.
# One outstanding request per subscriber and channel; asking again replaces it (with a
# new id, which names the confirmation message). ``sqlite_autoincrement`` keeps SQLite
# from reusing the id of a deleted row, so two confirmation messages never share one.
subscription_requests = Table(
    "subscription_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
    ),
    Column("channel", String(64), nullable=False),
    Column("cadence", String(16), nullable=False),
    Column("sections", JSON, nullable=False),
    Column("consent", JSON, nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    UniqueConstraint(
        "subscriber_id", "channel", name="uq_subscription_requests_subscriber_channel"
    ),
    Index("ix_subscription_requests_requested_at", "requested_at"),
    sqlite_autoincrement=True,
)
