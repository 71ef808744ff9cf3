"""Tables of consent records and of erased addresses (kept only as hashes).

Defined on the same ``metadata`` as :mod:`syndicate.store.schema`; migration 0015
creates exactly these.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Table, Text

from syndicate.store.schema import UTCDateTime, metadata

CONSENT_METHODS = ("form", "import", "operator")

# One row per way a subscriber's consent was given for a channel ("" when the record is
# not about one channel, e.g. an import row without a channel mapping): how (a form, an
# import with its file name and row, an operator on the command line) and when. A form's
# client address is kept only as its network (/24 or /56), never the address itself.
# Rows go with the subscriber (ON DELETE CASCADE): erasure removes them too.
consent_records = Table(
    "consent_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
    ),
    Column("channel", String(64), nullable=False),
    Column("method", String(16), nullable=False),
    Column("source", Text, nullable=False),
    Column("given_at", UTCDateTime, nullable=True),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_consent_records_subscriber_id", "subscriber_id"),
)

# What erasure keeps of an address: a SHA-256 of it, so that no import, operator "add"
# or send ever mails it again, while the address itself is gone from the store.
erased_addresses = Table(
    "erased_addresses",
    metadata,
    Column("email_hash", String(64), primary_key=True),
    Column("erased_at", UTCDateTime, nullable=False),
)
