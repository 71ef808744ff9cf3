"""The scheduler's state in the store: the last slot handled by each schedule, and who
holds the scheduler lock.

A mark only moves forward: saving an older slot than the stored one changes nothing, so
a slow pass that finishes after a newer one can never make a slot due again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from syndicate.store.core import Store
from syndicate.store.schedule_schema import schedule_state, scheduler_holder


@dataclass(frozen=True, slots=True)
class Mark:
    """The latest slot a schedule has handled, and what became of it."""

    schedule: str
    last_slot: datetime
    outcome: str  # composed | no-news | no-audience | missed | started
    updated_at: datetime


def load_marks(store: Store) -> dict[str, Mark]:
    """Every schedule's mark, by schedule key."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(schedule_state)).all()
    return {r.schedule: Mark(r.schedule, r.last_slot, r.outcome, r.updated_at) for r in rows}


def save_mark(store: Store, schedule: str, slot: datetime, outcome: str, now: datetime) -> bool:
    """Record that ``schedule`` handled ``slot``; True if the mark moved forward."""
    with store.engine.begin() as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(schedule_state).values(
            schedule=schedule, last_slot=slot, outcome=outcome, updated_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["schedule"],
            set_={"last_slot": slot, "outcome": outcome, "updated_at": now},
            where=schedule_state.c.last_slot < slot,
        )
        return bool(conn.execute(stmt).rowcount)


def set_holder(store: Store, holder: str, since: datetime) -> None:
    """Say who holds the scheduler lock (call only while holding it)."""
    with store.engine.begin() as conn:
        conn.execute(delete(scheduler_holder))
        conn.execute(insert(scheduler_holder).values(id=1, holder=holder, since=since))


def get_holder(store: Store) -> tuple[str, datetime] | None:
    """Who last said they hold the scheduler lock, and since when."""
    with store.engine.connect() as conn:
        row = conn.execute(select(scheduler_holder)).first()
    return (row.holder, row.since) if row is not None else None


def clear_holder(store: Store, holder: str) -> None:
    """Forget ``holder`` (on a clean exit); another holder's row is left alone."""
    with store.engine.begin() as conn:
        conn.execute(delete(scheduler_holder).where(scheduler_holder.c.holder == holder))
