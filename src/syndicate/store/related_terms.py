"""Task-shaped queries over ``related_terms``: the stored term vectors of articles.

``syndicate.related.sync`` keeps the table in step with ``articles``;
``syndicate.related.cache`` reads it. Rows carry bytes and plain fields only: what they
mean (hashing, weights) is ``related/``'s business.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_, select
from sqlalchemy.exc import SQLAlchemyError

from syndicate.errors import StoreError
from syndicate.store.core import Store
from syndicate.store.related_schema import related_snapshots, related_terms
from syndicate.store.schema import articles

_CHUNK = 500

# Article fields copied into a terms row: when one differs, the row is recomputed.
# ``story`` and ``related_exclude`` join the comparison as soon as ``articles`` stores them.
_COPIED = ("content_hash", "published_at", "source", "section", "story", "related_exclude")


@dataclass(frozen=True, slots=True)
class TermsRow:
    """One article's stored term vector and the fields ranking reads besides."""

    id: str
    source: str
    section: str
    tags: tuple[str, ...]
    authors: tuple[str, ...]
    published_at: datetime
    story: str
    related_exclude: bool
    content_hash: str
    version: int
    length: float
    term_ids: bytes
    term_counts: bytes
    indexed_at: datetime


def stale_article_ids(
    store: Store, version: int, limit: int | None = None, *, among: Collection[str] | None = None
) -> list[str]:
    """Ids of articles whose terms row is missing, of another ``version``, or out of
    date (an article field it copies has changed), in id order; only ``among`` those
    ids when given (the articles changed since a point: no scan of the table)."""
    t = related_terms
    differs: list[ColumnElement[bool]] = [t.c.id.is_(None), t.c.version != version]
    differs += [t.c[name] != articles.c[name] for name in _COPIED if name in articles.c]
    query = (
        select(articles.c.id)
        .select_from(articles.outerjoin(t, t.c.id == articles.c.id))
        .where(or_(*differs))
        .order_by(articles.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as conn:
        if among is None:
            return list(conn.execute(query).scalars())
        wanted = sorted(among)
        found = [
            conn.execute(query.where(articles.c.id.in_(wanted[start : start + 500]))).scalars()
            for start in range(0, len(wanted), 500)
        ]
        return sorted(i for part in found for i in part)[:limit]


def delete_orphan_terms(store: Store, among: Collection[str] | None = None) -> int:
    """Remove the rows of articles that are no longer stored (only ``among`` those ids,
    when given: no scan of either table); how many went."""
    orphan: ColumnElement[bool] = related_terms.c.id.not_in(select(articles.c.id))
    if among is not None:
        with store.engine.connect() as conn:
            wanted = sorted(among)
            found = [
                i
                for start in range(0, len(wanted), 500)
                for i in conn.execute(
                    select(related_terms.c.id).where(
                        related_terms.c.id.in_(wanted[start : start + 500]), orphan
                    )
                ).scalars()
            ]
        if not found:
            return 0  # (no write transaction)
        orphan = related_terms.c.id.in_(found) & orphan
    with store.engine.begin() as conn:
        gone = conn.execute(delete(related_terms).where(orphan))
    return int(gone.rowcount or 0)


def write_terms(store: Store, rows: Sequence[TermsRow]) -> None:
    """Insert or replace ``rows`` (by id), in one transaction."""
    values: list[dict[str, Any]] = [
        {
            **{name: getattr(row, name) for name in TermsRow.__slots__},
            "tags": list(row.tags),
            "authors": list(row.authors),
        }
        for row in rows
    ]
    try:
        with store.engine.begin() as conn:
            for start in range(0, len(values), _CHUNK):
                chunk = values[start : start + _CHUNK]
                ids = [v["id"] for v in chunk]
                conn.execute(delete(related_terms).where(related_terms.c.id.in_(ids)))
                conn.execute(insert(related_terms), chunk)
    except SQLAlchemyError as err:
        raise StoreError(f"saving related terms failed: {err}") from err


def iter_terms(
    store: Store, *, since: datetime | None = None, batch: int = 2000
) -> Iterator[TermsRow]:
    """Rows written at or after ``since`` (all when ``None``), in id order, in batches."""
    query = select(related_terms).order_by(related_terms.c.id)
    if since is not None:
        query = query.where(related_terms.c.indexed_at >= since)
    last = ""
    while True:
        with store.engine.connect() as conn:
            rows = conn.execute(query.where(related_terms.c.id > last).limit(batch)).all()
        for row in rows:
            yield _row(row)
        if len(rows) < batch:
            return
        last = rows[-1].id


def terms_stamps(store: Store, since: datetime) -> list[tuple[str, datetime]]:
    """The id and ``indexed_at`` of every row written at or after ``since`` (from the
    index on ``indexed_at``: no row is read whole)."""
    t = related_terms
    query = select(t.c.id, t.c.indexed_at).where(t.c.indexed_at >= since)
    with store.engine.connect() as conn:
        return [(i, at) for i, at in conn.execute(query)]


def terms_of(store: Store, ids: Sequence[str]) -> list[TermsRow]:
    """The rows of ``ids`` that exist, in id order."""
    wanted = sorted(ids)
    query = select(related_terms).order_by(related_terms.c.id)
    found: list[TermsRow] = []
    with store.engine.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            part = wanted[start : start + _CHUNK]
            found += map(_row, conn.execute(query.where(related_terms.c.id.in_(part))))
    return found


def terms_ids(store: Store) -> set[str]:
    """Every id in the table."""
    with store.engine.connect() as conn:
        return set(conn.execute(select(related_terms.c.id)).scalars())


def terms_state(store: Store) -> tuple[int, datetime | None]:
    """How many rows the table holds and when the newest was written: when neither moved,
    nothing was added, changed or removed."""
    t = related_terms
    with store.engine.connect() as conn:
        # Two queries: a lone max() of the indexed column is an index probe, with the
        # count beside it a scan of the table (3 ms at 50,000 rows, against 0.7).
        count = conn.execute(select(func.count()).select_from(t)).scalar_one()
        newest = conn.execute(select(func.max(t.c.indexed_at))).scalar_one()
    return int(count), _utc(newest)


def articles_state(store: Store) -> tuple[int, datetime | None, datetime | None]:
    """How many articles are stored, the newest first-seen and the newest updated time:
    a cheap sign (two indexed maxima and a count) that ``related_terms`` may need a sync.

    Ingest and ``db upgrade`` sync the table themselves; on a store without the change
    log's triggers (:mod:`syndicate.store.changes`, which names every changed article)
    this catches articles written by other means (a content edit that keeps
    ``updated_at`` below the newest may go unnoticed until the next ingest's sync)."""
    a = articles
    with store.engine.connect() as conn:
        # Three queries, not one: a lone max() of an indexed column is an index probe,
        # several aggregates together are a scan of the table, bodies and all.
        count = conn.execute(select(func.count()).select_from(a)).scalar_one()
        seen = conn.execute(select(func.max(a.c.first_seen_at))).scalar_one()
        updated = conn.execute(select(func.max(a.c.updated_at))).scalar_one()
    return int(count), _utc(seen), _utc(updated)


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:  # SQLite keeps no zone: UTC
        return value.replace(tzinfo=UTC)
    return value


def terms_size(store: Store) -> tuple[int, int]:
    """How many rows the table holds, and their term ids' total bytes (what a reader
    allocates for the whole table)."""
    t = related_terms
    with store.engine.connect() as conn:
        row = conn.execute(select(func.count(), func.sum(func.length(t.c.term_ids)))).one()
    return int(row[0]), int(row[1] or 0)


def terms_count(store: Store) -> int:
    """How many rows the table holds."""
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(related_terms)).scalar_one())


def snapshot_token(store: Store, name: str) -> str | None:
    """The token the store recorded for snapshot ``name``, ``None`` if none."""
    t = related_snapshots
    with store.engine.connect() as conn:
        return conn.execute(select(t.c.token).where(t.c.name == name)).scalar_one_or_none()


def record_snapshot(store: Store, name: str, token: str, now: datetime | None = None) -> None:
    """Record ``token`` as snapshot ``name``'s (replacing the one before)."""
    t = related_snapshots
    try:
        with store.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.name == name))
            conn.execute(
                insert(t).values(name=name, token=token, saved_at=now or datetime.now(UTC))
            )
    except SQLAlchemyError as err:
        raise StoreError(f"recording a related snapshot failed: {err}") from err


def _row(row: Any) -> TermsRow:
    return TermsRow(
        id=row.id,
        source=row.source,
        section=row.section,
        tags=tuple(row.tags),
        authors=tuple(row.authors),
        published_at=row.published_at,
        story=row.story,
        related_exclude=bool(row.related_exclude),
        content_hash=row.content_hash,
        version=row.version,
        length=float(row.length),
        term_ids=bytes(row.term_ids),
        term_counts=bytes(row.term_counts),
        indexed_at=row.indexed_at,
    )
