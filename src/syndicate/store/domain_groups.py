"""Recipient domain groups, and the paused ones.

Mailbox providers judge a sender per provider, so warm-up caps and circuit breakers
count and pause per *group* of recipient domains: Gmail (gmail.com, googlemail.com),
Microsoft (outlook.com, hotmail.com, live.com), Yahoo (yahoo.com) and everything
else. The group is read from the address, in Python (:func:`domain_group`) and in SQL
(:func:`group_of`, so a claim can leave out paused groups' rows without a column).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Connection, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from syndicate.store.core import Store
from syndicate.store.deliverability_schema import group_pauses

GROUP_DOMAINS: dict[str, tuple[str, ...]] = {
    "gmail": ("gmail.com", "googlemail.com"),
    "microsoft": ("outlook.com", "hotmail.com", "live.com"),
    "yahoo": ("yahoo.com",),
}
OTHER = "other"
GROUPS: tuple[str, ...] = (*GROUP_DOMAINS, OTHER)
_BY_DOMAIN = {domain: group for group, domains in GROUP_DOMAINS.items() for domain in domains}


def domain_group(email: str) -> str:
    """The group of a (normalised, lower-case) address."""
    return _BY_DOMAIN.get(email.rpartition("@")[2].lower(), OTHER)


def group_of(email: ColumnElement[str]) -> ColumnElement[str]:
    """:func:`domain_group` as an SQL expression over an address column (stored
    addresses are lower-case, so a plain LIKE on the domain is exact)."""
    whens = [
        (or_(*(email.like(f"%@{d}") for d in domains)), group)
        for group, domains in GROUP_DOMAINS.items()
    ]
    return case(*whens, else_=OTHER)


def held_groups(conn: Connection) -> list[str]:
    """The groups paused now (read inside a claim's transaction)."""
    query = select(group_pauses.c.domain_group).where(group_pauses.c.paused_at.is_not(None))
    return [row[0] for row in conn.execute(query)]


class GroupPauses:
    """Pausing and resuming recipient groups (the circuit breakers' switch)."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def pause(self, group: str, reason: str, edition_id: int | None, now: datetime) -> bool:
        """Pause ``group``; True when this call paused it (False: it already was).

        Several senders may trip the same breaker at once; only one of them gets True,
        so only one alert goes out.
        """
        with self.engine.begin() as conn:
            insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert
            conn.execute(
                insert(group_pauses)
                .values(domain_group=group, trips=0)
                .on_conflict_do_nothing(index_elements=["domain_group"])
            )
            done = conn.execute(
                update(group_pauses)
                .where(group_pauses.c.domain_group == group, group_pauses.c.paused_at.is_(None))
                .values(
                    paused_at=now,
                    reason=reason,
                    edition_id=edition_id,
                    trips=group_pauses.c.trips + 1,
                )
            )
            return bool(done.rowcount)

    def paused(self) -> dict[str, tuple[datetime, str]]:
        """Paused groups: when and why."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(group_pauses).where(group_pauses.c.paused_at.is_not(None))
            ).all()
        return {r.domain_group: (r.paused_at, r.reason or "") for r in rows}

    def trips(self) -> dict[str, int]:
        """How many times each group was ever paused (a counter for /metrics)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(group_pauses.c.domain_group, group_pauses.c.trips))
            return {r[0]: int(r[1]) for r in rows}

    def resume(self, group: str) -> bool:
        """Lift ``group``'s pause; True if it was paused. Its waiting rows are due at
        once (they were never taken off the queue, only left out of claims)."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(group_pauses)
                .where(group_pauses.c.domain_group == group, group_pauses.c.paused_at.is_not(None))
                .values(paused_at=None, reason=None)
            )
            return bool(done.rowcount)
