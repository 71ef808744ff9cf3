"""Task-shaped queries of the deliverability guards: warm-up allowances, rows held
back with the reason, the circuit breakers' counts, and sign-up abuse records.

The recipient groups and their pauses are in :mod:`syndicate.store.domain_groups`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from syndicate.store.core import Store
from syndicate.store.deliverability_schema import (
    breaker_counts,
    confirmation_sends,
    deliverability_flags,
    guard_counters,
    warmup_days,
)
from syndicate.store.delivery_schema import deliveries, subscribers
from syndicate.store.domain_groups import group_of

WARMUP_NOTE = "warm-up: "  # how a row held for a later day's cap says why (last_error)


def _insert(conn: Connection) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert


@dataclass(frozen=True, slots=True)
class BreakerCount:
    """What one edition sent to one group, and what came back."""

    edition_id: int
    group: str
    sent: int
    bounces: int
    complaints: int


class Guards:
    """The guards' tables, for one store."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    # --- warm-up -------------------------------------------------------------------

    def take_allowance(
        self, day: str, group: str, want: int, cap_for: Callable[[], int]
    ) -> tuple[int, int]:
        """Take up to ``want`` of ``group``'s allowance for ``day``; returns (granted,
        the day's cap). ``cap_for()`` fixes the cap when the day's row is first made.

        Atomic across senders: the row is written first, so SQLite holds its write
        lock and PostgreSQL the row lock until the commit.
        """
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(warmup_days.c.cap).where(
                    warmup_days.c.day == day, warmup_days.c.domain_group == group
                )
            ).first()
            if exists is None:
                conn.execute(
                    _insert(conn)(warmup_days)
                    .values(day=day, domain_group=group, cap=cap_for(), taken=0)
                    .on_conflict_do_nothing(index_elements=["day", "domain_group"])
                )
            where = and_(warmup_days.c.day == day, warmup_days.c.domain_group == group)
            # A no-op write takes the lock before the read (SQLite: the write lock).
            conn.execute(update(warmup_days).where(where).values(taken=warmup_days.c.taken))
            cap, taken = conn.execute(
                select(warmup_days.c.cap, warmup_days.c.taken).where(where)
            ).one()
            granted = max(0, min(want, int(cap) - int(taken)))
            if granted:
                conn.execute(update(warmup_days).where(where).values(taken=taken + granted))
            return granted, int(cap)

    def hold(self, owner: str, ids: Sequence[int], until: datetime, why: str) -> None:
        """Put claimed rows back on the queue, due at ``until``, saying why; the claim's
        attempt is not counted (nothing was tried)."""
        if not ids:
            return
        d = deliveries.c
        with self.engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(d.id.in_(list(ids)), d.lease_owner == owner, d.status == "sending")
                .values(
                    status="queued",
                    next_attempt_at=until,
                    last_error=why,
                    attempts=func.max(d.attempts - 1, 0)
                    if conn.dialect.name == "sqlite"
                    else func.greatest(d.attempts - 1, 0),
                    lease_until=None,
                    lease_owner=None,
                )
            )

    def hold_due(self, group: str, now: datetime, until: datetime, why: str) -> int:
        """Move every row of ``group`` due now and held by no one to ``until``, saying
        why; returns how many. Once a group's cap for the day is used up, this saves
        claiming the rest of its backlog batch by batch only to put it back."""
        d = deliveries.c
        members = select(subscribers.c.id).where(group_of(subscribers.c.email) == group)
        free = or_(d.lease_until.is_(None), d.lease_until < now)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(deliveries)
                .where(
                    d.status.in_(("queued", "deferred")),
                    d.next_attempt_at <= now,
                    free,
                    d.subscriber_id.in_(members),
                )
                .values(status="queued", next_attempt_at=until, last_error=why)
            )
            return int(done.rowcount)

    def group_sizes(self) -> dict[str, int]:
        """Active subscribers per recipient group (the "full list" of a warm-up)."""
        group = group_of(subscribers.c.email)
        query = select(group, func.count()).where(subscribers.c.status == "active").group_by(group)
        with self.engine.connect() as conn:
            return {row[0]: int(row[1]) for row in conn.execute(query)}

    def waiting(self, now: datetime) -> dict[str, tuple[int, datetime]]:
        """Rows held for a later day's warm-up cap, per group: how many, and when the
        first is due."""
        d = deliveries.c
        group = group_of(subscribers.c.email)
        query = (
            select(group, func.count(), func.min(d.next_attempt_at))
            .join(subscribers, subscribers.c.id == d.subscriber_id)
            .where(
                d.status == "queued", d.next_attempt_at > now, d.last_error.like(f"{WARMUP_NOTE}%")
            )
            .group_by(group)
        )
        with self.engine.connect() as conn:
            return {row[0]: (int(row[1]), row[2]) for row in conn.execute(query)}

    def due_by_group(self, groups: Iterable[str], now: datetime) -> dict[str, int]:
        """Rows due now (queued or deferred) per group, among ``groups``."""
        wanted = list(groups)
        if not wanted:
            return {}
        d = deliveries.c
        group = group_of(subscribers.c.email)
        query = (
            select(group, func.count())
            .join(subscribers, subscribers.c.id == d.subscriber_id)
            .where(d.status.in_(("queued", "deferred")), d.next_attempt_at <= now)
            .group_by(group)
        )
        with self.engine.connect() as conn:
            found = {row[0]: int(row[1]) for row in conn.execute(query)}
        return {g: found.get(g, 0) for g in wanted}

    # --- flags -----------------------------------------------------------------------

    def flag(self, name: str) -> Any:
        """The stored value of flag ``name`` (``None`` if unset)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(deliverability_flags.c.value).where(deliverability_flags.c.name == name)
            ).first()
        return None if row is None else row[0]

    def set_flag(self, name: str, value: Any, now: datetime, *, keep: bool = False) -> Any:
        """Store flag ``name``; with ``keep``, only if unset. Returns the value it holds."""
        with self.engine.begin() as conn:
            stmt = _insert(conn)(deliverability_flags).values(
                name=name, value=value, updated_at=now
            )
            if keep:
                conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            else:
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["name"], set_={"value": value, "updated_at": now}
                    )
                )
            return conn.execute(
                select(deliverability_flags.c.value).where(deliverability_flags.c.name == name)
            ).scalar_one()

    def clear_flag(self, name: str) -> bool:
        """Remove flag ``name``; True if it was set."""
        with self.engine.begin() as conn:
            removed = conn.execute(
                delete(deliverability_flags).where(deliverability_flags.c.name == name)
            ).rowcount
        return bool(removed)

    # --- circuit breakers ------------------------------------------------------------

    def add_counts(
        self, changes: Mapping[tuple[int, str], tuple[int, int, int]]
    ) -> list[BreakerCount]:
        """Add (sent, bounces, complaints) per (edition, group); returns the new totals."""
        out: list[BreakerCount] = []
        if not changes:
            return out
        c = breaker_counts.c
        with self.engine.begin() as conn:
            for (edition_id, group), (sent, bounces, complaints) in sorted(changes.items()):
                conn.execute(
                    _insert(conn)(breaker_counts)
                    .values(
                        edition_id=edition_id, domain_group=group, sent=0, bounces=0, complaints=0
                    )
                    .on_conflict_do_nothing(index_elements=["edition_id", "domain_group"])
                )
                row = conn.execute(
                    update(breaker_counts)
                    .where(c.edition_id == edition_id, c.domain_group == group)
                    .values(
                        sent=c.sent + sent,
                        bounces=c.bounces + bounces,
                        complaints=c.complaints + complaints,
                    )
                    .returning(c.sent, c.bounces, c.complaints)
                ).one()
                out.append(BreakerCount(edition_id, group, int(row[0]), int(row[1]), int(row[2])))
        return out

    def edition_of(self, provider_message_id: str | None, email: str) -> int | None:
        """The edition a provider's event is about: the delivery with that provider
        message id, else the last edition sent to ``email``."""
        d = deliveries.c
        with self.engine.connect() as conn:
            if provider_message_id:
                found = conn.execute(
                    select(d.edition_id)
                    .where(d.provider_message_id == provider_message_id)
                    .limit(1)
                ).first()
                if found is not None:
                    return int(found[0])
            found = conn.execute(
                select(d.edition_id)
                .join(subscribers, subscribers.c.id == d.subscriber_id)
                .where(subscribers.c.email == email, d.status == "sent")
                .order_by(d.sent_at.desc(), d.id.desc())
                .limit(1)
            ).first()
        return None if found is None else int(found[0])

    # --- sign-up abuse ---------------------------------------------------------------

    def note_confirmation(self, email: str, now: datetime, since: datetime) -> bool:
        """Record a confirmation mail to ``email`` unless one went after ``since`` and
        nobody confirmed from that address since it went; True when this one may go
        (and is now recorded). A confirmed click proves the mailbox's owner asked, so
        an active reader adding a channel is not held back; a bombed victim, who never
        clicks, gets at most one a day."""
        c = confirmation_sends.c
        with self.engine.begin() as conn:
            conn.execute(
                _insert(conn)(confirmation_sends)
                .values(email=email, sent_at=datetime(1970, 1, 1, tzinfo=now.tzinfo))
                .on_conflict_do_nothing(index_elements=["email"])
            )
            confirmed = (
                select(subscribers.c.confirmed_at)
                .where(subscribers.c.email == email)
                .scalar_subquery()
            )
            done = conn.execute(
                update(confirmation_sends)
                .where(c.email == email, or_(c.sent_at <= since, c.sent_at <= confirmed))
                .values(sent_at=now)
            )
            return bool(done.rowcount)

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``name``."""
        c = guard_counters.c
        with self.engine.begin() as conn:
            conn.execute(
                _insert(conn)(guard_counters)
                .values(name=name, count=0)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            conn.execute(update(guard_counters).where(c.name == name).values(count=c.count + n))

    def counters(self, prefix: str = "") -> dict[str, int]:
        """Counters whose name starts with ``prefix`` (the prefix cut off)."""
        c = guard_counters.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.name, c.count).where(c.name.like(f"{prefix}%")))
            return {r[0][len(prefix) :]: int(r[1]) for r in rows}
