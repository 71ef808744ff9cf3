"""Task-shaped queries over subscribers, their subscriptions and the suppression list."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, delete, func, insert, select, update

from syndicate.models import Subscriber, Subscription
from syndicate.store.consents import ConsentRecord, erased_in, record_in
from syndicate.store.core import Store
from syndicate.store.delivery_schema import subscribers, subscriptions, suppressions

UpsertOutcome = Literal["added", "updated", "unchanged", "suppressed", "refused"]
# Statuses a bulk import or an admin "add" must never undo: the person opted out, or
# the address bounced or complained (STANDARDS SU-2: never re-add a complainer).
STICKY = frozenset({"unsubscribed", "bounced", "complained"})


class SubscriberStore:
    """Subscribers, subscriptions and suppressions in ``store``."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    # --- writes ------------------------------------------------------------------------

    def upsert(
        self,
        email: str,
        *,
        name: str,
        status: str,
        timezone: str,
        subs: Sequence[Subscription],
        now: datetime,
        consent: dict[str, Any] | None = None,
        records: Sequence[ConsentRecord] = (),
    ) -> UpsertOutcome:
        """Add a subscriber, or update an existing one's name, timezone, pending status
        and the given subscriptions (other subscriptions are kept). Suppressed (or
        erased) addresses and subscribers who opted out or bounced are left alone.
        ``records`` (consent records) are kept when the subscriber is added or updated."""
        with self.engine.begin() as conn:
            return upsert_in(
                conn,
                email,
                name=name,
                status=status,
                timezone=timezone,
                subs=subs,
                now=now,
                consent=consent,
                records=records,
            )

    def remove(self, email: str) -> bool:
        """Delete a subscriber and everything about them; True if there was one."""
        with self.engine.begin() as conn:
            done = conn.execute(delete(subscribers).where(subscribers.c.email == email))
            return bool(done.rowcount)

    def unsubscribe(self, subscriber_id: int, channel: str, *, source: str, now: datetime) -> bool:
        """End ``channel``'s subscription at once; idempotent. When it was the last one,
        the subscriber becomes ``unsubscribed`` and the address is suppressed (SU-1).
        Returns True if a subscription was ended by this call."""
        with self.engine.begin() as conn:
            ended = conn.execute(
                delete(subscriptions).where(
                    subscriptions.c.subscriber_id == subscriber_id,
                    subscriptions.c.channel == channel,
                )
            ).rowcount
            left = conn.execute(
                select(func.count()).where(subscriptions.c.subscriber_id == subscriber_id)
            ).scalar_one()
            email = conn.execute(
                select(subscribers.c.email).where(subscribers.c.id == subscriber_id)
            ).scalar_one_or_none()
        if email is not None and not left:
            self.suppress(email, "unsubscribed", source=source, detail=channel, now=now)
        return bool(ended)

    def suppress(self, email: str, reason: str, *, source: str, detail: str, now: datetime) -> bool:
        """Put ``email`` on the suppression list and mark the subscriber; idempotent.

        ``reason`` is ``unsubscribed``, ``bounced`` or ``complained``. Returns True if
        the address was not suppressed before.
        """
        with self.engine.begin() as conn:
            return suppress_in(conn, email, reason, source=source, detail=detail, now=now)

    # --- reads -------------------------------------------------------------------------

    def is_suppressed(self, email: str) -> bool:
        """True if ``email`` is on the suppression list."""
        with self.engine.connect() as conn:
            return _suppressed(conn, email)

    def get(self, email: str) -> Subscriber | None:
        """One subscriber by normalised email."""
        with self.engine.connect() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.email == email)).first()
            return None if row is None else _subscriber(conn, row)

    def get_by_id(self, subscriber_id: int) -> Subscriber | None:
        """One subscriber by id."""
        with self.engine.connect() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
            return None if row is None else _subscriber(conn, row)

    def iter_all(self, *, status: str | None = None, batch: int = 1000) -> Iterator[Subscriber]:
        """Every subscriber (optionally of one status), by id, in constant memory."""
        last = 0
        while True:
            query = select(subscribers).where(subscribers.c.id > last)
            if status is not None:
                query = query.where(subscribers.c.status == status)
            with self.engine.connect() as conn:
                rows = conn.execute(query.order_by(subscribers.c.id).limit(batch)).all()
                subs = _subscriptions_of(conn, [r.id for r in rows])
            for row in rows:
                yield _build(row, subs.get(row.id, ()))
            if len(rows) < batch:
                return
            last = rows[-1].id

    def channel_audience(
        self, channel: str, batch: int = 5000
    ) -> Iterator[tuple[int, Subscription]]:
        """Active, unsuppressed subscribers of ``channel`` with their subscription, by id."""
        last = 0
        while True:
            query = (
                select(subscribers.c.id, subscriptions.c.cadence, subscriptions.c.sections)
                .join(subscriptions, subscriptions.c.subscriber_id == subscribers.c.id)
                .outerjoin(suppressions, suppressions.c.email == subscribers.c.email)
                .where(
                    subscriptions.c.channel == channel,
                    subscribers.c.status == "active",
                    suppressions.c.email.is_(None),
                    subscribers.c.id > last,
                )
                .order_by(subscribers.c.id)
                .limit(batch)
            )
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            for row in rows:
                yield row.id, Subscription(channel, row.cadence, tuple(row.sections))
            if len(rows) < batch:
                return
            last = rows[-1].id

    def counts(self) -> dict[str, int]:
        """Number of subscribers per status."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
            ).all()
        return {status: int(n) for status, n in rows}


def upsert_in(
    conn: Connection,
    email: str,
    *,
    name: str,
    status: str,
    timezone: str,
    subs: Sequence[Subscription],
    now: datetime,
    consent: dict[str, Any] | None = None,
    records: Sequence[ConsentRecord] = (),
) -> UpsertOutcome:
    """:meth:`SubscriberStore.upsert` inside the caller's transaction (an import runs
    all its rows in one, so that a dry run can roll every change back)."""
    if _suppressed(conn, email):
        return "suppressed"
    row = conn.execute(select(subscribers).where(subscribers.c.email == email)).first()
    if row is None:
        sid = conn.execute(
            insert(subscribers)
            .returning(subscribers.c.id)
            .values(
                email=email,
                name=name,
                status=status,
                timezone=timezone,
                consent=consent or {},
                created_at=now,
                updated_at=now,
                confirmed_at=now if status == "active" else None,
            )
        ).scalar_one()
        _replace_subscriptions(conn, sid, subs, now)
        for record in records:
            record_in(conn, sid, record)
        return "added"
    if row.status in STICKY:
        return "refused"
    changed = _update_subscriber(conn, row, name, timezone, status, now)
    changed |= _replace_subscriptions(conn, row.id, subs, now)
    if changed:
        for record in records:
            record_in(conn, row.id, record)
    return "updated" if changed else "unchanged"


def suppress_in(
    conn: Connection, email: str, reason: str, *, source: str, detail: str, now: datetime
) -> bool:
    """:meth:`SubscriberStore.suppress` inside the caller's transaction, so that a caller
    can suppress and record why in one commit (a webhook event and its effect)."""
    new = not _suppressed(conn, email)
    if new:
        conn.execute(
            insert(suppressions).values(
                email=email, reason=reason, source=source, detail=detail, created_at=now
            )
        )
    values: dict[str, Any] = {"status": reason, "updated_at": now}
    if reason == "unsubscribed":
        values["unsubscribed_at"] = now
    conn.execute(
        update(subscribers)
        .where(subscribers.c.email == email, subscribers.c.status != reason)
        .values(values)
    )
    return new


def _suppressed(conn: Connection, email: str) -> bool:
    found = conn.execute(select(suppressions.c.email).where(suppressions.c.email == email))
    # An erased address is gone from the list; only its hash says "never again".
    return found.first() is not None or erased_in(conn, email)


def _update_subscriber(
    conn: Connection, row: Any, name: str, timezone: str, status: str, now: datetime
) -> bool:
    values: dict[str, Any] = {}
    if name and name != row.name:
        values["name"] = name
    if timezone != row.timezone:
        values["timezone"] = timezone
    if status == "active" and row.status == "pending":
        values.update(status="active", confirmed_at=now)
    if not values:
        return False
    values["updated_at"] = now
    conn.execute(update(subscribers).where(subscribers.c.id == row.id).values(values))
    return True


def _replace_subscriptions(
    conn: Connection, subscriber_id: int, subs: Sequence[Subscription], now: datetime
) -> bool:
    current = {
        r.channel: Subscription(r.channel, r.cadence, tuple(r.sections))
        for r in conn.execute(
            select(subscriptions).where(subscriptions.c.subscriber_id == subscriber_id)
        )
    }
    wanted = {s.channel: s for s in subs}
    changed = False
    for channel, sub in wanted.items():
        if current.get(channel) == sub:
            continue
        changed = True
        conn.execute(
            delete(subscriptions).where(
                subscriptions.c.subscriber_id == subscriber_id, subscriptions.c.channel == channel
            )
        )
        conn.execute(
            insert(subscriptions).values(
                subscriber_id=subscriber_id,
                channel=channel,
                cadence=sub.cadence,
                sections=list(sub.sections),
                created_at=now,
            )
        )
    return changed


def _subscriptions_of(conn: Connection, ids: list[int]) -> dict[int, tuple[Subscription, ...]]:
    out: dict[int, list[Subscription]] = {}
    if not ids:
        return {}
    query = (
        select(subscriptions)
        .where(subscriptions.c.subscriber_id.in_(ids))
        .order_by(subscriptions.c.subscriber_id, subscriptions.c.channel)
    )
    for r in conn.execute(query):
        out.setdefault(r.subscriber_id, []).append(
            Subscription(r.channel, r.cadence, tuple(r.sections))
        )
    return {k: tuple(v) for k, v in out.items()}


def _subscriber(conn: Connection, row: Any) -> Subscriber:
    return _build(row, _subscriptions_of(conn, [row.id]).get(row.id, ()))


def _build(row: Any, subs: tuple[Subscription, ...]) -> Subscriber:
    return Subscriber(
        id=row.id,
        email=row.email,
        name=row.name,
        status=row.status,
        timezone=row.timezone,
        subscriptions=subs,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        unsubscribed_at=row.unsubscribed_at,
    )
