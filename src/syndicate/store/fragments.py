"""Feed items' rendered fragments, and the light article rows a feed build scans.

Task-shaped queries for :mod:`syndicate.feeds.fragments`: read the fragments a set of
documents needs (ids, hashes and bytes only, one query per batch of items), save the
ones rendered anew, forget those of channels or items that are gone; and
:func:`iter_light_articles`, the channels' articles newest first without their bodies.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from syndicate.models import Article, Author
from syndicate.store.core import Store
from syndicate.store.fragments_schema import feed_fragments
from syndicate.store.schema import articles

# Ids per query (each binds its id and its hash): SQLite (3.32+) binds up to 32,766
# parameters and PostgreSQL 65,535; a document batch of the builder stays well under
# this, so it is one query.
_CHUNK = 10_000


T = TypeVar("T")
SortKey = tuple[datetime, str]  # (published_at, id): where an article sits in a channel


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def load_fragments(
    store: Store, channel: str, wanted: Mapping[str, str], formats: Sequence[str]
) -> dict[str, dict[str, bytes]]:
    """The stored fragments of the items ``wanted`` (``{article id: input hash}``):
    ``{article id: {format: bytes}}``, only rows whose hash matches.

    A row of another channel with the same hash is as good as the channel's own (the
    hash covers everything the bytes depend on), so a channel whose items another one
    rendered already reuses them; the channel's own rows are preferred.
    """
    found: dict[str, dict[str, bytes]] = {}
    own: set[tuple[str, str]] = set()
    ids = list(wanted)
    table = feed_fragments.c
    with store.engine.connect() as conn:
        for chunk in _chunks(ids, _CHUNK):
            # Hashes as a second IN list, not (id, hash) pairs: the article_id index
            # finds the rows and the hash is checked on the row's first bytes, so the
            # fragments of other channels' items (other hashes) are never read; and
            # fetched all at once, not row by row.
            query = select(
                table.channel, table.format, table.article_id, table.input_hash, table.fragment
            ).where(
                table.article_id.in_(chunk),
                table.input_hash.in_([wanted[i] for i in chunk]),
                table.format.in_(list(formats)),
            )
            for row_channel, fmt, article_id, digest, fragment in conn.execute(query).all():
                key = (article_id, fmt)
                if key in own or digest != wanted[article_id]:
                    continue
                if row_channel == channel:
                    own.add(key)
                found.setdefault(article_id, {})[fmt] = bytes(fragment)
    return found


def save_fragments(
    store: Store, channel: str, fragments: Mapping[str, tuple[str, Mapping[str, bytes]]]
) -> None:
    """Store (insert or replace) ``{article id: (input hash, {format: bytes})}``."""
    rows = [
        {
            "channel": channel,
            "format": fmt,
            "article_id": article_id,
            "input_hash": input_hash,
            "fragment": data,
        }
        for article_id, (input_hash, by_format) in fragments.items()
        for fmt, data in by_format.items()
    ]
    if not rows:
        return
    with store.engine.begin() as conn:
        # An upsert: two builds sharing one store may render the same item at once.
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(feed_fragments)
        stmt = stmt.on_conflict_do_update(
            index_elements=["channel", "format", "article_id"],
            set_={name: stmt.excluded[name] for name in ("input_hash", "fragment")},
        )
        for chunk in _chunks(rows, 2_000):
            conn.execute(stmt, chunk)


def count_fragment_items(store: Store, channel: str, fmt: str) -> int:
    """How many items of ``channel`` have a stored ``fmt`` fragment (a primary-key range)."""
    query = (
        select(func.count())
        .select_from(feed_fragments)
        .where(feed_fragments.c.channel == channel, feed_fragments.c.format == fmt)
    )
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def forget_fragments_except(store: Store, channel: str, keep: Collection[str]) -> None:
    """Remove ``channel``'s fragments of items not in ``keep`` (items it no longer carries)."""
    query = select(feed_fragments.c.article_id).where(feed_fragments.c.channel == channel)
    with store.engine.begin() as conn:
        gone = sorted({row.article_id for row in conn.execute(query)} - set(keep))
        for chunk in _chunks(gone, 500):
            conn.execute(
                delete(feed_fragments).where(
                    feed_fragments.c.channel == channel, feed_fragments.c.article_id.in_(chunk)
                )
            )


def forget_item_fragments(store: Store, channel: str, article_ids: Collection[str]) -> None:
    """Remove ``channel``'s fragments of the items ``article_ids`` (items it no longer
    carries, known by id: an incremental build reads no other row)."""
    with store.engine.begin() as conn:
        for chunk in _chunks(sorted(article_ids), 500):
            conn.execute(
                delete(feed_fragments).where(
                    feed_fragments.c.channel == channel, feed_fragments.c.article_id.in_(chunk)
                )
            )


def forget_fragments_of_other_channels(store: Store, keep: Collection[str]) -> None:
    """Remove the fragments of every channel not named in ``keep`` (no longer configured)."""
    with store.engine.begin() as conn:
        conn.execute(delete(feed_fragments).where(feed_fragments.c.channel.not_in(list(keep))))


def iter_light_articles(
    store: Store,
    *,
    sections: Sequence[str] = (),
    sources: Sequence[str] = (),
    authors: bool = True,
    since: SortKey | None = None,
    before: SortKey | None = None,
    ids: Collection[str] | None = None,
    limit: int | None = None,
) -> Iterator[Article]:
    """Articles newest first (as :meth:`Store.iter_articles` orders them), with only
    what a feed build needs to place items and match channels: ids, URLs, content
    hashes, dates, story, pins, source, section, tags and (with ``authors``) authors.
    Title, dek, body and image are empty: the bodies are most of the store's bytes.

    The incremental build reads parts of a channel: ``since`` keeps the articles not
    older than that ``(published_at, id)`` key (the key's own article included),
    ``before`` those strictly older than it (both index ranges on ``published_at``),
    ``ids`` those among the ids given, ``limit`` the newest so many.
    """
    columns = [
        articles.c.id,
        articles.c.source,
        articles.c.url,
        articles.c.section,
        articles.c.tags,
        articles.c.published_at,
        articles.c.updated_at,
        articles.c.content_hash,
        articles.c.story,
        articles.c.related_pins,
    ]
    if authors:
        columns.append(articles.c.authors)
    query = select(*columns).order_by(articles.c.published_at.desc(), articles.c.id)
    if sections:
        query = query.where(func.lower(articles.c.section).in_([s.lower() for s in sections]))
    if sources:
        query = query.where(articles.c.source.in_(list(sources)))
    # Newest first is (published_at desc, id asc): of two articles published at the same
    # time, the one with the greater id is the older.
    if since is not None:
        query = query.where(
            articles.c.published_at >= since[0],
            ~((articles.c.published_at == since[0]) & (articles.c.id > since[1])),
        )
    if before is not None:
        query = query.where(
            articles.c.published_at <= before[0],
            ~((articles.c.published_at == before[0]) & (articles.c.id <= before[1])),
        )
    if limit is not None:
        query = query.limit(limit)
    queries = (
        [query]
        if ids is None
        else [query.where(articles.c.id.in_(chunk)) for chunk in _chunks(sorted(ids), 500)]
    )
    with store.engine.connect() as conn:
        rows = (
            row for part in queries for row in conn.execution_options(yield_per=2_000).execute(part)
        )
        for row in rows:
            yield Article(
                id=row.id,
                source=row.source,
                url=row.url,
                title="",
                dek="",
                body_html="",
                authors=tuple(Author(**a) for a in row.authors) if authors else (),
                section=row.section,
                tags=tuple(row.tags),
                image=None,
                published_at=row.published_at,
                updated_at=row.updated_at,
                content_hash=row.content_hash,
                story=row.story,
                related_pins=tuple(row.related_pins or ()),
            )
