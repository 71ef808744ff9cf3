"""Feed items' stored "More from" picks, and the articles they point to.

Task-shaped queries for :mod:`syndicate.feeds.picks`: read a channel's stored picks,
save new ones (and the reverse rows: which items link to an article,
:func:`items_picking`), forget rows of items or channels that are gone, and read articles by id
(without their bodies, when only a link and the pick rules are needed).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Text, delete, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from syndicate.models import Article
from syndicate.store.changes import POSTGRES_REPLAY, pruned_after
from syndicate.store.core import Store, _article, _chunks
from syndicate.store.feedpicks_schema import (
    feed_item_picks,
    feed_pick_changes,
    feed_pick_targets,
)
from syndicate.store.schema import articles

_CHUNK = 500  # ids per IN (...) query: well under SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class StoredPicks:
    """One feed item's picks (article ids, in order) and what they were computed for."""

    pick_ids: tuple[str, ...]
    item_hash: str
    settings: str


def load_picks(
    store: Store, channel: str, article_ids: Collection[str] | None = None
) -> dict[str, StoredPicks]:
    """The stored items of ``channel`` (every one, or those among ``article_ids``):
    ``{article id: StoredPicks}``."""
    query = select(
        feed_item_picks.c.article_id,
        feed_item_picks.c.pick_ids,
        feed_item_picks.c.item_hash,
        feed_item_picks.c.settings,
    ).where(feed_item_picks.c.channel == channel)
    queries = (
        [query]
        if article_ids is None
        else [
            query.where(feed_item_picks.c.article_id.in_(chunk))
            for chunk in _chunks(sorted(article_ids), _CHUNK)
        ]
    )
    with store.engine.connect() as conn:
        return {
            row.article_id: StoredPicks(tuple(row.pick_ids), row.item_hash, row.settings)
            for part in queries
            for row in conn.execute(part)
        }


def items_picking(store: Store, channel: str, target_ids: Collection[str]) -> set[str]:
    """The items of ``channel`` whose stored picks include one of ``target_ids`` (an
    index range per target: no stored row is read whole)."""
    found: set[str] = set()
    with store.engine.connect() as conn:
        for chunk in _chunks(sorted(target_ids), _CHUNK):
            query = select(feed_pick_targets.c.article_id).where(
                feed_pick_targets.c.channel == channel,
                feed_pick_targets.c.target_id.in_(chunk),
            )
            found.update(row.article_id for row in conn.execute(query))
    return found


def save_picks(store: Store, channel: str, picks: Mapping[str, StoredPicks], now: datetime) -> None:
    """Store (insert or replace) the picks of ``channel``'s items, in one transaction."""
    if not picks:
        return
    rows = [
        {
            "channel": channel,
            "article_id": article_id,
            "pick_ids": list(stored.pick_ids),
            "item_hash": stored.item_hash,
            "settings": stored.settings,
            "computed_at": now,
        }
        for article_id, stored in picks.items()
    ]
    with store.engine.begin() as conn:
        # An upsert: two builds sharing one store (two machines, each with its own output
        # folder and build lock) may choose the same new item's picks at once.
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(feed_item_picks)
        stmt = stmt.on_conflict_do_update(
            index_elements=["channel", "article_id"],
            set_={
                name: stmt.excluded[name]
                for name in ("pick_ids", "item_hash", "settings", "computed_at")
            },
        )
        conn.execute(stmt, rows)
        # The reverse rows follow: the items' old targets out, their new ones in.
        _forget_targets(conn, channel, list(picks))
        targets = [
            {"channel": channel, "target_id": target, "article_id": article_id}
            for article_id, stored in picks.items()
            for target in dict.fromkeys(stored.pick_ids)
        ]
        if targets:
            conn.execute(insert(feed_pick_targets), targets)
        # Logged, so every output folder built from this store shows the new links.
        conn.execute(
            insert(feed_pick_changes), [{"channel": channel, "article_id": i} for i in picks]
        )


def last_pick_change(store: Store) -> int:
    """The number of the newest entry of the log of chosen picks (0 for none)."""
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.max(feed_pick_changes.c.seq))).scalar() or 0)


def picks_chosen_since(store: Store, seq: int, limit: int) -> dict[str, set[str]] | None:
    """The items whose picks were chosen after log entry ``seq``, by channel; ``None``
    when more than ``limit`` were, or entries after ``seq`` were pruned
    (:func:`~syndicate.store.changes.prune_logs`; PostgreSQL: see
    :data:`POSTGRES_REPLAY`)."""
    with store.engine.connect() as conn:
        if pruned_after(conn, feed_pick_changes, seq):
            return None
        if conn.dialect.name == "postgresql":
            seq = max(0, seq - POSTGRES_REPLAY)
        rows = conn.execute(
            select(feed_pick_changes.c.channel, feed_pick_changes.c.article_id)
            .where(feed_pick_changes.c.seq > seq)
            .limit(limit + 1)
        ).all()
    if len(rows) > limit:
        return None
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row.channel, set()).add(row.article_id)
    return found


def _forget_targets(conn: Connection, channel: str, article_ids: list[str]) -> None:
    for chunk in _chunks(article_ids, _CHUNK):
        conn.execute(
            delete(feed_pick_targets).where(
                feed_pick_targets.c.channel == channel,
                feed_pick_targets.c.article_id.in_(chunk),
            )
        )


def forget_picks(store: Store, channel: str, article_ids: Iterable[str]) -> None:
    """Remove the stored picks of ``channel``'s items ``article_ids`` (items it no longer
    carries)."""
    ids = list(article_ids)
    if not ids:
        return
    with store.engine.begin() as conn:
        for chunk in _chunks(ids, _CHUNK):
            conn.execute(
                delete(feed_item_picks).where(
                    feed_item_picks.c.channel == channel,
                    feed_item_picks.c.article_id.in_(chunk),
                )
            )
        _forget_targets(conn, channel, ids)


def forget_other_channels(store: Store, keep: Collection[str]) -> None:
    """Remove the stored picks of every channel not named in ``keep`` (no longer
    configured)."""
    with store.engine.begin() as conn:
        conn.execute(delete(feed_item_picks).where(feed_item_picks.c.channel.not_in(list(keep))))
        conn.execute(
            delete(feed_pick_targets).where(feed_pick_targets.c.channel.not_in(list(keep)))
        )


def articles_by_id(store: Store, ids: Iterable[str], *, bodies: bool = True) -> dict[str, Article]:
    """The stored articles among ``ids``, by id (an id not in the store is left out).

    With ``bodies=False`` every ``body_html`` is empty: enough for a link (title, URL)
    and the pick rules (source, section, tags, dates, story), at a fraction of the reading.
    """
    columns = (
        list(articles.c)
        if bodies
        else [
            *(c for c in articles.c if c.name != "body_html"),
            literal("", Text).label("body_html"),
        ]
    )
    found: dict[str, Article] = {}
    with store.engine.connect() as conn:
        for chunk in _chunks(sorted(set(ids)), _CHUNK):
            for row in conn.execute(select(*columns).where(articles.c.id.in_(chunk))):
                found[row.id] = _article(row)
    return found
