"""Task-shaped queries for story clusters: the articles a new one may be a copy of.

Ingest (:mod:`syndicate.ingest.stories`) decides; these functions only read and write.
Candidates come from two indexes, never from a scan of the archive: ``url_key`` (the
same page, whenever it was published) and ``published_at`` (articles close enough in
time to be copies of the same story).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, true, update
from sqlalchemy.exc import SQLAlchemyError

from syndicate.errors import StoreError
from syndicate.store.core import Store
from syndicate.store.schema import articles

_CHUNK = 500  # values per IN (...) or OR list: well under SQLite's parameter limit


@dataclass(frozen=True, slots=True)
class StoryPeer:
    """A stored article as story clustering sees it."""

    id: str
    source: str
    story: str
    url_key: str
    signature: bytes
    published_at: datetime

    @property
    def story_key(self) -> str:
        """The cluster it belongs to: ``story``, else its own id."""
        return self.story or self.id


_PEER_COLUMNS = (
    articles.c.id,
    articles.c.source,
    articles.c.story,
    articles.c.url_key,
    articles.c.signature,
    articles.c.published_at,
)


def _peer(row: Any) -> StoryPeer:
    return StoryPeer(
        id=row.id,
        source=row.source,
        story=row.story,
        url_key=row.url_key or "",
        signature=bytes(row.signature or b""),
        published_at=row.published_at,
    )


def existing_ids(store: Store, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` are stored articles."""
    wanted = list(dict.fromkeys(ids))
    found: set[str] = set()
    with store.engine.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found.update(
                conn.execute(select(articles.c.id).where(articles.c.id.in_(chunk))).scalars()
            )
    return found


def story_peers(
    store: Store,
    url_keys: Iterable[str],
    spans: Sequence[tuple[datetime, datetime]],
    other_than: str | None = None,
) -> list[StoryPeer]:
    """Stored articles with one of ``url_keys``, or published within one of ``spans``
    (inclusive) with a signature; each once, in id order. ``other_than`` leaves out that
    source's articles (they are never a match for its own)."""
    keys = sorted({k for k in url_keys if k})
    found: dict[str, StoryPeer] = {}
    others = articles.c.source != other_than if other_than is not None else true()
    with store.engine.connect() as conn:
        for start in range(0, len(keys), _CHUNK):
            query = select(*_PEER_COLUMNS).where(
                articles.c.url_key.in_(keys[start : start + _CHUNK]), others
            )
            found.update((row.id, _peer(row)) for row in conn.execute(query))
        for start in range(0, len(spans), _CHUNK // 2):
            chunk = spans[start : start + _CHUNK // 2]
            within = or_(*(articles.c.published_at.between(low, high) for low, high in chunk))
            query = select(*_PEER_COLUMNS).where(
                and_(within, articles.c.signature.is_not(None), others)
            )
            found.update((row.id, _peer(row)) for row in conn.execute(query))
    return [found[i] for i in sorted(found)]


@dataclass(frozen=True, slots=True)
class UnkeyedArticle:
    """A stored article whose story keys were never computed (stored before 0009)."""

    id: str
    url: str
    title: str
    dek: str
    body_html: str


def unkeyed_articles(store: Store, limit: int) -> list[UnkeyedArticle]:
    """Up to ``limit`` articles without story keys, newest first.

    Asked on every ingest run, so it reads the ``url_key`` index (NULL only on rows
    stored before 0009; ingest stores "" when a link has no key), never the table.
    """
    query = (
        select(
            articles.c.id, articles.c.url, articles.c.title, articles.c.dek, articles.c.body_html
        )
        .where(articles.c.url_key.is_(None))
        .order_by(articles.c.published_at.desc(), articles.c.id)
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [UnkeyedArticle(*row) for row in conn.execute(query)]


def save_story_keys(store: Store, keys: Sequence[tuple[str, str, bytes]]) -> None:
    """Store ``(id, url_key, signature)`` for each article, in one transaction."""
    try:
        with store.engine.begin() as conn:
            for article_id, url_key, signature in keys:
                conn.execute(
                    update(articles)
                    .where(articles.c.id == article_id)
                    .values(url_key=url_key, signature=signature)
                )
    except SQLAlchemyError as err:
        raise StoreError(f"saving story keys failed: {err}") from err


def cluster_siblings(store: Store, ids: Iterable[str]) -> dict[str, frozenset[str]]:
    """For each of ``ids`` whose story cluster has other members: those members' ids.

    Per-reader memory asks this of an edition's candidate picks: a reader who received
    one source's copy of a story has received that story.
    """
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    a = articles.c
    with store.engine.connect() as conn:
        keys: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            rows = conn.execute(select(a.id, a.story).where(a.id.in_(wanted[start : start + 500])))
            keys.update({row.id: row.story or row.id for row in rows})
        clusters = sorted(set(keys.values()))
        members: dict[str, set[str]] = {}
        for start in range(0, len(clusters), 500):
            chunk = clusters[start : start + 500]
            rows = conn.execute(
                select(a.id, a.story).where(or_(a.story.in_(chunk), a.id.in_(chunk)))
            )
            for row in rows:
                members.setdefault(row.story or row.id, set()).add(row.id)
    return {
        i: frozenset(members.get(key, set()) - {i})
        for i, key in keys.items()
        if len(members.get(key, set())) > 1
    }
