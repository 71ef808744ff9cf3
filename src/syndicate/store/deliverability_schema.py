"""Tables of the deliverability guards: warm-up caps, circuit breakers, sign-up abuse.

Defined on the same ``metadata`` as :mod:`syndicate.store.schema`; migration 0017
creates exactly these. A "group" is a recipient domain group (``gmail``,
``microsoft``, ``yahoo``, ``other``; :mod:`syndicate.delivery.groups`).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table, Text

from syndicate.store.schema import UTCDateTime, metadata

# One row per (UTC day, group) once warm-up is on: that day's cap, fixed when the row
# is made, and how many deliveries of the group were let through that day.
warmup_days = Table(
    "warmup_days",
    metadata,
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD (UTC)
    Column("domain_group", String(16), primary_key=True),
    Column("cap", Integer, nullable=False),
    Column("taken", Integer, nullable=False),
)

# A paused recipient group: its rows are not claimed until ``syndicate deliveries
# resume``. ``trips`` counts every pause ever (the /metrics counter), so a resumed
# group keeps its row with ``paused_at`` NULL.
group_pauses = Table(
    "group_pauses",
    metadata,
    Column("domain_group", String(16), primary_key=True),
    Column("paused_at", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=True),
    Column("edition_id", Integer, nullable=True),
    Column("trips", Integer, nullable=False),
)

# What each edition sent to each group, and the hard bounces and complaints that came
# back for it: the circuit breakers' rates.
breaker_counts = Table(
    "breaker_counts",
    metadata,
    Column(
        "edition_id",
        Integer,
        ForeignKey("editions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("domain_group", String(16), primary_key=True),
    Column("sent", Integer, nullable=False),
    Column("bounces", Integer, nullable=False),
    Column("complaints", Integer, nullable=False),
)

# Named settings the instance keeps about itself (e.g. ``warmup``: the ramp switched on
# by a check rather than by syndicate.toml, and the day the ramp began).
deliverability_flags = Table(
    "deliverability_flags",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# When the last confirmation mail went to an address (never a second within a day).
confirmation_sends = Table(
    "confirmation_sends",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("sent_at", UTCDateTime, nullable=False),
)

# Counters read by /metrics: sign-up refusals by reason (``signup:<reason>``).
guard_counters = Table(
    "guard_counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
)
