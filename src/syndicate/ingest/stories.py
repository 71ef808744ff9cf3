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
from syndicate.ingest.signature import signature
from syndicate.models import Article, CleanEntry

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from scipy import sparse

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


def assign_stories(
    newcomers: Sequence[Newcomer], peers: Sequence[StoryPeer], rules: StoryRules
) -> dict[str, str]:
    """Each newcomer's cluster id (its own id when it matches nothing).

    Pure. Newcomers are placed oldest first (then by id), each after the ones before
    it, so the first of a story to arrive names the cluster, in one run as across runs.
    Shared words are counted for every (newcomer, candidate) pair at once, as one sparse
    product over the window: exact, and milliseconds for thousands of candidates.
    """
    ordered = sorted(newcomers, key=lambda n: (n.published_at, n.id))
    if not peers and len({n.source for n in ordered}) < 2:
        return {n.id: n.id for n in ordered}  # one source's articles never match each other
    # numpy and scipy are imported when there is something to compare (as ranking does).
    import numpy as np

    ids = [p.id for p in peers] + [n.id for n in ordered]
    sources = [p.source for p in peers] + [n.source for n in ordered]
    clusters = [p.story_key for p in peers] + [n.id for n in ordered]
    url_keys = [p.url_key for p in peers] + [n.url_key for n in ordered]
    times = [p.published_at for p in peers] + [n.published_at for n in ordered]
    published = np.array([t.timestamp() for t in times], dtype=np.float64)
    source_code = {name: n for n, name in enumerate(sorted(set(sources)))}
    codes = np.array([source_code[name] for name in sources], dtype=np.int64)
    signatures = [p.signature for p in peers] + [n.signature for n in ordered]
    sizes = np.array([len(s) // 4 for s in signatures], dtype=np.float64)
    shared = _shared_words(signatures, len(peers))
    by_url: dict[str, list[int]] = {}
    for position, key in enumerate(url_keys[: len(peers)]):
        if key:
            by_url.setdefault(key, []).append(position)
    window = rules.window.total_seconds()
    placed: dict[str, str] = {}
    for row, newcomer in enumerate(ordered):
        position = len(peers) + row
        same_page = [p for p in by_url.get(newcomer.url_key, ()) if sources[p] != newcomer.source]
        if newcomer.url_key and same_page:
            best = min(same_page, key=lambda p: (published[p], ids[p]))
            clusters[position] = clusters[best]
        else:
            start, stop = shared.indptr[row], shared.indptr[row + 1]
            others, counts = shared.indices[start:stop], shared.data[start:stop]
            scores = counts / (sizes[others] + sizes[position] - counts)
            fit = (
                (others < position)  # stored, or placed earlier in this run
                & (codes[others] != codes[position])
                & (np.abs(published[others] - published[position]) <= window)
                & (scores >= rules.similarity)
            )
            if fit.any():
                found = others[fit].tolist()
                score = dict(zip(found, scores[fit].tolist(), strict=True))
                best = min(found, key=lambda p: (-score[p], published[p], ids[p]))
                clusters[position] = clusters[best]
        if newcomer.url_key:
            by_url.setdefault(newcomer.url_key, []).append(position)
        placed[newcomer.id] = clusters[position]
    return placed


def _shared_words(signatures: list[bytes], first: int) -> sparse.csr_matrix:
    """How many words each of ``signatures[first:]`` shares with every signature: a
    sparse (newcomers × all) matrix. Only the newcomers' words are counted, so a poll
    that brings five articles costs little however full the window is."""
    import numpy as np
    from scipy import sparse

    sizes = [len(s) // 4 for s in signatures]
    shape = (len(signatures) - first, len(signatures))
    values = feature_array(b"".join(signatures))
    rows = np.repeat(np.arange(len(signatures)), sizes)
    wanted = values[rows >= first]
    if not len(wanted):
        return sparse.csr_matrix(shape, dtype=np.float64)
    keep = np.isin(values, wanted)
    _, columns = np.unique(values[keep], return_inverse=True)
    members = sparse.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float64), (rows[keep], columns.ravel())),
        shape=(len(signatures), int(columns.max()) + 1),
    )
    return sparse.csr_matrix(members[first:] @ members.T)


def feature_array(stored: bytes) -> npt.NDArray[np.uint32]:
    """The word hashes of stored signatures (concatenated), as one array."""
    import numpy as np

    usable = len(stored) - len(stored) % 4
    return np.frombuffer(stored[:usable], dtype="<u4").astype(np.uint32)


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
    sources = {n.source for n in newcomers}
    only = next(iter(sources)) if len(sources) == 1 else None
    peers = story_peers(store, (n.url_key for n in newcomers), spans, other_than=only)
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
