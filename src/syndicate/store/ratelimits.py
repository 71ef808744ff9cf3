"""Shared rate limits kept in the store: one row per limit, updated atomically.

A limit is a virtual schedule (GCRA with no burst): ``next_at`` is when the next message
may go. Taking ``cost`` seconds of it moves ``next_at`` to ``max(next_at, now) + cost``
in one UPDATE, which holds the row lock (PostgreSQL) or the write lock (SQLite) for that
statement only, so any number of processes share one pace.
"""

from __future__ import annotations

from sqlalchemy import func, update
from sqlalchemy.dialects import postgresql, sqlite

from syndicate.store.core import Store
from syndicate.store.delivery_schema import rate_limits


def take_slot(store: Store, name: str, cost: float, now: float) -> float:
    """Reserve ``cost`` seconds of the limit ``name``; returns when they start (epoch
    seconds): the caller waits until then. ``now`` is the caller's clock, so every
    process of one limit needs a synchronised clock (NTP)."""
    with store.engine.begin() as conn:
        on_pg = conn.dialect.name == "postgresql"
        insert = (postgresql if on_pg else sqlite).insert
        conn.execute(
            insert(rate_limits)
            .values(name=name, next_at=0.0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        later = (func.greatest if on_pg else func.max)(rate_limits.c.next_at, now)
        after = conn.execute(
            update(rate_limits)
            .where(rate_limits.c.name == name)
            .values(next_at=later + cost)
            .returning(rate_limits.c.next_at)
        ).scalar_one()
    return float(after) - cost
