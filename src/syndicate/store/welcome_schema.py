"""The record of welcome editions: one row per (subscriber, channel), ever.

Defined on the same ``metadata`` as :mod:`syndicate.store.schema`; migration 0016
creates exactly this.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from syndicate.store.schema import UTCDateTime, metadata

# The primary key is the exactly-once key of a welcome: a second confirmation, a retry
# after a crash, or leaving and coming back later finds the row and sends nothing. The
# row and its delivery are written in one transaction (store/welcomes.py), so there is
# never a welcome without its delivery, nor a welcome delivery without its row.
welcomes = Table(
    "welcomes",
    metadata,
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("channel", String(64), primary_key=True),
    Column("edition_id", Integer, ForeignKey("editions.id", ondelete="SET NULL"), nullable=True),
    Column("delivery_id", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
