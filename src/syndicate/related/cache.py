"""The persistent related index: each process keeps the store's term vectors in memory.

The first ranking in a process reads ``related_terms`` once (no article text, no
re-vectorising); every later one asks the store only for rows written since its
watermark (and, when the row count says some went, which ids remain), merges them, and
recomputes the pool statistics in one vectorised pass. Several processes on one
PostgreSQL store (the Celery deployment) each keep their own copy, refreshed from the
shared table: nothing to rebuild, nothing to coordinate.

:func:`related_index` is what compose and the feed builder call: the index of the
"More from" pool of a channel (``related_pool`` semantics: the site's or the channel's
articles, sources allowed as picks, published before ``until``) over the cached vectors.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse

from syndicate.config import ChannelConfig, Settings
from syndicate.errors import StoreError
from syndicate.related import snapshot as snapshots
from syndicate.related.pool import (
    Facts,
    FactsBuilder,
    Pool,
    TermRows,
    TermRowsBuilder,
    folded,
    micros,
)
from syndicate.related.ranking import Embed, RelatedIndex, RelatedWeights, Vectors
from syndicate.related.sync import sync_terms
from syndicate.store import Store
from syndicate.store.changes import change_tracking, changes_since, last_change
from syndicate.store.related_terms import (
    TermsRow,
    articles_state,
    iter_terms,
    record_snapshot,
    snapshot_token,
    terms_count,
    terms_ids,
    terms_of,
    terms_size,
    terms_stamps,
    terms_state,
)

log = logging.getLogger(__name__)

# Changed articles beyond which a sync checks the whole table (one query) rather than
# each of them.
MAX_SYNCED = 2_000
# Rows are re-read this far behind the watermark: a transaction that started earlier
# may commit rows stamped before the newest one already seen.
OVERLAP = timedelta(minutes=2)
# Change-log entries a pool may move past its snapshot on file before it is saved again:
# a new process catches up on at most this many (far below MAX_SYNCED, so it does so
# change by change), and a save (tens of ms at 50,000 articles) is rare.
SAVE_AFTER = 200


def _add(facts: FactsBuilder, row: TermsRow) -> None:
    facts.add(
        row.id,
        row.source,
        row.section,
        row.tags,
        row.authors,
        row.published_at,
        row.story,
        row.related_exclude,
        row.indexed_at,
    )


class _Unbuilt:
    """A snapshot's pool not built yet: what a catch-up reads of the pool it merges
    into, so that the pool is built once, with the changes, not once before them."""

    def __init__(self, facts: Facts, rows: TermRows) -> None:
        self.facts, self.rows, self.ids = facts, rows, facts.ids
        self.position = dict(zip(self.ids, range(len(self.ids)), strict=True))

    def __len__(self) -> int:
        return len(self.ids)

    def built(self) -> Pool:
        return Pool(self.facts, self.rows)


class StoredIndex:
    """One store's pool of term vectors, loaded once and refreshed from what changed."""

    def __init__(self) -> None:
        self.pool: Pool | None = None
        self._unbuilt: _Unbuilt | None = None  # a snapshot's pool, until the first look
        self.watermark: datetime | None = None
        self._state: tuple[int, datetime | None] = (0, None)
        self._articles: tuple[int, datetime | None, datetime | None] = (0, None, None)
        self._tracking: bool | None = None  # whether the store keeps a change log
        self._synced = 0  # the change log's newest entry at the last sync
        self._saved: int | None = None  # ``_synced`` of the snapshot on file, if ours
        self._saved_watermark: datetime | None = None  # and its watermark
        self._overlap = 0  # rows the last look found within the overlap
        self._lock = threading.Lock()

    def _held(self) -> Pool | _Unbuilt | None:
        """The pool as it stands, built or not."""
        return self.pool if self._unbuilt is None else self._unbuilt

    def _changed(self, id: str, indexed_at: datetime) -> bool:
        """Whether row ``id`` written at ``indexed_at`` differs from the pool's copy
        (the overlap finds some it holds already)."""
        pool = self._held()
        at = None if pool is None else pool.position.get(id)
        return at is None or int(pool.facts.stamps[at]) != micros(indexed_at)  # type: ignore[union-attr]

    def refresh(self, store: Store, snapshot: Path | None = None) -> Pool:
        """The up-to-date pool.

        The first look in a process syncs the table (``sync_terms``: articles without a
        row get one); later looks sync only the articles the store's change log says
        changed since (:mod:`syndicate.store.changes`), so a warm ranking asks the store
        for an index probe and nothing else when nothing changed, and checks a new
        article's row alone, not the whole table. A store without the log's triggers
        syncs whole again when the articles' count or newest stamps moved.

        With ``snapshot`` (a file, :mod:`syndicate.related.snapshot`) and a change log,
        the first look starts from the pool saved there when the store vouches for it
        (it holds the snapshot's token) and catches up from the log as a later look
        does, instead of reading the whole table; and the pool is saved there when no
        snapshot of ours is on file or the log has moved ``SAVE_AFTER`` entries past it.
        """
        with self._lock:
            if self.pool is None and snapshot is not None:
                self._restore(store, snapshot)
            pool = self._refreshed(store)
            if snapshot is not None:
                self._save_if_due(store, snapshot)
            return pool

    def _refreshed(self, store: Store) -> Pool:
        self._sync(store)
        state = terms_state(store)
        if state == self._state:  # nothing written or removed since the last look
            if self._unbuilt is not None:
                self.pool, self._unbuilt = self._unbuilt.built(), None
            if self.pool is not None:
                return self.pool
        if self._held() is None or self.watermark is None:
            count, size = terms_size(store)
            self.pool = self._merge(iter_terms(store), TermRowsBuilder(count, size // 4))
        else:
            # Rows written since the watermark, less the overlap: their stamps first (an
            # index read), then only those the pool lacks (right after a bulk index the
            # overlap holds the whole table, which must not be read again at each look).
            since = self.watermark - OVERLAP
            stamps = terms_stamps(store, since)
            self._overlap = len(stamps)
            stale = [i for i, at in stamps if self._changed(i, at)]
            changed = terms_of(store, stale) if stale else []
            if changed:
                size = sum(len(r.term_ids) for r in changed)
                self.pool = self._merge(changed, TermRowsBuilder(len(changed), size // 4))
        if self._unbuilt is not None:  # the overlap held nothing new after all
            self.pool, self._unbuilt = self._unbuilt.built(), None
        assert self.pool is not None
        # Rows were deleted. (The count read with the state stands for the table's
        # unless they differ: a deletion just after it is seen at the next look, whose
        # state has moved.)
        if len(self.pool) != state[0] and len(self.pool) != terms_count(store):
            self.pool = self._keep(terms_ids(store))
        self._state = state
        return self.pool

    def _restore(self, store: Store, path: Path) -> None:
        """Start from the snapshot in ``path`` if it is this store's as it stands."""
        if not self._tracks(store):
            return  # without the log a new process could not tell what changed since
        saved = snapshots.load(path)
        if saved is None:
            return
        if saved.store != _store_key(store) or snapshot_token(store, _name(path)) != saved.token:
            log.info(
                "related index snapshot %s is not this store's as it stands (another "
                "store, or restored from a backup): reading the whole table",
                path,
            )
            return
        self._unbuilt = _Unbuilt(saved.facts, saved.rows)  # built with the catch-up
        self.watermark, self._state = saved.watermark, saved.state
        self._synced = self._saved = saved.synced
        self._saved_watermark = saved.watermark

    def _save_if_due(self, store: Store, path: Path) -> None:
        if not self._tracking or self.pool is None:
            return
        recent = self._saved is not None and self._synced - self._saved < SAVE_AFTER
        if recent and not self._overlap_would_shrink():
            return
        self._saved = self._synced  # tried: not again before SAVE_AFTER more changes
        self._saved_watermark = self.watermark
        token = secrets.token_hex(16)
        taken = snapshots.Snapshot(
            store=_store_key(store),
            token=token,
            synced=self._synced,
            watermark=self.watermark,
            state=self._state,
            facts=self.pool.facts,
            rows=self.pool.rows,
        )
        if not snapshots.save(path, taken):
            return
        try:
            # After the file: a crash between the two leaves a token that does not
            # match, and the snapshot is not used.
            record_snapshot(store, _name(path), token)
        except StoreError as err:
            log.warning("related index snapshot %s not recorded: %s", path, err)

    def _overlap_would_shrink(self) -> bool:
        """Whether saving now would spare the next process most of the overlap's rows:
        the last look found many (``SAVE_AFTER`` or more) within it, as after a bulk
        index that is the newest thing in the snapshot, and fewer than half of them are
        within the overlap of the watermark as it is now. Without this a new process
        would read the stamps of the whole bulk at each start until the log has moved
        ``SAVE_AFTER`` changes (weeks, on a site that publishes a few articles a day)."""
        if self._overlap < SAVE_AFTER or self.pool is None or self.watermark is None:
            return False
        if self.watermark == self._saved_watermark:
            return False
        since = micros(self.watermark - OVERLAP)
        return int((self.pool.facts.stamps >= since).sum()) * 2 < self._overlap

    def _tracks(self, store: Store) -> bool:
        """Whether the store keeps the change log (asked once per process)."""
        if self._tracking is None:
            self._tracking = change_tracking(store)
        return self._tracking

    def _sync(self, store: Store) -> None:
        if not self._tracks(store):
            seen = articles_state(store)
            if self.pool is None or seen != self._articles:
                sync_terms(store)
            self._articles = seen
            return
        newest = last_change(store)
        if self._held() is not None and newest == self._synced:
            return
        found = None if self._held() is None else changes_since(store, self._synced, MAX_SYNCED)
        if found is None:  # the first look, a gap in the log or many changes: all of it
            sync_terms(store)
        else:
            newest = found[0]
            sync_terms(store, among=[change.article_id for change in found[1]])
        self._synced = newest

    def _merge(self, rows: Iterable[TermsRow], terms: TermRowsBuilder) -> Pool:
        """The pool with ``rows`` added or replaced: kept rows stay where they are and
        the rest are appended (no re-sort, so no second copy of the pool's arrays)."""
        facts = FactsBuilder()
        for row in rows:
            if self.watermark is None or row.indexed_at > self.watermark:
                self.watermark = row.indexed_at
            _add(facts, row)
            terms.add(row.term_ids, row.term_counts, row.length)
        fresh = terms.build()
        del terms
        new_facts = facts.build()
        del facts
        old = self._held()
        self._unbuilt = None  # (merged here: the result is built)
        if old is None:
            return Pool(new_facts, fresh)
        replaced = [old.position[i] for i in new_facts.ids if i in old.position]
        old_facts, old_rows = old.facts, old.rows
        if not replaced:  # only new articles (the common refresh): grow the pool
            if isinstance(old, _Unbuilt):
                return Pool(old_facts.then(new_facts), old_rows.then(fresh))
            return Pool.extended(old, old_facts.then(new_facts), old_rows.then(fresh))
        keep = np.ones(len(old), dtype=bool)
        keep[replaced] = False
        self.pool = None  # the old weights go before the new ones are computed
        del old
        merged = old_rows.keep(keep).then(fresh)
        del old_rows, fresh
        return Pool(old_facts.keep(keep).then(new_facts), merged)

    def _keep(self, ids: set[str]) -> Pool:
        old = self.pool
        assert old is not None
        keep = np.fromiter((i in ids for i in old.ids), dtype=bool, count=len(old))
        old_facts, old_rows = old.facts, old.rows
        self.pool = None
        del old
        kept = old_rows.keep(keep)
        del old_rows
        return Pool(old_facts.keep(keep), kept)


_CACHES: dict[str, StoredIndex] = {}
_CACHES_LOCK = threading.Lock()


def _store_key(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=True)


def _name(path: Path) -> str:
    """The snapshot's name in the store: its file's absolute path, hashed (two
    instances with their own cache folders over one store keep a token each)."""
    return hashlib.sha256(str(path.absolute()).encode()).hexdigest()[:40]


def snapshot_path(store: Store, settings: Settings) -> Path | None:
    """Where the related index of ``store`` is kept between processes (``[related]
    snapshot`` and ``snapshot_dir``), ``None`` when it is not kept."""
    if not settings.related.snapshot:
        return None
    digest = hashlib.sha256(_store_key(store).encode()).hexdigest()[:16]
    return settings.resolve(settings.related.snapshot_dir) / f"{digest}.npz"


def stored_index(store: Store) -> StoredIndex:
    """This process's cache of ``store``'s term vectors (one per store URL)."""
    with _CACHES_LOCK:
        return _CACHES.setdefault(_store_key(store), StoredIndex())


def forget_stored_indexes() -> None:
    """Drop every cache (the next ranking loads from the store again)."""
    with _CACHES_LOCK:
        _CACHES.clear()


def pool_members(
    pool: Pool, settings: Settings, channel: ChannelConfig, until: datetime | None = None
) -> npt.NDArray[np.bool_]:
    """Which rows are "More from" candidates of ``channel`` (see ``store.channels.related_pool``):
    the site's or the channel's articles (filters case-insensitive, each non-empty one
    must match), not of a source whose articles may not be picks, published before
    ``until``."""
    members = np.ones(len(pool), dtype=bool)
    if until is not None:
        members &= pool.published < until.timestamp()
    banned = [pool.source_code[s] for s in settings.not_related_sources() if s in pool.source_code]
    members &= ~np.isin(pool.sources, banned)
    if channel.digest.related_pool == "site":
        return members
    filters = channel.filters
    if filters.sections:
        wanted = [pool.section_code.get(s, -3) for s in folded(filters.sections)]
        members &= np.isin(pool.sections, wanted)
    if filters.sources:
        members &= np.isin(pool.sources, [pool.source_code.get(s, -3) for s in filters.sources])
    if filters.tags:
        members &= _has_any(pool.tags, pool.tag_vocab, filters.tags)
    if filters.authors:
        members &= _has_any(pool.authors, pool.author_vocab, filters.authors)
    return members


def _has_any(
    labels: sparse.csr_matrix, vocab: dict[str, int], wanted: Iterable[str]
) -> npt.NDArray[np.bool_]:
    columns = [vocab[name] for name in folded(wanted) if name in vocab]
    if not columns:
        return np.zeros(labels.shape[0], dtype=bool)
    return np.asarray(labels[:, columns].sum(axis=1)).ravel() > 0


def related_index(
    store: Store,
    settings: Settings,
    channel: ChannelConfig,
    until: datetime | None = None,
    *,
    weights: RelatedWeights | None = None,
    embeddings: Mapping[str, Vectors] | None = None,
    embed: Embed | None = None,
) -> RelatedIndex:
    """The index of ``channel``'s "More from" pool before ``until``, from the cache."""
    pool = stored_index(store).refresh(store, snapshot_path(store, settings))
    return RelatedIndex.over(
        pool,
        store.get_articles,
        weights,
        members=pool_members(pool, settings, channel, until),
        embeddings=embeddings,
        embed=embed,
    )
