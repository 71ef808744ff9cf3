"""Incremental builds: follow the store's change log, touch only the documents it reaches.

A full build reads every article key of every channel. After it, the build remembers
(in ``<output>/.syndicate/incremental.json``) per channel: the last change of the
store's change log it has seen (:mod:`syndicate.store.changes`), a fingerprint of every
setting and of the renderer, how many items the channel had, and (in
``.syndicate/incremental/<channel>.json``) the place (publication time, id) of the item
at each multiple of ``items`` counted from the oldest — the first item of every archive
page, and of the tail the subscription document shows. Plus the modification time of
the folders it wrote, so a file removed behind its back is noticed.

The next build reads only the changes since then, per changed article the states it was
in before each change (:class:`~syndicate.store.changes.ArticleChange`), and the changed
articles as they are now. For each channel:

* an article that joined, left or moved in the channel (new, deleted, back-dated, or
  its section, tags… changed) shifts every item newer than it by one place: every page
  from the one it falls in (found by bisecting the remembered keys) is read again, with
  one indexed range query, to the newest;
* an article edited in place touches its own page only (one range query, ``items`` rows);
* with ``related_in_content``, the items whose stored picks point to a changed article
  (a reverse index, :func:`~syndicate.store.feedpicks.items_picking`) have their picks
  checked again, and their pages too; so do the items whose picks were chosen since
  (the log of chosen picks: another build sharing the store, ``--repick``);
* the subscription document is read with one ``LIMIT`` query.

Every page read is fingerprinted as in a full build (:mod:`.archives`), so a page that
did not in fact change is not rewritten. The full path runs instead when there is no
remembered state, a setting or the renderer changed, ``--repick``, the change log has
more than :data:`MAX_CHANGES` rows to follow, its triggers are missing, a watched folder
changed, or a change was committed while the build read (it cannot tell which side of
its reads the change fell on: the next build is a full one).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from syndicate.config import ChannelConfig, Settings
from syndicate.feeds.archives import ArticleKey
from syndicate.feeds.buildstate import (
    STATE,
    VERSION,
    ChannelState,
    Place,
    block_of,
    channel_state,
    load_places,
    mark,
    older,
    place,
    save_places,
    sort_key,
    unchanged,
    write_if_changed,
)
from syndicate.feeds.documents import STATE_DIR
from syndicate.feeds.writer import read_json
from syndicate.models import Article
from syndicate.store import Store
from syndicate.store.changes import (
    ArticleChange,
    change_tracking,
    changes_since,
    last_change,
    prune_logs,
)
from syndicate.store.channels import matches
from syndicate.store.feedpicks import items_picking, last_pick_change, picks_chosen_since
from syndicate.store.fragments import SortKey, iter_light_articles

__all__ = ["MAX_CHANGES", "STATE", "ChannelView", "Memory", "channel_state", "full_view"]

MAX_CHANGES = 2_000  # change-log rows beyond which a full read is the cheaper way


@dataclass
class ChannelView:
    """The part of a channel a build reads: how many items it has, its newest, the
    archive pages to fingerprint (``pages_to_check``: page → its items, newest first),
    and for ``related_in_content`` the items whose picks must be checked.

    A full view (``partial`` False) holds every key; an incremental one only these, or
    nothing when no change reaches the channel (``unchanged``).
    ``removed`` are items the channel no longer carries (their picks and fragments go),
    ``bounds`` the first key of each block after the build.
    """

    total: int
    pages: int
    newest: list[ArticleKey]
    pages_to_check: dict[int, list[ArticleKey]]
    partial: bool
    keys: list[ArticleKey] = field(default_factory=list)
    pick_items: list[ArticleKey] = field(default_factory=list)
    removed: set[str] = field(default_factory=set)
    bounds: list[Place] | None = None  # None: as they were (an unchanged channel)
    old_pages: int = 0
    unchanged: bool = False  # no change reaches the channel: nothing to read or write


def full_view(channel: ChannelConfig, keys: list[ArticleKey]) -> ChannelView:
    """The view of a full build: every key (newest first) and every page."""
    size = channel.items
    pages = len(keys) // size if channel.archives else 0
    total = len(keys)
    return ChannelView(
        total=total,
        pages=pages,
        newest=keys[:size],
        pages_to_check={},
        partial=False,
        keys=keys,
        pick_items=keys,
        bounds=[place(keys[total - 1 - start]) for start in range(0, total, size)],
    )


@dataclass
class Memory:
    """What this build knows from the last one, and what it leaves to the next.

    :meth:`open` reads the remembered state and the changes since; :meth:`view` gives a
    channel's incremental view (``None``: build it in full); :meth:`save` records the
    state after the build.
    """

    store: Store
    settings: Settings
    root: Path
    channels: Sequence[ChannelConfig]  # every configured channel
    seq: int = 0  # every change up to this one is followed by this build
    picks_seq: int = 0  # the log of chosen picks when the build started
    repicked: dict[str, set[str]] = field(default_factory=dict)  # by channel, since
    states: dict[str, ChannelState] = field(default_factory=dict)
    changes: list[ArticleChange] = field(default_factory=list)
    current: dict[str, Article] = field(default_factory=dict)  # changed articles, as now
    known: list[str] = field(default_factory=list)  # the channels of the last full build
    tracking: bool = False
    saved: dict[str, Any] = field(default_factory=dict)  # other channels' states, kept
    fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """True when every configured channel's folders are as the last build left them
        (no file added or removed since, so no temporary file of a killed build)."""
        return bool(self.channels) and len(self.states) == len(self.channels)

    def fingerprint(self, channel: ChannelConfig) -> str:
        """:func:`channel_state` of ``channel``, worked out once per build."""
        if channel.name not in self.fingerprints:
            self.fingerprints[channel.name] = channel_state(self.settings, channel)
        return self.fingerprints[channel.name]

    @classmethod
    def open(
        cls,
        store: Store,
        settings: Settings,
        root: Path,
        channels: Sequence[ChannelConfig],
        *,
        repick: bool,
    ) -> Memory:
        """The state of the last build of ``root`` and the store's changes since."""
        memory = cls(store, settings, root, channels)
        memory.tracking = change_tracking(store)
        if not memory.tracking:
            return memory
        memory.seq, memory.picks_seq = last_change(store), last_pick_change(store)
        saved = read_json(root / STATE)
        if saved.get("version") != VERSION:
            return memory
        memory.known = [str(name) for name in saved.get("known", [])]
        dirs = saved.get("dirs", {})
        if not all(unchanged(root / name, dirs.get(name)) for name in _DIRS):
            return memory  # a file removed or added behind our back: read everything
        memory.saved = dict(saved.get("channels", {}))
        if repick:
            return memory
        for channel in channels:
            try:
                state = ChannelState.from_json(memory.saved[channel.name])
            except (KeyError, ValueError, TypeError):
                continue
            if state.settings != memory.fingerprint(channel):
                continue
            if state.seq > memory.seq or state.picks > memory.picks_seq:
                continue  # the store went back (a restored copy): read everything
            folder = root / "feeds" / channel.name / "archive"
            paged = channel.archives and state.total >= channel.items
            if paged and not unchanged(folder, state.archive):
                continue
            memory.states[channel.name] = state
        if memory.states:
            memory._read_changes(min(s.seq for s in memory.states.values()))
        if memory.states:
            since = min(s.picks for s in memory.states.values())
            repicked = picks_chosen_since(store, since, MAX_CHANGES)
            if repicked is None:
                memory.states.clear()
            else:
                memory.repicked = repicked
        return memory

    def _read_changes(self, since: int) -> None:
        found = changes_since(self.store, since, MAX_CHANGES)
        if found is None:  # too many to follow one by one
            self.states.clear()
            return
        self.seq, self.changes = max(self.seq, found[0]), found[1]
        ids = [change.article_id for change in self.changes]
        if ids:
            self.current = {a.id: a for a in iter_light_articles(self.store, ids=ids)}

    def view(self, channel: ChannelConfig) -> ChannelView | None:
        """The channel's incremental view, or ``None`` when it must be read whole.

        Channels built alone (``only``) may remember different points of the log: the
        changes are read from the oldest, and a change a channel followed already is
        followed again (it costs reading a range, never a wrong file: every range read
        is read from the store as it is).
        """
        state = self.states.get(channel.name)
        if state is None:
            return None
        repicked = self.repicked.get(channel.name, set())
        reader = _Reader(self.store, self.root, channel, state, self.changes, self.current)
        reader.repicked = repicked
        return reader.view()

    def save(
        self, built: Mapping[str, ChannelView | None], *, complete: bool, picks_saved: int = 0
    ) -> None:
        """Record the state after the build: each channel in ``built`` (its view;
        ``None`` for a channel that failed) and the others as they were. ``complete``:
        every configured channel was built, so their list is the one remembered.
        ``picks_saved``: how many items' picks this build chose (logged by it)."""
        if not self.tracking:
            return
        raced = last_change(self.store) != self.seq
        # The picks log moved by this build's own entries only: they are shown already.
        # Otherwise another build chose some meanwhile: from the start, to check them.
        picks_now = last_pick_change(self.store)
        picks_seen = picks_now if picks_now - self.picks_seq == picks_saved else self.picks_seq
        channels = {} if raced else dict(self.saved)
        by_name = {c.name: c for c in self.channels}
        for name, view in built.items():
            channels.pop(name, None)
            if view is None or raced:
                continue
            if view.bounds is not None:
                digest = save_places(self.root, name, view.bounds)
            else:
                digest = str(self.saved[name]["bounds"])  # read at the start: still there
            state = ChannelState(
                self.seq,
                self.fingerprint(by_name[name]),
                view.total,
                digest,
                mark(self.root / "feeds" / name / "archive"),
                picks_seen,
            )
            channels[name] = state.to_json()
        data = {
            "version": VERSION,
            "known": sorted(by_name) if complete else self.known,
            "dirs": {name: mark(self.root / name) for name in _DIRS},
            "channels": channels,
        }
        encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        write_if_changed(self.root / STATE, encoded)

    def prune(self) -> None:
        """Drop the change logs' rows too old for any incremental build to follow (a
        build remembering an older point finds the gap and reads everything)."""
        if self.tracking:
            prune_logs(self.store)


_DIRS = ("feeds", f"{STATE_DIR}/pages")


@dataclass
class _Moves:
    """What a channel's changes did (:meth:`_Reader._classify`)."""

    shifted: list[Place] = field(default_factory=list)
    edited: list[Place] = field(default_factory=list)
    removed: set[str] = field(default_factory=set)
    now_in: list[str] = field(default_factory=list)


@dataclass
class _Reader:
    """One channel's incremental view (see the module's docstring)."""

    store: Store
    root: Path
    channel: ChannelConfig
    state: ChannelState
    changes: list[ArticleChange]
    current: Mapping[str, Article]
    repicked: set[str] = field(default_factory=set)  # items whose picks were chosen since

    def _read(self, **bounds: Any) -> Iterator[ArticleKey]:
        filters = self.channel.filters
        for article in iter_light_articles(
            self.store,
            sections=filters.sections,
            sources=filters.sources,
            authors=bool(filters.authors),
            **bounds,
        ):
            if matches(filters, article):
                yield ArticleKey.of(article)

    def view(self) -> ChannelView | None:
        size, state = self.channel.items, self.state
        moves = self._classify()
        touched = self._linking(moves.removed)
        moves.edited.extend(place(k) for k in touched)
        if not (moves.shifted or moves.edited or moves.removed):
            return self._unchanged()  # nothing of the channel changed
        state.bounds = load_places(self.root, self.channel.name, state.bounds_hash)
        if state.bounds is None:
            return None
        region: list[ArticleKey] = []  # newest first, from block ``first`` on
        first, total = len(state.bounds), state.total
        if moves.shifted:
            oldest = moves.shifted[0]
            for key in moves.shifted[1:]:
                if older(key, oldest):
                    oldest = key
            block = block_of(state.bounds, oldest)
            first = max(block, 0)
            # From the first key of the block the oldest change falls in; from the very
            # first article when it falls before every block (or there was none).
            since = sort_key(state.bounds[first]) if block >= 0 else None
            region = list(self._read(since=since))
            total = first * size + len(region)
        check = self._pages(first, region[::-1], total, moves.edited)
        newest = region[:size] if len(region) >= size else self._newest(min(size, total))
        new_bounds = list(state.bounds[:first]) + [
            place(region[-1 - start]) for start in range(0, len(region), size)
        ]
        if check is None or len(newest) != min(size, total) or len(new_bounds) != -(-total // size):
            return None  # the remembered state does not hold: read the channel whole
        in_docs = {k.id: k for members in check.values() for k in members}
        in_docs.update((k.id, k) for k in (*newest, *touched))
        if missing := [i for i in moves.now_in if i not in in_docs]:
            in_docs.update((k.id, k) for k in self._read(ids=missing))
        return ChannelView(
            total=total,
            pages=total // size if self.channel.archives else 0,
            newest=newest,
            pages_to_check=check,
            partial=True,
            pick_items=list(in_docs.values()),
            removed=moves.removed,
            bounds=new_bounds,
            old_pages=state.total // size if self.channel.archives else 0,
        )

    def _classify(self) -> _Moves:
        """What the changes did to the channel: which keys shift the items after them,
        which items were edited in place, which left."""
        moves, filters = _Moves(), self.channel.filters
        for change in self.changes:
            now = self.current.get(change.article_id)
            # Where it sat in the channel before each change: the state remembered is one
            # of them (the first, unless this channel followed some changes already).
            were = [place(b) for b in change.befores if b is not None and matches(filters, b)]
            if now is not None and matches(filters, now):
                moves.now_in.append(change.article_id)
                if len(were) == len(change.befores) and all(k == place(now) for k in were):
                    moves.edited.append(place(now))  # always there, never moved
                    continue
                moves.shifted.append(place(now))
            elif were:
                moves.removed.add(change.article_id)
            moves.shifted.extend(were)
        return moves

    def _linking(self, removed: set[str]) -> list[ArticleKey]:
        """With "More from" links: the channel's items whose stored picks point to a
        changed article (their picks are checked again, their pages fingerprinted), and
        those whose picks another build chose since (their pages are fingerprinted)."""
        if not self.channel.related_in_content or not (self.changes or self.repicked):
            return []
        changed = {c.article_id for c in self.changes}
        linking = items_picking(self.store, self.channel.name, changed) if changed else set()
        linking = (linking | self.repicked) - removed
        return list(self._read(ids=linking)) if linking else []

    def _pages(
        self, first: int, oldest_first: list[ArticleKey], total: int, edited: list[Place]
    ) -> dict[int, list[ArticleKey]] | None:
        """The pages to fingerprint and their items (newest first): every page from
        block ``first`` on (``oldest_first`` holds them), the previous newest page when
        the number of pages changed, and the pages of items edited in place below
        ``first`` (read by range). ``None`` when a page read is not full."""
        size, bounds, archives = self.channel.items, self.state.bounds or [], self.channel.archives
        pages = total // size if archives else 0
        old_pages = self.state.total // size if archives else 0
        wanted = set(range(first + 1, pages + 1))
        if pages != old_pages and min(pages, old_pages) >= 1:
            wanted.add(min(pages, old_pages))  # its next-archive link changes
        wanted.update(b + 1 for b in map(partial(block_of, bounds), edited) if 0 <= b < pages)
        check: dict[int, list[ArticleKey]] = {}
        for page in sorted(wanted):
            block = page - 1
            if block >= first:  # inside the range read already
                start = (block - first) * size
                check[page] = oldest_first[start : start + size][::-1]
                continue
            upper = bounds[block + 1] if block + 1 < len(bounds) else None
            check[page] = list(self._read(since=sort_key(bounds[block]), before=sort_key(upper)))
            if len(check[page]) != size:
                return None
        return check

    def _unchanged(self) -> ChannelView:
        pages = self.state.total // self.channel.items if self.channel.archives else 0
        return ChannelView(
            total=self.state.total,
            pages=pages,
            newest=[],
            pages_to_check={},
            partial=True,
            old_pages=pages,
            unchanged=True,
        )

    def _newest(self, count: int) -> list[ArticleKey]:
        """The channel's ``count`` newest keys: LIMIT queries, more when filters in
        Python (tags, authors) leave too few."""
        found: list[ArticleKey] = []
        before: SortKey | None = None
        batch = max(count * 2, 50)
        while len(found) < count:
            rows = list(
                iter_light_articles(
                    self.store,
                    sections=self.channel.filters.sections,
                    sources=self.channel.filters.sources,
                    authors=bool(self.channel.filters.authors),
                    before=before,
                    limit=batch,
                )
            )
            found.extend(ArticleKey.of(a) for a in rows if matches(self.channel.filters, a))
            if len(rows) < batch:
                break
            before = (rows[-1].published_at, rows[-1].id)
            batch *= 2
        return found[:count]
