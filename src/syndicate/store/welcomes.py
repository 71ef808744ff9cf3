"""Welcome editions in the store: the latest edition to welcome with, and the
exactly-once enqueue of a welcome.

A welcome is an edition (``editions`` row) of its own cadence — :data:`WELCOME` for a
copy of the channel's latest edition, :data:`START_HERE` for a "start here" selection —
sent to one subscriber through the outbox like any edition. Its key is the
``welcomes`` row (subscriber, channel): :func:`enqueue_welcome` writes that row and the
delivery in one transaction, so a double confirmation, a retried request or a later
re-subscription never sends a second welcome, and the dispatcher's lease bounds any
repeat of the one delivery exactly as for a scheduled edition (``store/outbox.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from syndicate.store.consent_schema import consent_records
from syndicate.store.core import Store
from syndicate.store.delivery_schema import deliveries, subscriptions
from syndicate.store.editions import FROZEN, OWN, EditionRecord, get_edition_by_id
from syndicate.store.schema import editions
from syndicate.store.welcome_schema import welcomes

WELCOME = "welcome"  # the cadence of a welcome that copies the latest edition
START_HERE = "start_here"  # the cadence of a "start here" welcome
WELCOME_CADENCES = (WELCOME, START_HERE)


def latest_edition(store: Store, channel: str, before: datetime) -> EditionRecord | None:
    """The channel's most recent own edition (not a round-up, not a welcome) with a slot
    at or before ``before`` that was released to be sent (not a draft, a held, a missed
    or a cancelled one), or ``None`` when it has none yet."""
    query = (
        select(editions.c.id)
        .where(editions.c.channel == channel, editions.c.cadence == OWN)
        .where(editions.c.status.in_(FROZEN))
        .where(editions.c.slot <= before)
        .order_by(editions.c.slot.desc())
        .limit(1)
    )
    with store.engine.connect() as conn:
        found = conn.execute(query).scalar_one_or_none()
    return get_edition_by_id(store, int(found)) if found is not None else None


def welcomed(store: Store, subscriber_id: int, channel: str) -> bool:
    """True once a welcome to ``channel`` was enqueued for the subscriber."""
    query = select(func.count()).where(
        welcomes.c.subscriber_id == subscriber_id, welcomes.c.channel == channel
    )
    with store.engine.connect() as conn:
        return bool(conn.execute(query).scalar_one())


def unwelcomed(store: Store, since: datetime) -> list[tuple[int, str]]:
    """(subscriber, channel) pairs confirmed through the sign-up form at or after
    ``since`` that are still subscribed and were never welcomed: the welcomes a crash
    between a confirmation's commit and its welcome's enqueue left out."""
    query = (
        select(consent_records.c.subscriber_id, consent_records.c.channel)
        .distinct()
        .join(
            subscriptions,
            (subscriptions.c.subscriber_id == consent_records.c.subscriber_id)
            & (subscriptions.c.channel == consent_records.c.channel),
        )
        .outerjoin(
            welcomes,
            (welcomes.c.subscriber_id == consent_records.c.subscriber_id)
            & (welcomes.c.channel == consent_records.c.channel),
        )
        .where(consent_records.c.method == "form", consent_records.c.recorded_at >= since)
        .where(welcomes.c.subscriber_id.is_(None))
        .order_by(consent_records.c.subscriber_id, consent_records.c.channel)
    )
    with store.engine.connect() as conn:
        return [(int(s), str(c)) for s, c in conn.execute(query)]


def enqueue_welcome(
    store: Store, subscriber_id: int, channel: str, edition_id: int, now: datetime
) -> int | None:
    """Queue the welcome edition ``edition_id`` for the subscriber, exactly once per
    (subscriber, channel); returns the new delivery's id, or ``None`` when the subscriber
    was welcomed to the channel before (nothing is written then).

    The ``welcomes`` row is inserted first, and only the transaction that inserted it
    creates the delivery: of two concurrent calls one inserts and the other waits for
    it on the primary key (or, on SQLite, for the write lock) and then finds the row.
    """
    with store.engine.begin() as conn:
        insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert
        added = conn.execute(
            insert(welcomes)
            .values(
                subscriber_id=subscriber_id, channel=channel, edition_id=edition_id, created_at=now
            )
            .on_conflict_do_nothing(index_elements=["subscriber_id", "channel"])
        ).rowcount
        if not added:
            return None
        delivery_id = _add_delivery(conn, edition_id, subscriber_id, now)
        conn.execute(
            update(welcomes)
            .where(welcomes.c.subscriber_id == subscriber_id, welcomes.c.channel == channel)
            .values(delivery_id=delivery_id)
        )
        return delivery_id


def _add_delivery(conn: Connection, edition_id: int, subscriber_id: int, now: datetime) -> int:
    """The (edition, subscriber) delivery, queued now; an existing one is kept."""
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert
    conn.execute(
        insert(deliveries)
        .values(
            edition_id=edition_id,
            subscriber_id=subscriber_id,
            status="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["edition_id", "subscriber_id"])
    )
    found = conn.execute(
        select(deliveries.c.id).where(
            deliveries.c.edition_id == edition_id, deliveries.c.subscriber_id == subscriber_id
        )
    ).scalar_one()
    return int(found)
