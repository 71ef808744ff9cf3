"""What the console reads from the outbox and changes in it, beside the pipeline's own
queries: one recipient's delivery, an edition's counts and send rate, recent failures,
retrying an edition's failed deliveries, and pausing a channel by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from syndicate.store.core import Store
from syndicate.store.delivery_schema import channel_pauses, deliveries, subscribers, suppressions
from syndicate.store.schema import UTCDateTime, articles, editions


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One recipient's delivery of an edition, as the console shows it."""

    email: str
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    provider_message_id: str | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Progress:
    """An edition's deliveries by status, and the pace of the last sends."""

    counts: dict[str, int]
    first_sent_at: datetime | None
    last_sent_at: datetime | None

    @property
    def total(self) -> int:
        """Every delivery of the edition."""
        return sum(self.counts.values())

    @property
    def waiting(self) -> int:
        """Deliveries not yet finished (queued, sending or deferred)."""
        return sum(self.counts.get(s, 0) for s in ("queued", "sending", "deferred"))

    def rate(self) -> float | None:
        """Messages sent per second so far, or ``None`` before two sends."""
        sent = self.counts.get("sent", 0)
        if sent < 2 or self.first_sent_at is None or self.last_sent_at is None:
            return None
        span = (self.last_sent_at - self.first_sent_at).total_seconds()
        return sent / span if span > 0 else None

    def seconds_left(self) -> float | None:
        """At the rate so far, how long the rest will take (``None``: unknown)."""
        rate = self.rate()
        return self.waiting / rate if rate and self.waiting else None


@dataclass(frozen=True, slots=True)
class Failure:
    """A delivery that failed: whose, of which edition, why."""

    edition_id: int
    channel: str
    email: str
    last_error: str
    at: datetime


def delivery_of(store: Store, edition_id: int, email: str) -> DeliveryRow | None:
    """The delivery of ``edition_id`` to ``email`` (case-insensitive), or ``None``."""
    d = deliveries.c
    query = (
        select(
            subscribers.c.email,
            d.status,
            d.attempts,
            d.next_attempt_at,
            d.sent_at,
            d.provider_message_id,
            d.last_error,
        )
        .join(subscribers, subscribers.c.id == d.subscriber_id)
        .where(d.edition_id == edition_id, subscribers.c.email == email.strip().lower())
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return DeliveryRow(*row) if row is not None else None


def progress(store: Store, edition_id: int) -> Progress:
    """The edition's deliveries by status and its first and last send."""
    d = deliveries.c
    with store.engine.connect() as conn:
        counts = {
            status: int(n)
            for status, n in conn.execute(
                select(d.status, func.count()).where(d.edition_id == edition_id).group_by(d.status)
            )
        }
        first, last = conn.execute(
            select(func.min(d.sent_at), func.max(d.sent_at)).where(d.edition_id == edition_id)
        ).one()
    return Progress(counts, first, last)


def recent_failures(store: Store, limit: int = 10) -> list[Failure]:
    """The latest failed deliveries, newest first."""
    d = deliveries.c
    query = (
        select(
            d.edition_id, editions.c.channel, subscribers.c.email, d.last_error, d.next_attempt_at
        )
        .join(subscribers, subscribers.c.id == d.subscriber_id)
        .join(editions, editions.c.id == d.edition_id)
        .where(d.status == "failed")
        .order_by(d.next_attempt_at.desc(), d.id.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [
            Failure(r.edition_id, r.channel, r.email, r.last_error or "", r.next_attempt_at)
            for r in conn.execute(query)
        ]


def retry_failed(store: Store, edition_id: int, now: datetime) -> int:
    """Queue an edition's failed deliveries again, due now; how many. Dispatch re-checks
    suppression before sending, so an address suppressed since is not mailed."""
    with store.engine.begin() as conn:
        done = conn.execute(
            update(deliveries)
            .where(deliveries.c.edition_id == edition_id, deliveries.c.status == "failed")
            .values(status="queued", next_attempt_at=now, lease_until=None, lease_owner=None)
        )
    return int(done.rowcount)


def pause_channel(store: Store, channel: str, reason: str, now: datetime) -> bool:
    """Pause a channel's sending by hand; False if it was paused already."""
    with store.engine.begin() as conn:
        insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert
        conn.execute(
            insert(channel_pauses)
            .values(channel=channel, policy_failures=0)
            .on_conflict_do_nothing(index_elements=["channel"])
        )
        done = conn.execute(
            update(channel_pauses)
            .where(channel_pauses.c.channel == channel, channel_pauses.c.paused_at.is_(None))
            .values(paused_at=now, reason=reason)
        )
    return bool(done.rowcount)


def suppression_of(store: Store, email: str) -> dict[str, str] | None:
    """The suppression of ``email`` (reason, source, detail), or ``None``."""
    query = select(suppressions).where(suppressions.c.email == email.strip().lower())
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return {"reason": row.reason, "source": row.source, "detail": row.detail}


def unsuppress(store: Store, email: str, now: datetime) -> bool:
    """Take ``email`` off the suppression list; False if it was not on it. A subscriber
    stopped by a bounce or complaint is active again; one who unsubscribed stays
    unsubscribed (only they can undo that, by subscribing again)."""
    email = email.strip().lower()
    with store.engine.begin() as conn:
        done = conn.execute(delete(suppressions).where(suppressions.c.email == email))
        conn.execute(
            update(subscribers)
            .where(
                subscribers.c.email == email, subscribers.c.status.in_(("bounced", "complained"))
            )
            .values(status="active", updated_at=now)
        )
    return bool(done.rowcount)


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    """A subscriber as the console's search lists them, with their consent record."""

    id: int
    email: str
    name: str
    status: str
    created_at: datetime
    confirmed_at: datetime | None
    consent: dict[str, object]


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One delivery in a subscriber's history."""

    edition_id: int
    channel: str
    subject: str
    status: str
    attempts: int
    sent_at: datetime | None
    last_error: str | None


def search_subscribers(
    store: Store, text: str = "", status: str = "", limit: int = 50
) -> list[SubscriberRow]:
    """Subscribers whose address or name contains ``text`` (case-insensitive), of
    ``status`` when given, by address; at most ``limit``."""
    s = subscribers.c
    query = select(
        s.id, s.email, s.name, s.status, s.created_at, s.confirmed_at, s.consent
    ).order_by(s.email)
    if text.strip():
        pattern = (
            "%"
            + text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            + "%"
        )
        query = query.where(
            or_(s.email.like(pattern, escape="\\"), func.lower(s.name).like(pattern, escape="\\"))
        )
    if status:
        query = query.where(s.status == status)
    with store.engine.connect() as conn:
        return [
            SubscriberRow(
                r.id, r.email, r.name, r.status, r.created_at, r.confirmed_at, r.consent or {}
            )
            for r in conn.execute(query.limit(limit))
        ]


def delivery_history(store: Store, subscriber_id: int, limit: int = 20) -> list[HistoryRow]:
    """A subscriber's latest deliveries, newest edition first."""
    d = deliveries.c
    query = (
        select(
            d.edition_id,
            editions.c.channel,
            editions.c.subject,
            d.status,
            d.attempts,
            d.sent_at,
            d.last_error,
        )
        .join(editions, editions.c.id == d.edition_id)
        .where(d.subscriber_id == subscriber_id)
        .order_by(d.edition_id.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [HistoryRow(*r) for r in conn.execute(query)]


def newest_by_source(store: Store) -> dict[str, datetime]:
    """When each source last brought a new article ("nothing new since")."""
    c = articles.c
    # max() loses the column's type on SQLite: read it back as a UTC datetime.
    newest = func.max(c.first_seen_at, type_=UTCDateTime)
    query = select(c.source, newest).group_by(c.source)
    with store.engine.connect() as conn:
        return {source: at for source, at in conn.execute(query) if at is not None}
