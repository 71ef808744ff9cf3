"""Editions' review records: when editors were told of a draft, who decided, and why.

The edition's state itself is its ``status`` (:mod:`syndicate.store.editions`); this
table holds what the console and the scheduler need besides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from syndicate.store.console_schema import edition_reviews
from syndicate.store.core import Store


@dataclass(frozen=True, slots=True)
class Review:
    """What is known about an edition's review."""

    edition_id: int
    notified_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str = ""


def _ensure(store: Store, edition_id: int) -> None:
    try:
        with store.engine.begin() as conn:
            conn.execute(insert(edition_reviews).values(edition_id=edition_id, reason=""))
    except IntegrityError:
        pass  # there is one already


def review_of(store: Store, edition_id: int) -> Review:
    """The review record of an edition (an empty one if none was written)."""
    query = select(edition_reviews).where(edition_reviews.c.edition_id == edition_id)
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return Review(edition_id)
    return Review(edition_id, row.notified_at, row.decided_by, row.decided_at, row.reason)


def claim_notice(store: Store, edition_id: int, now: datetime) -> bool:
    """Claim the one notice of a draft: True for exactly one caller, ever, per edition
    (a second scheduler pass, or a second scheduler, gets False)."""
    _ensure(store, edition_id)
    with store.engine.begin() as conn:
        claimed = conn.execute(
            update(edition_reviews)
            .where(
                edition_reviews.c.edition_id == edition_id,
                edition_reviews.c.notified_at.is_(None),
            )
            .values(notified_at=now)
        )
    return bool(claimed.rowcount)


def record_decision(
    store: Store, edition_id: int, actor: str, now: datetime, reason: str = ""
) -> None:
    """Note who moved the edition last, when and why."""
    _ensure(store, edition_id)
    with store.engine.begin() as conn:
        conn.execute(
            update(edition_reviews)
            .where(edition_reviews.c.edition_id == edition_id)
            .values(decided_by=actor, decided_at=now, reason=reason)
        )
