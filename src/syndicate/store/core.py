"""Task-shaped queries over articles and source state."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, case, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from syndicate.errors import StoreError
from syndicate.models import Article, Author, CleanEntry, Image, SourceState
from syndicate.store.engine import current_revision, head_revision, make_engine, migrate
from syndicate.store.schema import articles, source_state

_CHUNK = 500  # ids per IN (...) query: well under SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class SaveCounts:
    """What saving one source's entries did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0


def open_store(
    url: str, *, upgrade: bool = True, create: bool = False, busy_timeout: float = 30.0
) -> Store:
    """Open the store at ``url``; migrate an empty or older database when ``upgrade``.

    A SQLite store whose folder is missing is a :class:`StoreError` unless ``create``
    (see :func:`make_engine`).
    """
    store = Store(make_engine(url, create=create, busy_timeout=busy_timeout))
    if upgrade:
        store.upgrade_if_needed()
    return store


class Store:
    """Articles and source state. Thread-safe: each method uses its own connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def upgrade_if_needed(self) -> bool:
        """Apply pending migrations; True if any ran."""
        if current_revision(self.engine) == head_revision():
            return False
        migrate(self.engine)
        return True

    # --- articles ----------------------------------------------------------------------

    def save_entries(
        self,
        entries: Sequence[CleanEntry],
        now: datetime,
        stories: Mapping[str, str] | None = None,
    ) -> SaveCounts:
        """Insert new articles and update changed ones, in one transaction.

        Unchanged content changes nothing. A content edit updates the row in place and
        moves ``updated_at`` (to the source's updated time if later, else ``now``). A URL
        change alone updates the URL and keeps ``updated_at``; so does a change of the
        story keys alone (``url_key``, ``signature``). Entries repeating an id already in
        ``entries`` are ignored (the first wins).

        ``stories`` gives a new article's story cluster (by id; absent: its own). An
        article already stored keeps its cluster: clusters never change once made.
        """
        stories = stories or {}
        unique: dict[str, CleanEntry] = {}
        for entry in entries:
            unique.setdefault(entry.id, entry)
        new = updated = unchanged = 0
        try:
            with self.engine.begin() as conn:
                existing = {
                    row.id: row
                    for chunk in _chunks(list(unique), _CHUNK)
                    for row in conn.execute(
                        select(
                            articles.c.id,
                            articles.c.url,
                            articles.c.content_hash,
                            articles.c.published_at,
                            articles.c.updated_at,
                            articles.c.url_key,
                            articles.c.signature,
                        ).where(articles.c.id.in_(chunk))
                    )
                }
                inserts: list[dict[str, Any]] = []
                for entry in unique.values():
                    old = existing.get(entry.id)
                    if old is None:
                        inserts.append(_new_row(entry, now, stories.get(entry.id, "")))
                        new += 1
                        continue
                    changes = _changes(entry, old, now)
                    if not changes:
                        unchanged += 1
                        continue
                    conn.execute(update(articles).where(articles.c.id == entry.id), changes)
                    updated += 1
                if inserts:
                    conn.execute(insert(articles), inserts)
        except SQLAlchemyError as err:
            raise StoreError(f"saving articles failed: {err}") from err
        return SaveCounts(new, updated, unchanged)

    def list_articles(
        self,
        *,
        section: str | None = None,
        source: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Article]:
        """Articles, newest first (by published time, then id, so the order is total)."""
        query = select(articles).order_by(articles.c.published_at.desc(), articles.c.id)
        if section is not None:
            query = query.where(func.lower(articles.c.section) == section.lower())
        if source is not None:
            query = query.where(articles.c.source == source)
        if since is not None:
            query = query.where(articles.c.published_at >= since)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_article(row) for row in conn.execute(query)]

    def iter_articles(
        self,
        *,
        sections: Sequence[str] = (),
        sources: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        arrived_since: datetime | None = None,
        arrived_until: datetime | None = None,
        batch: int = 500,
    ) -> Iterator[Article]:
        """Articles newest first, read in keyset-paginated batches (constant memory).

        ``sections`` (case-insensitive) and ``sources`` narrow the query when not empty;
        ``since`` is inclusive, ``until`` exclusive, both on ``published_at``. The
        ``arrived_*`` bounds (same inclusivity) are on when the article reached readers'
        view: the later of its publication and the moment it was first stored — an
        upstream article polled an hour after its pubDate arrives when it is stored.
        """
        query = select(articles).order_by(articles.c.published_at.desc(), articles.c.id)
        if sections:
            query = query.where(func.lower(articles.c.section).in_([s.lower() for s in sections]))
        if sources:
            query = query.where(articles.c.source.in_(list(sources)))
        if since is not None:
            query = query.where(articles.c.published_at >= since)
        if until is not None:
            query = query.where(articles.c.published_at < until)
        if arrived_since is not None or arrived_until is not None:
            arrived = case(
                (articles.c.first_seen_at > articles.c.published_at, articles.c.first_seen_at),
                else_=articles.c.published_at,
            )
            if arrived_since is not None:
                query = query.where(arrived >= arrived_since)
            if arrived_until is not None:
                query = query.where(arrived < arrived_until)
        last: tuple[datetime, str] | None = None
        while True:
            page = query
            if last is not None:
                page = page.where(
                    (articles.c.published_at < last[0])
                    | ((articles.c.published_at == last[0]) & (articles.c.id > last[1]))
                )
            with self.engine.connect() as conn:
                rows = conn.execute(page.limit(batch)).all()
            for row in rows:
                yield _article(row)
            if len(rows) < batch:
                return
            last = (rows[-1].published_at, rows[-1].id)

    def get_article(self, article_id: str) -> Article | None:
        """One article by id, or ``None``."""
        with self.engine.connect() as conn:
            row = conn.execute(select(articles).where(articles.c.id == article_id)).first()
        return _article(row) if row is not None else None

    def get_articles(self, ids: Sequence[str]) -> list[Article]:
        """The articles with these ids, in the order given; ids not stored are skipped."""
        found: dict[str, Article] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(ids)), _CHUNK):
                for row in conn.execute(select(articles).where(articles.c.id.in_(chunk))):
                    found[row.id] = _article(row)
        return [found[i] for i in ids if i in found]

    def count_articles(self) -> int:
        """How many articles the store holds."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(articles)).scalar_one())

    # --- source state ------------------------------------------------------------------

    def get_source_state(self, name: str) -> SourceState:
        """What is remembered about ``name``; an empty state for a source never polled."""
        with self.engine.connect() as conn:
            row = conn.execute(select(source_state).where(source_state.c.name == name)).first()
        if row is None:
            return SourceState(name=name)
        return _state(row)

    def list_source_states(self) -> dict[str, tuple[SourceState, datetime | None]]:
        """Every remembered source: its state and the time of its last error."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(source_state).order_by(source_state.c.name)).all()
        return {row.name: (_state(row), row.last_error_at) for row in rows}

    def save_source_state(self, state: SourceState, *, error_at: datetime | None = None) -> None:
        """Write ``state`` (insert or replace). ``error_at`` records when ``last_error`` arose."""
        values: dict[str, Any] = {
            "etag": state.etag,
            "last_modified": state.last_modified,
            "next_poll_at": state.next_poll_at,
            "consecutive_errors": state.consecutive_errors,
            "last_error": state.last_error,
            "last_success_at": state.last_success_at,
            "extra": state.extra,
        }
        if error_at is not None or state.last_error is None:
            values["last_error_at"] = error_at
        with self.engine.begin() as conn:
            done = conn.execute(
                update(source_state).where(source_state.c.name == state.name).values(values)
            )
            if done.rowcount == 0:
                conn.execute(insert(source_state).values(name=state.name, **values))


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _content_values(entry: CleanEntry) -> dict[str, Any]:
    return {
        "url": entry.url,
        "title": entry.title,
        "dek": entry.dek,
        "body_html": entry.body_html,
        "authors": [{"name": a.name, "bio": a.bio, "url": a.url} for a in entry.authors],
        "section": entry.section,
        "tags": list(entry.tags),
        "image": _image_dict(entry.image),
        "featured": entry.featured,
        "content_hash": entry.content_hash,
        "related_pins": list(entry.related_pins),
        "related_exclude": entry.related_exclude,
        **_key_values(entry),
    }


def _key_values(entry: CleanEntry) -> dict[str, Any]:
    return {"url_key": entry.url_key, "signature": entry.signature}


def _new_row(entry: CleanEntry, now: datetime, story: str) -> dict[str, Any]:
    published = entry.published_at or now
    updated = entry.updated_at if entry.updated_at and entry.updated_at > published else published
    return {
        "id": entry.id,
        "source": entry.source,
        "published_at": published,
        "updated_at": updated,
        "first_seen_at": now,
        "story": story if story != entry.id else "",
        **_content_values(entry),
    }


def _changes(entry: CleanEntry, old: Any, now: datetime) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if entry.content_hash != old.content_hash:
        changes = _content_values(entry)
        later = entry.updated_at is not None and entry.updated_at > old.updated_at
        changes["updated_at"] = entry.updated_at if later else max(now, old.updated_at)
    else:
        if entry.url and entry.url != old.url:
            changes["url"] = entry.url
        if entry.url_key != old.url_key or entry.signature != old.signature:
            changes.update(_key_values(entry))
    if entry.published_at is not None and entry.published_at != old.published_at:
        changes["published_at"] = entry.published_at
    return changes


def _image_dict(image: Image | None) -> dict[str, Any] | None:
    if image is None:
        return None
    return {
        "url": image.url,
        "alt": image.alt,
        "credit": image.credit,
        "caption": image.caption,
        "width": image.width,
        "height": image.height,
    }


def _article(row: Row[Any]) -> Article:
    image = row.image
    return Article(
        id=row.id,
        source=row.source,
        url=row.url,
        title=row.title,
        dek=row.dek,
        body_html=row.body_html,
        authors=tuple(Author(**a) for a in row.authors),
        section=row.section,
        tags=tuple(row.tags),
        image=Image(**image) if image else None,
        published_at=row.published_at,
        updated_at=row.updated_at,
        content_hash=row.content_hash,
        featured=row.featured,
        story=row.story,
        related_pins=tuple(row.related_pins or ()),
        related_exclude=bool(row.related_exclude),
    )


def _state(row: Row[Any]) -> SourceState:
    return SourceState(
        name=row.name,
        etag=row.etag,
        last_modified=row.last_modified,
        next_poll_at=row.next_poll_at,
        consecutive_errors=row.consecutive_errors,
        last_error=row.last_error,
        last_success_at=row.last_success_at,
        extra=dict(row.extra or {}),
    )
