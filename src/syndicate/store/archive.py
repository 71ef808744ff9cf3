"""Read-only queries the public archive of editions asks (``/archive/``).

Listings select only what an index shows (slot, subject, dates), never the stored HTML.
Pages are cut by slot (keyset), not by offset: a new edition does not shift every older
page, so an "older" page keeps its address and its content, and caches stay valid.

A channel's own editions and each of its round-ups (``cadence`` ``daily``/``weekly``)
are separate series here: every query takes the cadence, so a round-up composed in the
same minute as an own edition is never mistaken for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, select

from syndicate.store.core import Store
from syndicate.store.editions import OWN, EditionRecord, get_edition
from syndicate.store.schema import editions
from syndicate.store.welcomes import WELCOME_CADENCES


@dataclass(frozen=True, slots=True)
class ArchivedChannel:
    """A series with stored editions (a channel's own, or one of its round-ups): how
    many, the newest slot, the last write."""

    channel: str
    cadence: str
    editions: int
    latest: datetime
    updated: datetime


@dataclass(frozen=True, slots=True)
class EditionSummary:
    """An edition as an index lists it."""

    id: int
    channel: str
    cadence: str
    slot: datetime
    subject: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EditionPage:
    """One page of a channel's editions, newest first.

    ``older`` / ``newer`` are set when there are editions beyond this page that way: the
    next older page is the editions before ``older``, the next newer one those after
    ``newer``.
    """

    editions: tuple[EditionSummary, ...]
    older: datetime | None
    newer: datetime | None


def archived_channels(store: Store) -> list[ArchivedChannel]:
    """Every series with at least one edition, by channel then cadence."""
    query = (
        select(
            editions.c.channel,
            editions.c.cadence,
            func.count().label("n"),
            func.max(editions.c.slot).label("latest"),
            func.max(editions.c.created_at).label("updated"),
        )
        .where(editions.c.cadence.not_in(WELCOME_CADENCES))  # sent to one reader each
        .group_by(editions.c.channel, editions.c.cadence)
        .order_by(editions.c.channel, editions.c.cadence)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    # max() keeps its argument's type, so the dates come back UTC-aware on both backends.
    return [
        ArchivedChannel(row.channel, row.cadence, int(row.n), row.latest, row.updated)
        for row in rows
    ]


def edition_page(
    store: Store,
    channel: str,
    *,
    limit: int,
    cadence: str = OWN,
    before: datetime | None = None,
    after: datetime | None = None,
) -> EditionPage:
    """Up to ``limit`` editions of ``channel`` at ``cadence``, newest first: the newest
    ones, or those with a slot before ``before``, or the ones just after ``after`` (give
    at most one)."""
    if before is not None and after is not None:
        raise ValueError("give before or after, not both")
    columns = (
        editions.c.id,
        editions.c.channel,
        editions.c.cadence,
        editions.c.slot,
        editions.c.subject,
        editions.c.created_at,
    )
    series = (editions.c.channel == channel, editions.c.cadence == cadence)
    query = select(*columns).where(*series).limit(max(limit, 0))
    if after is not None:
        query = query.where(editions.c.slot > after).order_by(editions.c.slot.asc())
    else:
        if before is not None:
            query = query.where(editions.c.slot < before)
        query = query.order_by(editions.c.slot.desc())
    with store.engine.connect() as conn:
        found = [_summary(row) for row in conn.execute(query)]
        if after is not None:
            found.reverse()
        if not found:
            return EditionPage((), None, None)
        newest, oldest = found[0].slot, found[-1].slot
        beyond = select(editions.c.id).where(*series).limit(1)
        has_older = conn.execute(beyond.where(editions.c.slot < oldest)).first() is not None
        has_newer = conn.execute(beyond.where(editions.c.slot > newest)).first() is not None
    return EditionPage(tuple(found), oldest if has_older else None, newest if has_newer else None)


def edition_in_minute(
    store: Store, channel: str, minute: datetime, cadence: str = OWN
) -> EditionRecord | None:
    """The edition of ``channel`` at ``cadence`` whose slot falls in the minute starting
    at ``minute``.

    Archive URLs name slots to the minute; slots are whole minutes (cron fire times, or
    ``on_new`` compositions truncated to the minute), so there is at most one.
    Welcome editions are not archived (they copy or select archived stories).
    """
    if cadence in WELCOME_CADENCES:
        return None
    exact = get_edition(store, channel, minute, cadence)
    if exact is not None:
        return exact
    query = (
        select(editions.c.slot)
        .where(
            editions.c.channel == channel,
            editions.c.cadence == cadence,
            editions.c.slot >= minute,
            editions.c.slot < minute + timedelta(minutes=1),
        )
        .order_by(editions.c.slot)
        .limit(1)
    )
    with store.engine.connect() as conn:
        slot = conn.execute(query).scalar_one_or_none()
    return get_edition(store, channel, slot, cadence) if slot is not None else None


def _summary(row: Row[Any, Any, Any, Any, Any, Any]) -> EditionSummary:
    return EditionSummary(
        id=int(row.id),
        channel=row.channel,
        cadence=row.cadence,
        slot=row.slot,
        subject=row.subject,
        created_at=row.created_at,
    )
