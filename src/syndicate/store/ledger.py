"""The ledger: which articles each subscriber received, read from the outbox.

A delivery's reader received its edition's stories (``editions.article_ids``: all of
them, also for a reader who chose sections and was shown fewer — counting a story they
were not shown only errs on the side of not offering it) and the "More from" picks it
carried (``deliveries.picks``, a mask over ``editions.related_ids``; a delivery sent
before those were recorded showed all of ``related_ids``).

Counted: ``sent`` deliveries with ``sent_at`` at or after ``since``, and deliveries still
on their way (``queued``, ``sending``, ``deferred``) whose picks are already chosen —
they are about to be received, and counting them keeps two editions sent at the same
time from offering a reader the same pick.

One query per batch of subscribers, on the index ``ix_deliveries_subscriber_sent``; the
editions' id lists are read once per edition and kept (they never change once stored).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, or_, select

from syndicate.store.arrays import one_of
from syndicate.store.core import Store
from syndicate.store.delivery_schema import deliveries
from syndicate.store.schema import editions

IN_FLIGHT = ("queued", "sending", "deferred")
_CHUNK = 5000  # ids per IN list: far below every backend's parameter limit
_KEEP_EDITIONS = 4096


class Ledger:
    """What subscribers received (module docstring); one per sender, editions cached."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self._editions: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def received(
        self,
        subscriber_ids: Collection[int],
        since: datetime,
        *,
        skip: Collection[int] = (),
        among: Collection[str] | None = None,
    ) -> dict[int, set[str]]:
        """The article ids each of ``subscriber_ids`` received since ``since`` (stories
        and picks), leaving out the deliveries ``skip`` (the ones being built). Every
        subscriber asked about has an entry, empty when they received nothing.

        ``among`` narrows the answer to those ids (a sender only asks about an edition's
        candidates): each edition is then matched against them once, not per reader.
        """
        found: dict[int, set[str]] = {sid: set() for sid in subscriber_ids}
        rows = self._rows(list(found), since)
        self._load({row[2] for row in rows})
        wanted = None if among is None else set(among)
        hits: dict[int, tuple[tuple[str, ...], tuple[tuple[int, str], ...]]] = {}
        skipped = set(skip)
        for delivery_id, subscriber_id, edition_id, picks in rows:
            if delivery_id in skipped:
                continue
            hit = hits.get(edition_id)
            if hit is None:
                stories, candidates = self._editions.get(edition_id, ((), ()))
                if wanted is not None:
                    stories = tuple(a for a in stories if a in wanted)
                ranked = tuple(
                    (n, c) for n, c in enumerate(candidates) if wanted is None or c in wanted
                )
                hit = hits[edition_id] = (stories, ranked)
            stories, ranked = hit
            if not stories and not ranked:
                continue
            got = found[subscriber_id]
            got.update(stories)
            got.update(c for n, c in ranked if picks is None or picks >> n & 1)
        return found

    def _rows(self, ids: list[int], since: datetime) -> list[tuple[int, int, int, int | None]]:
        rows: list[tuple[int, int, int, int | None]] = []
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                query = received_query(ids[start : start + _CHUNK], since, conn)
                rows += [(r[0], r[1], r[2], r[3]) for r in conn.execute(query)]
        return rows

    def _load(self, edition_ids: set[int]) -> None:
        missing = sorted(edition_ids - self._editions.keys())
        if not missing:
            return
        if len(self._editions) + len(missing) > _KEEP_EDITIONS:
            self._editions.clear()  # a long-running sender must not grow without bound
        e = editions.c
        with self.engine.connect() as conn:
            for start in range(0, len(missing), _CHUNK):
                query = select(e.id, e.article_ids, e.related_ids).where(
                    e.id.in_(missing[start : start + _CHUNK])
                )
                for row in conn.execute(query):
                    self._editions[int(row[0])] = (tuple(row[1]), tuple(row[2]))


def received_query(
    subscriber_ids: Sequence[int], since: datetime, conn: Connection | None = None
) -> Select[Any]:
    """(delivery id, subscriber id, edition id, picks) of the deliveries the ledger
    counts for ``subscriber_ids`` (module docstring); it reads the index
    ``ix_deliveries_subscriber_sent``. Given the ``conn`` it runs on, the ids are one
    array parameter on PostgreSQL (:mod:`syndicate.store.arrays`)."""
    d = deliveries.c
    wanted: ColumnElement[bool] = (
        d.subscriber_id.in_(list(subscriber_ids))
        if conn is None
        else one_of(conn, d.subscriber_id, subscriber_ids)
    )
    counted = or_(
        and_(d.status == "sent", d.sent_at >= since),
        and_(d.status.in_(IN_FLIGHT), d.picks.is_not(None)),
    )
    return select(d.id, d.subscriber_id, d.edition_id, d.picks).where(wanted, counted)
