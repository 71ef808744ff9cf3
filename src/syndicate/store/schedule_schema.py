"""Tables of the scheduler: the last completed slot of each schedule, and who holds the
scheduler lock.

Defined on the same ``metadata`` as :mod:`syndicate.store.schema`; migration 0004
creates exactly these.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text

from syndicate.store.schema import UTCDateTime, metadata

# One row per schedule (a channel's own digest, or one of its daily/weekly roll-ups),
# keyed "<channel>" or "<channel>/<cadence>". ``last_slot`` is the latest slot that
# was handled — composed and enqueued, found empty, or skipped as too late — so a
# restart resumes after it and neither repeats nor loses a slot.
schedule_state = Table(
    "schedule_state",
    metadata,
    Column("schedule", String(96), primary_key=True),
    Column("last_slot", UTCDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Who holds the scheduler lock (one row, id 1): written by the holder after it has
# taken the lock (a file lock beside SQLite, an advisory lock in PostgreSQL), so that a
# second instance can say who it is waiting for. Informational: the lock itself is the
# file or the advisory lock, never this row.
scheduler_holder = Table(
    "scheduler_holder",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("holder", Text, nullable=False),
    Column("since", UTCDateTime, nullable=False),
)
