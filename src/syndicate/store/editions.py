"""Task-shaped queries over digest editions: one row per (channel, cadence, slot).

``cadence`` is ``edition`` for the channel's own schedule, or ``daily``/``weekly`` for
the round-ups composed for subscribers who chose that cadence.

Kept beside :class:`~syndicate.store.core.Store` rather than in it: each function takes
the store and uses its engine, one connection per call, like the store's own methods.

Statuses: ``ready`` (composed and rendered, no review asked for). Under a hold window
(``[digest] review``, ``draft_hours``; :mod:`syndicate.digest.review`) an edition starts
as ``draft``, may be ``held``, and leaves review ``approved`` (frozen: only then are its
deliveries enqueued), ``missed`` (never approved in time) or ``cancelled``. A row is
only ever written once rendering has succeeded, so a bad template never leaves an
edition behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from syndicate.errors import StoreError
from syndicate.models import Article
from syndicate.store.core import Store
from syndicate.store.schema import editions, new_message_salt

READY = "ready"
DRAFT = "draft"
HELD = "held"
APPROVED = "approved"
MISSED = "missed"
CANCELLED = "cancelled"
UNDER_REVIEW = (DRAFT, HELD)
"""Statuses whose content editors may still change and which nothing sends."""
NEVER_SENT = (MISSED, CANCELLED)
"""Statuses of editions that ended without being sent."""
FROZEN = (READY, APPROVED)
"""Statuses from which deliveries may be enqueued."""
OWN = "edition"  # the cadence of a channel's own editions (not a round-up)


@dataclass(frozen=True, slots=True)
class EditionRecord:
    """A stored edition: ordered article ids, related ids, and the compiled parts.

    ``html`` and ``text`` still hold the per-recipient placeholders (see
    :mod:`syndicate.digest.personalise`); ``id`` is what deliveries reference.
    ``message_salt`` is random, made once when the edition is saved, and goes into every
    Message-ID of its messages (the same on a resend, never the same in another store).
    """

    id: int
    channel: str
    slot: datetime
    article_ids: tuple[str, ...]
    related_ids: tuple[str, ...]
    subject: str
    preheader: str
    html: str
    text: str
    status: str
    created_at: datetime
    cadence: str = OWN
    message_salt: str = ""


@dataclass(frozen=True, slots=True)
class NewEdition:
    """What :func:`save_edition` writes; the store assigns the id."""

    channel: str
    slot: datetime
    article_ids: tuple[str, ...]
    related_ids: tuple[str, ...]
    subject: str
    preheader: str
    html: str
    text: str
    created_at: datetime
    status: str = READY
    cadence: str = OWN
    message_salt: str = field(default_factory=new_message_salt)


def save_edition(store: Store, new: NewEdition) -> tuple[EditionRecord, bool]:
    """Insert ``new`` unless its (channel, cadence, slot) exists; return the stored row and whether
    this call created it.

    Uniqueness is the database's (constraint ``uq_editions_channel_cadence_slot``), so two
    composers racing for the same slot end with one row and both get it back.
    """
    values = {
        "channel": new.channel,
        "slot": new.slot,
        "article_ids": list(new.article_ids),
        "related_ids": list(new.related_ids),
        "subject": new.subject,
        "preheader": new.preheader,
        "html": new.html,
        "text": new.text,
        "status": new.status,
        "created_at": new.created_at,
        "cadence": new.cadence,
        "message_salt": new.message_salt,
    }
    try:
        with store.engine.begin() as conn:
            conn.execute(insert(editions).values(values))
        created = True
    except IntegrityError:
        created = False  # the slot was taken: the existing edition wins
    except SQLAlchemyError as err:
        raise StoreError(f"saving edition {new.channel}@{new.slot.isoformat()}: {err}") from err
    stored = get_edition(store, new.channel, new.slot, new.cadence)
    if stored is None:  # pragma: no cover - only if the row vanished in between
        raise StoreError(f"edition {new.channel}@{new.slot.isoformat()} not found after save")
    return stored, created


def get_edition(
    store: Store, channel: str, slot: datetime, cadence: str = OWN
) -> EditionRecord | None:
    """The edition of ``channel`` (at ``cadence``) for ``slot``, or ``None``."""
    query = select(editions).where(
        editions.c.channel == channel, editions.c.cadence == cadence, editions.c.slot == slot
    )
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    return _record(row) if row is not None else None


def get_edition_by_id(store: Store, edition_id: int) -> EditionRecord | None:
    """One edition by id, or ``None``."""
    with store.engine.connect() as conn:
        row = conn.execute(select(editions).where(editions.c.id == edition_id)).first()
    return _record(row) if row is not None else None


def recent_editions(
    store: Store, channel: str, *, before: datetime, limit: int, cadence: str = OWN
) -> list[EditionRecord]:
    """The channel's last ``limit`` editions (at ``cadence``) whose slot is before
    ``before``, newest first."""
    if limit <= 0:
        return []
    query = (
        select(editions)
        .where(
            editions.c.channel == channel, editions.c.cadence == cadence, editions.c.slot < before
        )
        .order_by(editions.c.slot.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [_record(row) for row in conn.execute(query)]


def previous_edition(
    store: Store, channel: str, before: datetime, cadence: str = OWN
) -> EditionRecord | None:
    """The channel's newest edition (at ``cadence``) with a slot before ``before``."""
    found = recent_editions(store, channel, before=before, limit=1, cadence=cadence)
    return found[0] if found else None


def list_editions(store: Store, channel: str | None = None) -> list[EditionRecord]:
    """Every edition (of ``channel`` when given), newest slot first."""
    query = select(editions).order_by(editions.c.slot.desc(), editions.c.channel)
    if channel is not None:
        query = query.where(editions.c.channel == channel)
    with store.engine.connect() as conn:
        return [_record(row) for row in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class EditionListing:
    """An edition without its rendered parts: what a listing shows."""

    id: int
    channel: str
    cadence: str
    slot: datetime
    status: str
    subject: str
    stories: int
    related: int
    created_at: datetime


def edition_listings(
    store: Store, channel: str | None = None, limit: int | None = None
) -> list[EditionListing]:
    """Editions (of ``channel`` when given), newest slot first, without loading their
    HTML and text."""
    c = editions.c
    query = select(
        c.id,
        c.channel,
        c.cadence,
        c.slot,
        c.status,
        c.subject,
        c.article_ids,
        c.related_ids,
        c.created_at,
    ).order_by(c.slot.desc(), c.channel, c.cadence)
    if channel is not None:
        query = query.where(c.channel == channel)
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as conn:
        return [
            EditionListing(
                id=int(row.id),
                channel=row.channel,
                cadence=row.cadence,
                slot=row.slot,
                status=row.status,
                subject=row.subject,
                stories=len(row.article_ids),
                related=len(row.related_ids),
                created_at=row.created_at,
            )
            for row in conn.execute(query)
        ]


def set_edition_status(store: Store, edition_id: int, status: str) -> None:
    """Move an edition to ``status``."""
    with store.engine.begin() as conn:
        conn.execute(update(editions).where(editions.c.id == edition_id).values(status=status))


def move_edition(store: Store, edition_id: int, from_: Sequence[str], to: str) -> bool:
    """Move an edition to ``to`` if its status is one of ``from_``; whether it moved.

    A compare-and-set in one statement, so an approval racing an edit, a hold or the
    scheduler's "missed" sweep has exactly one winner.
    """
    with store.engine.begin() as conn:
        moved = conn.execute(
            update(editions)
            .where(editions.c.id == edition_id, editions.c.status.in_(list(from_)))
            .values(status=to)
        )
    return bool(moved.rowcount)


def revise_edition(
    store: Store,
    edition_id: int,
    *,
    article_ids: Sequence[str],
    related_ids: Sequence[str],
    subject: str,
    preheader: str,
    html: str,
    text: str,
) -> bool:
    """Replace an edition's content while it is under review; whether it was (an
    approved, missed or cancelled edition is never changed)."""
    with store.engine.begin() as conn:
        changed = conn.execute(
            update(editions)
            .where(editions.c.id == edition_id, editions.c.status.in_(UNDER_REVIEW))
            .values(
                article_ids=list(article_ids),
                related_ids=list(related_ids),
                subject=subject,
                preheader=preheader,
                html=html,
                text=text,
            )
        )
    return bool(changed.rowcount)


def editions_in(
    store: Store, statuses: Sequence[str], *, slot_before: datetime | None = None
) -> list[EditionRecord]:
    """Editions whose status is one of ``statuses`` (slot before ``slot_before`` when
    given), oldest slot first."""
    query = select(editions).where(editions.c.status.in_(list(statuses)))
    if slot_before is not None:
        query = query.where(editions.c.slot < slot_before)
    with store.engine.connect() as conn:
        return [_record(row) for row in conn.execute(query.order_by(editions.c.slot))]


def articles_by_ids(store: Store, ids: Sequence[str]) -> list[Article]:
    """The articles with these ids, in the order given; ids no longer stored are skipped."""
    return store.get_articles(ids)


def _record(row: Row[Any]) -> EditionRecord:
    return EditionRecord(
        id=int(row.id),
        channel=row.channel,
        slot=row.slot,
        article_ids=tuple(row.article_ids),
        related_ids=tuple(row.related_ids),
        subject=row.subject,
        preheader=row.preheader,
        html=row.html,
        text=row.text,
        status=row.status,
        created_at=row.created_at,
        cadence=row.cadence,
        message_salt=row.message_salt,
    )
