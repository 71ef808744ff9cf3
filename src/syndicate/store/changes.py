"""What changed among the articles since a point: the change log's task-shaped queries.

An incremental feed build (:mod:`syndicate.feeds.incremental`) remembers the last
change it saw (:func:`last_change`) and next time reads only the changes after it
(:func:`changes_since`), each with the article as it was before; the articles as they
are now it reads by id. The log is filled by triggers (migration 0019), so a store whose
triggers are missing (:func:`change_tracking`) must be read whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, delete, func, select, text

from syndicate.models import Article, Author
from syndicate.store.changes_schema import TRIGGERS, article_changes
from syndicate.store.core import Store
from syndicate.store.feedpicks_schema import feed_pick_changes

# PostgreSQL hands out sequence numbers at insert time, not at commit, so a change may
# become visible after a later-numbered one: re-reading this many numbers before the last
# one seen catches it (a change read twice costs a little work, never a wrong file).
POSTGRES_REPLAY = 1_000
# Change numbers kept by :func:`prune_logs`: a reader further behind than this reads
# everything anyway (it would have more changes to follow than the feed builder's
# ``MAX_CHANGES``), with room for :data:`POSTGRES_REPLAY`.
KEEP_CHANGES = 10_000


@dataclass(frozen=True, slots=True)
class ArticleChange:
    """One changed article, and what it was before each of its changes after the point
    asked, oldest first (``None`` where it did not exist). Only what places an article
    in a channel is kept: id, source, section, tags, authors and publication time.

    Every earlier state is kept, not only the first: a reader that saw some of these
    changes already (a channel built alone, a change read twice) finds the state it saw
    among them.
    """

    article_id: str
    befores: tuple[Article | None, ...]


def change_tracking(store: Store) -> bool:
    """True when the triggers that fill the change log are in place."""
    with store.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # The triggers of the articles table the search path finds: other schemas
            # of the database (other instances, other stores) have their own.
            query = text(
                "SELECT count(*) FROM pg_trigger "
                "WHERE tgname = ANY(:names) AND tgrelid = to_regclass('articles')"
            )
            found = conn.execute(query, {"names": list(TRIGGERS)}).scalar_one()
        else:
            query = text(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                f"AND name IN ({', '.join(repr(name) for name in TRIGGERS)})"
            )
            found = conn.execute(query).scalar_one()
    return int(found) == len(TRIGGERS)


def last_change(store: Store) -> int:
    """The number of the newest change in the log (0 for none)."""
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.max(article_changes.c.seq))).scalar() or 0)


def changes_since(store: Store, seq: int, limit: int) -> tuple[int, list[ArticleChange]] | None:
    """The articles changed after change ``seq``: ``(newest change number, changes)``,
    one entry per article (in the order of their first change), or ``None`` when more
    than ``limit`` rows changed (reading everything is then cheaper than following each
    change) or when changes after ``seq`` were pruned (:func:`prune_logs`).
    """
    start = seq
    with store.engine.connect() as conn:
        if pruned_after(conn, article_changes, seq):
            return None
        if conn.dialect.name == "postgresql":
            start = max(0, seq - POSTGRES_REPLAY)
        rows = conn.execute(
            select(article_changes)
            .where(article_changes.c.seq > start)
            .order_by(article_changes.c.seq)
            .limit(limit + 1)
        ).all()
    if len(rows) > limit:
        return None
    befores: dict[str, list[Article | None]] = {}
    for row in rows:
        befores.setdefault(row.article_id, []).append(_before(row))
    newest = max([seq, *(row.seq for row in rows)])
    return newest, [ArticleChange(i, tuple(states)) for i, states in befores.items()]


def _before(row: Row[Any]) -> Article | None:
    if not row.old_present:
        return None
    published: datetime = row.old_published_at
    return Article(
        id=row.article_id,
        source=row.old_source or "",
        url="",
        title="",
        dek="",
        body_html="",
        authors=tuple(Author(**a) for a in row.old_authors or ()),
        section=row.old_section or "",
        tags=tuple(row.old_tags or ()),
        image=None,
        published_at=published,
        updated_at=published,
        content_hash="",
    )


def pruned_after(conn: Any, log: Table, seq: int) -> bool:
    """Whether rows of ``log`` numbered after ``seq`` may have been pruned: its oldest
    row is newer than ``seq + 1`` (a number skipped by a rolled-back transaction gives
    the same answer: one full read too many, never a missed change)."""
    oldest = conn.execute(select(func.min(log.c.seq))).scalar()
    return oldest is not None and int(oldest) > seq + 1


def prune_logs(store: Store, keep: int = KEEP_CHANGES) -> int:
    """Remove the rows of the article change log and of the log of chosen feed picks
    numbered more than ``keep`` before each log's newest; how many went. A reader whose
    last change is older than what is left finds the gap (:func:`pruned_after`) and
    reads everything."""
    return sum(_prune(store, log, keep) for log in (article_changes, feed_pick_changes))


def _prune(store: Store, log: Table, keep: int) -> int:
    with store.engine.connect() as conn:
        # Apart: SQLite answers a lone min() or max() from the key's ends, both at once
        # with a scan of the whole log.
        oldest = conn.execute(select(func.min(log.c.seq))).scalar()
        newest = conn.execute(select(func.max(log.c.seq))).scalar()
    if newest is None or oldest is None or int(newest) - int(oldest) < keep:
        return 0  # the common case: a read, no write transaction
    with store.engine.begin() as conn:
        gone = conn.execute(delete(log).where(log.c.seq <= int(newest) - keep))
    return int(gone.rowcount or 0)
