"""Shared by the import, privacy and sunset tests: the sample exports and store dumps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from syndicate.store import Store
from syndicate.store.delivery_schema import suppressions
from syndicate.store.schema import metadata
from syndicate.store.subscribers import SubscriberStore

FIXTURES = Path(__file__).parent / "fixtures" / "import"


def dump(store: Store) -> dict[str, list[str]]:
    """Every row of every table, as sorted text: two dumps are equal if nothing changed."""
    out: dict[str, list[str]] = {}
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            out[table.name] = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
    return out


def state(store: Store, email: str) -> tuple[Any, ...] | None:
    """("suppressed", reason), or (status, channels) for a subscriber, or None."""
    with store.engine.connect() as conn:
        reason = conn.execute(
            select(suppressions.c.reason).where(suppressions.c.email == email)
        ).scalar_one_or_none()
    if reason is not None:
        return ("suppressed", reason)
    sub = SubscriberStore(store).get(email)
    if sub is None:
        return None
    return (sub.status, tuple(s.channel for s in sub.subscriptions))
