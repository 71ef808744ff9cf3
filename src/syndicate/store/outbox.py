"""The outbox: one ``deliveries`` row per (edition, subscriber), claimed with a lease.

Exactly-once rests on three things here (DESIGN §5, STANDARDS C2):

* rows are created in one transaction before anything is sent, unique on
  (edition, subscriber), so enqueueing twice adds nothing;
* a sender claims due rows by setting ``status='sending'`` with a lease in one UPDATE
  (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: the UPDATE itself holds the single
  write lock), so two senders never hold the same row;
* a result is recorded with the lease release in one transaction
  (:mod:`syndicate.store.results`); after a crash only rows whose lease expired are
  claimed again, so a message repeats only if the sender died between the provider's
  acceptance and that commit.

With a task queue (``[dispatch] queue = "celery"``) rows are first *reserved* for one task
(:meth:`Outbox.reserve`: still queued, ``lease_owner`` names the task, ``lease_until``
the end of the reservation) and that task claims them as above. A reserved row is not due
for anyone else until its reservation ends, so publishing again does not make a second
task for it while the first waits in the broker; a lost task's rows come back on their
own when the reservation ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.visitors import replacement_traverse

from syndicate.store.arrays import on_postgres, one_of, unnested
from syndicate.store.core import Store
from syndicate.store.delivery_schema import (
    channel_pauses,
    deliveries,
    subscribers,
    subscriptions,
    suppressions,
)
from syndicate.store.domain_groups import group_of, held_groups
from syndicate.store.results import DeliveryResults
from syndicate.store.results import Outcome as Outcome  # importers take it from here
from syndicate.store.schema import editions

DUE = ("queued", "deferred")

# Chooses the "More from" picks ({delivery id: mask}) of claimed rows (see Outbox.claim).
Chooser = Callable[[Sequence["Claimed"]], dict[int, int]]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed delivery with what is needed to build its message."""

    id: int
    edition_id: int
    channel: str
    subscriber_id: int
    email: str
    name: str
    attempts: int
    created_at: datetime
    subscriber_status: str
    suppressed: bool
    sections: tuple[str, ...] = ()  # the subscriber's chosen sections (empty: all)
    subscribed: bool = True  # still subscribed to the edition's channel
    picks: int | None = None  # the "More from" picks chosen at the first attempt (a mask)

    def with_picks(self, picks: int) -> Claimed:
        """This delivery with ``picks`` recorded (``dataclasses.replace`` without its
        generic field-by-field work, which showed in the dispatch profile)."""
        return Claimed(
            self.id,
            self.edition_id,
            self.channel,
            self.subscriber_id,
            self.email,
            self.name,
            self.attempts,
            self.created_at,
            self.subscriber_status,
            self.suppressed,
            self.sections,
            self.subscribed,
            picks,
        )

    @property
    def blocked(self) -> bool:
        """True when this subscriber must not get mail now (checked just before sending):
        suppressed, no longer active, or unsubscribed from this channel since enqueue."""
        return self.suppressed or self.subscriber_status != "active" or not self.subscribed


class Outbox(DeliveryResults):
    """Task-shaped queries over ``deliveries`` and ``channel_pauses``."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def enqueue(self, edition_id: int, subscriber_ids: Iterable[int], now: datetime) -> int:
        """Create a queued row per subscriber in one transaction; returns rows added.

        Rows that already exist are left alone, so enqueueing again adds nothing. The
        rows go in as one bulk statement: ``COPY`` into a temporary table and one
        ``INSERT … SELECT`` on PostgreSQL, one ``executemany`` of a prepared INSERT on
        SQLite (sqlite3 loops over the rows in C), never one ORM row at a time.
        """
        ids = sorted(set(subscriber_ids))
        if not ids:
            return 0
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                return _copy_in(conn, edition_id, ids, now)
            stamp = deliveries.c.created_at.type.bind_processor(conn.dialect)
            at = stamp(now) if stamp is not None else now
            done = conn.exec_driver_sql(
                f"INSERT INTO deliveries ({_ENQUEUE_COLUMNS})"
                " VALUES (?, ?, 'queued', 0, ?, ?)"
                " ON CONFLICT (edition_id, subscriber_id) DO NOTHING",
                [(edition_id, sid, at, at) for sid in ids],
            )
            # sqlite3 sums the rows each execution changed; a conflict changes none.
            return int(done.rowcount)

    def claim(
        self,
        owner: str,
        *,
        now: datetime,
        lease: timedelta,
        limit: int,
        edition_id: int | None = None,
        ids: Sequence[int] | None = None,
        reserved_by: str | None = None,
        after: int | None = None,
        choose: Chooser | None = None,
    ) -> list[Claimed]:
        """Claim up to ``limit`` due rows in id order for ``owner`` until ``now + lease``.

        Due: queued or deferred with ``next_attempt_at <= now`` and no reservation in
        force, or ``sending`` with an expired lease (its sender died). Rows of paused
        channels are not claimed. ``ids`` narrows the claim to those rows;
        ``reserved_by`` also makes the rows reserved for that task due (see
        :meth:`reserve`), whenever their reservation ends. ``after`` claims only rows
        with a greater id: a sender working through an edition passes the last id it
        claimed, so each claim starts there instead of stepping again over every row
        already sent (which made claims quadratic in the size of the list).

        ``choose`` gives the "More from" picks ({id: mask}) of the claimed rows that
        have none recorded and are not :attr:`~Claimed.blocked`; they are recorded
        before the rows are returned, as :meth:`record_picks` records them (the first
        choice stays), and the rows come back with them. On PostgreSQL they are chosen
        while the claim holds the rows locked and written by the claim's own UPDATE,
        so a first attempt makes one row version, not two (one for the lease, one for
        the picks); on SQLite, whose claim holds the single write lock, they are
        recorded just after it.
        """
        due = _due(now)
        if reserved_by is not None:
            mine = and_(deliveries.c.status.in_(DUE), deliveries.c.lease_owner == reserved_by)
            due = or_(due, mine)
        if after is not None:
            due = and_(due, deliveries.c.id > after)
        until = now + lease
        values = {
            "status": "sending",
            "lease_until": until,
            "lease_owner": owner,
            "attempts": deliveries.c.attempts + 1,
        }
        with self.engine.begin() as conn:
            if on_postgres(conn):
                walk = after is not None
                return self._claim_locked(conn, due, values, limit, edition_id, ids, choose, walk)
            taken = self._take(conn, due, values, limit, edition_id, ids)
            if not taken:
                return []
            claimed = _claimed_rows(
                conn,
                one_of(conn, deliveries.c.id, taken),
                deliveries.c.lease_owner == owner,
                deliveries.c.lease_until == until,
                deliveries.c.status == "sending",
            )
        fresh = [c for c in claimed if c.picks is None and not c.blocked]
        if choose is None or not fresh:
            return claimed
        held = self.record_picks(choose(fresh))
        return [
            c.with_picks(held[c.id]) if c.picks is None and c.id in held else c for c in claimed
        ]

    def _claim_locked(
        self,
        conn: Connection,
        due: ColumnElement[bool],
        values: dict[str, Any],
        limit: int,
        edition_id: int | None,
        ids: Sequence[int] | None,
        choose: Chooser | None,
        walk: bool,
    ) -> list[Claimed]:
        """PostgreSQL: lock the rows to claim (skipping those another sender holds),
        read them, choose the picks of those without, then take them with one UPDATE
        that also records the picks, all in the caller's transaction. ``walk``: the
        claim goes on after the last id claimed."""
        pick = self._pick(conn, due, limit, edition_id, ids)
        if walk:
            # Just after an edition is enqueued the planner's statistics do not know its
            # rows; it then reads every due row of the edition through the edition and
            # status indexes and sorts them to take the first ``limit`` (each claim of
            # the run again: 5-11 ms of the server's time each at 10,000 rows, quadratic
            # in the edition's size). With sorting off it takes the plan that needs none,
            # the primary key walked from ``after``, which reads about the rows it takes
            # (0.4-0.7 ms). The first claim of a run (no ``after``) is planned as ever.
            conn.exec_driver_sql("SET LOCAL enable_sort = off")
        locked = [r[0] for r in conn.execute(pick.with_for_update(skip_locked=True, of=deliveries))]
        if walk:
            conn.exec_driver_sql("RESET enable_sort")
        if not locked:
            return []
        # A statement after the lock reads the rows as they are now, and nobody else can
        # change them until this transaction ends; attempts as the UPDATE below sets it.
        claimed = _claimed_rows(conn, one_of(conn, deliveries.c.id, locked), attempts=1)
        fresh = [c for c in claimed if c.picks is None and not c.blocked]
        chosen = choose(fresh) if choose is not None and fresh else {}
        d = deliveries.c
        taken = unnested(
            "taken",
            id=(Integer(), [c.id for c in claimed]),
            picks=(BigInteger(), [chosen.get(c.id) for c in claimed]),
        )
        done = conn.execute(
            update(deliveries)
            .where(d.id == taken.c.id)
            .values({**values, "picks": func.coalesce(d.picks, taken.c.picks)})
            .returning(d.id)
        )
        held = {r[0] for r in done}
        return [
            c.with_picks(chosen[c.id]) if c.picks is None and c.id in chosen else c
            for c in claimed
            if c.id in held
        ]

    def record_picks(self, choices: dict[int, int]) -> dict[int, int]:
        """Record the "More from" picks chosen for deliveries ``{id: mask}`` where none is
        recorded yet, and return what each row holds afterwards.

        The first choice recorded wins: written before the first send, it is what every
        retry of the delivery shows (a sender that lost its lease meanwhile gets the
        choice already recorded back, not its own).
        """
        if not choices:
            return {}
        d = deliveries.c
        with self.engine.begin() as conn:
            if on_postgres(conn):
                chosen = unnested(
                    "chosen",
                    id=(Integer(), list(choices)),
                    picks=(BigInteger(), list(choices.values())),
                )
                done = conn.execute(
                    update(deliveries)
                    .where(d.id == chosen.c.id, d.picks.is_(None))
                    .values(picks=chosen.c.picks)
                    .returning(d.id, d.picks)
                )
                held = {int(row[0]): int(row[1]) for row in done}
            else:
                conn.execute(
                    update(deliveries)
                    .where(d.id == bindparam("b_id"), d.picks.is_(None))
                    .values(picks=bindparam("b_picks")),
                    [{"b_id": key, "b_picks": mask} for key, mask in choices.items()],
                )
                held = {}
            rest = [key for key in choices if key not in held]
            if rest:  # rows whose picks were recorded before (all of them on SQLite)
                rows = conn.execute(select(d.id, d.picks).where(one_of(conn, d.id, rest)))
                held.update((int(row[0]), int(row[1])) for row in rows if row[1] is not None)
            return held

    def reserve(
        self,
        owner: str,
        *,
        now: datetime,
        until: datetime,
        limit: int,
        edition_id: int | None = None,
    ) -> list[int]:
        """Reserve up to ``limit`` due rows in id order for the task ``owner`` until
        ``until``; returns their ids.

        A reserved row stays queued (or deferred) and its attempts are not counted; only
        a claim with ``reserved_by=owner`` takes it before ``until``. A row a dead sender
        left ``sending`` goes back to ``queued``.
        """
        values = {
            "status": case((deliveries.c.status == "sending", "queued"), else_=deliveries.c.status),
            "lease_until": until,
            "lease_owner": owner,
        }
        with self.engine.begin() as conn:
            return self._take(conn, _due(now), values, limit, edition_id, None)

    def unreserve(self, owner: str) -> int:
        """Lift the reservations of ``owner`` (its task was never published)."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(deliveries)
                .where(deliveries.c.lease_owner == owner, deliveries.c.status.in_(DUE))
                .values(lease_until=None, lease_owner=None)
            )
            return int(done.rowcount)

    def due_editions(self, now: datetime) -> list[int]:
        """Editions with rows due now, oldest edition first."""
        query = (
            select(deliveries.c.edition_id)
            .where(_due(now))
            .group_by(deliveries.c.edition_id)
            .order_by(deliveries.c.edition_id)
        )
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(query)]

    def held_until(self, ids: Sequence[int], now: datetime) -> datetime | None:
        """When the last live lease on any of ``ids`` ends (``None`` if none is held):
        another sender has those rows, and whether they went is known only after."""
        query = select(func.max(deliveries.c.lease_until)).where(
            deliveries.c.id.in_(list(ids)),
            deliveries.c.status == "sending",
            deliveries.c.lease_until >= now,
        )
        with self.engine.connect() as conn:
            value: datetime | None = conn.execute(query).scalar_one()
        return value

    @staticmethod
    def _pick(
        conn: Connection,
        due: ColumnElement[bool],
        limit: int,
        edition_id: int | None,
        ids: Sequence[int] | None,
    ) -> Select[Any]:
        """The ids of up to ``limit`` rows matching ``due``, in id order, not of a paused
        channel or recipient group."""
        sqlite = not on_postgres(conn)
        # SQLite: with the edition or status indexes it reads every row of the edition
        # and sorts them for each claim (quadratic over a 100,000-row edition); written
        # "+column" those terms use no index, so it walks the primary key in id order
        # (from the caller's ``after``) and stops at ``limit``.
        terms: Any = _unindexed(due) if sqlite else due
        edition = literal_column("+deliveries.edition_id") if sqlite else deliveries.c.edition_id
        paused = select(channel_pauses.c.channel).where(channel_pauses.c.paused_at.is_not(None))
        pick = (
            select(deliveries.c.id)
            .join(editions, editions.c.id == deliveries.c.edition_id)
            .where(terms, editions.c.channel.not_in(paused))
            .order_by(deliveries.c.id)
            .limit(limit)
        )
        if edition_id is not None:
            pick = pick.where(edition == edition_id)
        if ids is not None:
            pick = pick.where(one_of(conn, deliveries.c.id, ids))
        held = held_groups(conn)
        if held:  # circuit breakers: a paused recipient group's rows wait, queued
            pick = pick.join(subscribers, subscribers.c.id == deliveries.c.subscriber_id).where(
                group_of(subscribers.c.email).not_in(held)
            )
        return pick

    @classmethod
    def _take(
        cls,
        conn: Connection,
        due: ColumnElement[bool],
        values: dict[str, Any],
        limit: int,
        edition_id: int | None,
        ids: Sequence[int] | None,
    ) -> list[int]:
        """Pick up to ``limit`` rows matching ``due`` in id order and set ``values`` on
        them, so that two concurrent callers never take the same row."""
        pick = cls._pick(conn, due, limit, edition_id, ids)
        if on_postgres(conn):
            # Lock the picked rows, skipping those another sender holds; the UPDATE
            # below then only touches rows this transaction has locked.
            locked = [
                r[0] for r in conn.execute(pick.with_for_update(skip_locked=True, of=deliveries))
            ]
            taken = one_of(conn, deliveries.c.id, locked)
            terms: Any = due
        else:
            # SQLite: pick and take in one statement, which runs under the single
            # write lock, so a concurrent sender cannot pick the same rows between.
            taken = deliveries.c.id.in_(pick.correlate(None).scalar_subquery())
            terms = _unindexed(due)
        done = conn.execute(
            update(deliveries).where(taken, terms).values(values).returning(deliveries.c.id)
        )
        return sorted(r[0] for r in done)

    def status_counts(self, edition_id: int | None = None) -> dict[str, int]:
        """Deliveries per status, for one edition or all."""
        query = select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
        if edition_id is not None:
            query = query.where(deliveries.c.edition_id == edition_id)
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    def next_due(self) -> datetime | None:
        """When the earliest queued/deferred delivery is due (for schedulers); a row
        reserved for a task counts from the end of its reservation."""
        later = case(
            (deliveries.c.lease_until > deliveries.c.next_attempt_at, deliveries.c.lease_until),
            else_=deliveries.c.next_attempt_at,
        )
        query = select(func.min(later)).where(deliveries.c.status.in_(DUE))
        with self.engine.connect() as conn:
            value: datetime | None = conn.execute(query).scalar_one()
        return value

    # --- channel pauses (policy blocks) ------------------------------------------------

    def note_policy(
        self, channel: str, failures: int, threshold: int, now: datetime, why: str
    ) -> bool:
        """Add ``failures`` policy rejections (0 resets); pause at ``threshold``.

        Returns True when this call paused the channel. Safe with several senders.
        """
        with self.engine.begin() as conn:
            row = conn.execute(
                select(channel_pauses).where(channel_pauses.c.channel == channel)
            ).first()
            if failures == 0:  # a clean batch: reset a count, and write nothing otherwise
                if row is not None and row.policy_failures:
                    conn.execute(
                        update(channel_pauses)
                        .where(channel_pauses.c.channel == channel)
                        .values(policy_failures=0)
                    )
                return False
            insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert
            conn.execute(
                insert(channel_pauses)
                .values(channel=channel, policy_failures=0)
                .on_conflict_do_nothing(index_elements=["channel"])
            )
            count = conn.execute(
                update(channel_pauses)
                .where(channel_pauses.c.channel == channel)
                .values(policy_failures=channel_pauses.c.policy_failures + failures)
                .returning(channel_pauses.c.policy_failures, channel_pauses.c.paused_at)
            ).one()
            if count[0] < threshold or count[1] is not None:
                return False
            conn.execute(
                update(channel_pauses)
                .where(channel_pauses.c.channel == channel)
                .values(paused_at=now, reason=why)
            )
            return True

    def paused(self) -> dict[str, tuple[datetime, str]]:
        """Paused channels: when and why."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(channel_pauses).where(channel_pauses.c.paused_at.is_not(None))
            ).all()
        return {r.channel: (r.paused_at, r.reason or "") for r in rows}

    def resume(self, channel: str) -> bool:
        """Lift a channel's pause; True if it was paused."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(channel_pauses)
                .where(channel_pauses.c.channel == channel, channel_pauses.c.paused_at.is_not(None))
                .values(paused_at=None, reason=None, policy_failures=0)
            )
            return bool(done.rowcount)


def _claimed_rows(
    conn: Connection, *where: ColumnElement[bool], attempts: int = 0
) -> list[Claimed]:
    """The claimed rows matching ``where``, in id order, with what building their
    messages needs; ``attempts`` is added to the stored count."""
    query = (
        select(
            deliveries.c.id,
            deliveries.c.edition_id,
            editions.c.channel,
            deliveries.c.subscriber_id,
            subscribers.c.email,
            subscribers.c.name,
            deliveries.c.attempts + attempts if attempts else deliveries.c.attempts,
            deliveries.c.created_at,
            subscribers.c.status,
            suppressions.c.email.is_not(None),
            subscriptions.c.sections,
            subscriptions.c.channel.is_not(None),
            deliveries.c.picks,
        )
        .join(editions, editions.c.id == deliveries.c.edition_id)
        .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        .outerjoin(suppressions, suppressions.c.email == subscribers.c.email)
        .outerjoin(
            subscriptions,
            and_(
                subscriptions.c.subscriber_id == deliveries.c.subscriber_id,
                subscriptions.c.channel == editions.c.channel,
            ),
        )
        .where(*where)
        .order_by(deliveries.c.id)
    )
    return [
        Claimed(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
            row[8],
            bool(row[9]),
            tuple(row[10] or ()),
            bool(row[11]),
            row[12],
        )
        for row in conn.execute(query).all()  # all() at once: cheaper than row by row
    ]


_PLUS: dict[int, ColumnElement[Any]] = {
    id(deliveries.c.status): literal_column("+deliveries.status"),
}


def _unindexed(terms: ColumnElement[bool]) -> ColumnElement[bool]:
    """``terms`` with ``deliveries.status`` written ``+deliveries.status`` (SQLite's way
    to say: no index for this term)."""

    def plus(element: Any) -> Any:
        return _PLUS.get(id(element))

    traverse: Any = replacement_traverse  # its overloads reject a plain callable
    swapped: ColumnElement[bool] = traverse(terms, {}, plus)
    return swapped


_ENQUEUE_COLUMNS = "edition_id, subscriber_id, status, attempts, next_attempt_at, created_at"


def _copy_in(conn: Connection, edition_id: int, ids: Sequence[int], now: datetime) -> int:
    """PostgreSQL: the subscriber ids ``COPY``-ed into a temporary table, then one
    ``INSERT … SELECT … ON CONFLICT DO NOTHING`` (COPY itself cannot skip conflicts),
    all in the caller's transaction; returns the rows added."""
    raw: Any = conn.connection.dbapi_connection  # psycopg 3, in this transaction
    at = now.astimezone(UTC)
    with raw.cursor() as cur:
        cur.execute(
            "CREATE TEMPORARY TABLE syndicate_enqueue (subscriber_id integer) ON COMMIT DROP"
        )
        with cur.copy("COPY syndicate_enqueue (subscriber_id) FROM STDIN") as copy:
            for start in range(0, len(ids), 50_000):
                chunk = ids[start : start + 50_000]
                copy.write("".join(f"{int(sid)}\n" for sid in chunk))
        cur.execute(
            f"INSERT INTO deliveries ({_ENQUEUE_COLUMNS})"
            " SELECT %s, subscriber_id, 'queued', 0, %s, %s FROM syndicate_enqueue"
            " ORDER BY subscriber_id ON CONFLICT (edition_id, subscriber_id) DO NOTHING",
            (edition_id, at, at),
        )
        return int(cur.rowcount)


def _due(now: datetime) -> ColumnElement[bool]:
    """Rows a sender may take now: queued or deferred, due, and not reserved for a task
    (or its reservation ended); or left ``sending`` by a sender whose lease ended."""
    free = or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now)
    return or_(
        and_(deliveries.c.status.in_(DUE), deliveries.c.next_attempt_at <= now, free),
        and_(deliveries.c.status == "sending", deliveries.c.lease_until < now),
    )
