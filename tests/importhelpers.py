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


def personal_traces(store: Store, needles: tuple[str, ...], subscriber_id: int) -> list[str]:
    """Every place, table by table over the store's metadata, where one of ``needles``
    (an address, a name, a network) or the subscriber's id still appears."""
    import json

    found = []
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for column, value in row._mapping.items():
                    text = value if isinstance(value, str) else json.dumps(value, default=str)
                    hits = [n for n in needles if n.lower() in text.lower()]
                    if hits:
                        found.append(f"{table.name}.{column}: {hits}")
                    refers = column == "subscriber_id" or (
                        table.name == "subscribers" and column == "id"
                    )
                    if refers and value == subscriber_id:
                        found.append(f"{table.name}.{column} = {subscriber_id}")
    return found
