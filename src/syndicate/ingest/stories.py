"""Story clusters: one story arriving from several sources is one cluster.

A new article joins the cluster of a stored article (or of one saved before it in the
same run) from **another source** when

* their links have the same comparison key (:func:`syndicate.ingest.canonical.url_key`:
  tracking parameters, scheme, ``www.``/``amp.``/``m.`` and AMP paths ignored), at any
  distance in time; or else
* their signatures (:mod:`syndicate.ingest.signature`: the words of title and lead)
  have a Jaccard similarity of at least ``[stories] similarity`` (0.35) and they were
  published at most ``[stories] window_days`` (3) apart.

Among several matches the same link wins, then the most similar, then the earliest
published. The cluster's id is its first article's id: that article keeps ``story = ""``
and each later member stores the id. A cluster never changes once made — a later
article joins it, a stored article is never moved — so an edition or a pick list
computed yesterday still means the same today. Articles of one source are never matched
with each other (a source's items are its own business; a feed that links every item to
one landing page would otherwise be one story).

What a cluster changes: an edition carries one member (:func:`one_per_story`: the
publisher's own, else the newest), a pick is never in a story's cluster and two picks
are never in one (:mod:`syndicate.related.ranking`). Feeds carry every member: they are
different publishers' items.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from syndicate.ingest.canonical import url_key
from syndicate.ingest.signature import features, signature
from syndicate.models import Article, CleanEntry

if TYPE_CHECKING:
    from syndicate.config import StorySettings
    from syndicate.store import Store
    from syndicate.store.stories import StoryPeer

log = logging.getLogger(__name__)

BACKFILL_BATCH = 500


@dataclass(frozen=True, slots=True)
class StoryRules:
    """When two articles are one story (``[stories]``; see the module docstring)."""

    similarity: float = 0.35
    window: timedelta = timedelta(days=3)
    enabled: bool = True

    @classmethod
    def from_settings(cls, settings: StorySettings) -> StoryRules:
        """The rules of a ``[stories]`` section."""
        return cls(settings.similarity, timedelta(days=settings.window_days), settings.enabled)


@dataclass(frozen=True, slots=True)
class Newcomer:
    """A new article to place in a cluster."""

    id: str
    source: str
    url_key: str
    signature: bytes
    published_at: datetime


@dataclass(slots=True)
class _Member:
    id: str
    source: str
    cluster: str
    url_key: str
    words: frozenset[int]
    published: float


class _ClusterIndex:
    """Candidates by link key and by shared words (an inverted index), in memory."""

    def __init__(self, rules: StoryRules) -> None:
        self.rules = rules
        self.members: list[_Member] = []
        self.by_url: dict[str, list[int]] = {}
        self.by_word: dict[int, list[int]] = {}

    def add(self, member: _Member) -> None:
        position = len(self.members)
        self.members.append(member)
        if member.url_key:
            self.by_url.setdefault(member.url_key, []).append(position)
        for word in member.words:
            self.by_word.setdefault(word, []).append(position)

    def cluster_for(self, newcomer: _Member) -> str:
        """The cluster ``newcomer`` joins: its best match's, or its own id."""
        others = [
            self.members[p] for p in self.by_url.get(newcomer.url_key, ()) if newcomer.url_key
        ]
        same_page = [m for m in others if m.source != newcomer.source]
        if same_page:
            return min(same_page, key=lambda m: (m.published, m.id)).cluster
        shared: dict[int, int] = {}
        for word in newcomer.words:
            for position in self.by_word.get(word, ()):
                shared[position] = shared.get(position, 0) + 1
        window = self.rules.window.total_seconds()
        best: tuple[float, float, str] | None = None  # (-similarity, published, id)
        cluster = newcomer.id
        for position, count in shared.items():
            member = self.members[position]
            if member.source == newcomer.source:
                continue
            if abs(member.published - newcomer.published) > window:
                continue
            score = count / (len(member.words) + len(newcomer.words) - count)
            rank = (-score, member.published, member.id)
            if score >= self.rules.similarity and (best is None or rank < best):
                best, cluster = rank, member.cluster
        return cluster


def assign_stories(
    newcomers: Sequence[Newcomer], peers: Iterable[StoryPeer], rules: StoryRules
) -> dict[str, str]:
    """Each newcomer's cluster id (its own id when it matches nothing).

    Pure. Newcomers are placed oldest first (then by id), each after the ones before
    it, so the first of a story to arrive names the cluster, in one run as across runs.
    """
    index = _ClusterIndex(rules)
    for peer in peers:
        index.add(
            _Member(
                peer.id,
                peer.source,
                peer.story_key,
                peer.url_key,
                features(peer.signature),
                peer.published_at.timestamp(),
            )
        )
    placed: dict[str, str] = {}
    for newcomer in sorted(newcomers, key=lambda n: (n.published_at, n.id)):
        member = _Member(
            newcomer.id,
            newcomer.source,
            newcomer.id,
            newcomer.url_key,
            features(newcomer.signature),
            newcomer.published_at.timestamp(),
        )
        member.cluster = index.cluster_for(member)
        placed[newcomer.id] = member.cluster
        index.add(member)
    return placed


def _spans(times: Iterable[datetime], window: timedelta) -> list[tuple[datetime, datetime]]:
    """``[t - window, t + window]`` for each time, overlapping spans merged."""
    spans: list[tuple[datetime, datetime]] = []
    for moment in sorted(times):
        low, high = moment - window, moment + window
        if spans and low <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], high))
        else:
            spans.append((low, high))
    return spans


def place_stories(
    store: Store, entries: Sequence[CleanEntry], now: datetime, rules: StoryRules
) -> dict[str, str]:
    """The cluster of each entry not stored yet (by id), for ``Store.save_entries``.

    Reads the store (the articles with the same link keys, and those published within
    the window of a new one); writes nothing.
    """
    from syndicate.store.stories import existing_ids, story_peers

    if not rules.enabled or not entries:
        return {}
    known = existing_ids(store, (e.id for e in entries))
    fresh: dict[str, CleanEntry] = {}
    for entry in entries:
        if entry.id not in known:
            fresh.setdefault(entry.id, entry)
    if not fresh:
        return {}
    newcomers = [
        Newcomer(e.id, e.source, e.url_key, e.signature, e.published_at or now)
        for e in fresh.values()
    ]
    spans = _spans((n.published_at for n in newcomers if n.signature), rules.window)
    peers = story_peers(store, (n.url_key for n in newcomers), spans)
    return assign_stories(newcomers, peers, rules)


def backfill(store: Store) -> int:
    """Compute the story keys of articles stored before they existed (migration 0009).

    Returns how many articles were done; they keep their own clusters.
    """
    from syndicate.store.stories import save_story_keys, unkeyed_articles

    done = 0
    while batch := unkeyed_articles(store, BACKFILL_BATCH):
        save_story_keys(
            store,
            [(a.id, url_key(a.url), signature(a.title, a.dek, a.body_html)) for a in batch],
        )
        done += len(batch)
    if done:
        log.info("story keys computed for %d stored articles", done)
    return done


def one_per_story(articles: Iterable[Article], own_sources: Collection[str]) -> list[Article]:
    """``articles`` with one member per story cluster, in their order.

    The member kept is the publisher's own (its source in ``own_sources``), else the
    newest; ties go to the lower id.
    """
    ordered = list(articles)
    chosen: dict[str, Article] = {}
    for article in ordered:
        current = chosen.get(article.story_key)
        if current is None or _preferred(article, current, own_sources):
            chosen[article.story_key] = article
    return [a for a in ordered if chosen[a.story_key] is a]


def _preferred(one: Article, other: Article, own_sources: Collection[str]) -> bool:
    one_own, other_own = one.source in own_sources, other.source in own_sources
    if one_own != other_own:
        return one_own
    if one.published_at != other.published_at:
        return one.published_at > other.published_at
    return one.id < other.id
