"""Why an article gets the "More from" picks it gets: each signal's part, and the
best-scoring candidates that were turned away, with the reason.

``syndicate related ARTICLE`` and ``related --all --json`` print what
:func:`explain` returns. The picks are the per-story picks of
:meth:`RelatedIndex.pick_per_story`; the reasons a candidate is refused are
:meth:`RelatedIndex.refusal`'s (``story``, ``cluster``, ``excluded``, ``ban``) plus
``source`` (its source has ``related = false``), ``near-copy`` (its text is a copy of
the story's or of a pick's) and ``cluster`` also for the same story as a pick.
:func:`audit_pool` reads what the explanation needs from the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from syndicate.config import ChannelConfig, Settings
from syndicate.models import Article
from syndicate.related.ranking import RelatedIndex, Signals
from syndicate.related.terms import Candidate
from syndicate.store import Store
from syndicate.store.channels import iter_channel_articles
from syndicate.store.editions import recent_editions

SIGNALS = ("text", "section", "tag", "author", "semantic")


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate with each signal's part of its score for the story."""

    article: Article
    parts: dict[str, float]
    reason: str = ""  # why it may not be a pick ("" for a pick)
    pinned: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON object ``related --json`` prints for it."""
        out: dict[str, Any] = {
            "id": self.article.id,
            "title": self.article.title,
            "url": self.article.url,
            "source": self.article.source,
            "signals": self.parts,
        }
        if self.reason:
            out["reason"] = self.reason
        else:
            out["pinned"] = self.pinned
        return out


@dataclass(frozen=True, slots=True)
class Explanation:
    """An article's picks and the refused candidates that scored best."""

    article: Article
    picks: list[Scored]
    refused: list[Scored] = field(default_factory=list)
    channel: str | None = None

    def to_json(self) -> dict[str, Any]:
        """One JSON object: the article, its picks, the refused candidates."""
        return {
            "article": {
                "id": self.article.id,
                "title": self.article.title,
                "url": self.article.url,
            },
            "channel": self.channel,
            "picks": [p.to_json() for p in self.picks],
            "excluded": [r.to_json() for r in self.refused],
        }


def _parts(signals: Signals, position: int) -> dict[str, float]:
    values = {
        "text": float(signals.text[0, position]),
        "section": float(signals.section[0, position]),
        "tag": float(signals.tag[0, position]),
        "author": float(signals.author[0, position]),
        "semantic": float(signals.semantic[0, position]),
    }
    values["decay"] = float(signals.decay[0, position])
    values["total"] = sum(values[name] for name in SIGNALS) * values["decay"]
    return {name: round(value, 4) for name, value in values.items()}


@dataclass(frozen=True, slots=True)
class PoolRows:
    """The index's rows (made from its columns), their positions by id, and the ids
    whose source may not give picks: what every explanation over one index shares."""

    rows: list[Candidate]
    position: dict[str, int]
    by_source: frozenset[str]


def pool_rows(index: RelatedIndex, not_related_sources: frozenset[str]) -> PoolRows:
    """:class:`PoolRows` of ``index`` (one pass over the pool)."""
    rows = index.articles
    return PoolRows(
        rows,
        {a.id: n for n, a in enumerate(rows)},
        frozenset(a.id for a in rows if a.source in not_related_sources),
    )


def explain(
    index: RelatedIndex,
    article: Article,
    k: int = 4,
    *,
    banned: frozenset[str] = frozenset(),
    not_related_sources: frozenset[str] = frozenset(),
    remembered: frozenset[str] = frozenset(),
    reference: datetime | None = None,
    refused: int = 5,
    channel: str | None = None,
    pool: PoolRows | None = None,
) -> Explanation:
    """``article``'s k picks from ``index`` with each signal's part, and the ``refused``
    best-scoring candidates that may not be picks, each with its reason.

    ``index`` may hold articles of sources in ``not_related_sources``: they are never
    picks (reason ``source``), as in a digest, where they are not even candidates.
    ``remembered`` are the articles one reader already received (reason ``memory``:
    per-reader memory, ``related_memory_days``). ``pool`` is :func:`pool_rows` of the
    index, made once when explaining many articles.
    """
    pool = pool or pool_rows(index, not_related_sources)
    rows, position, by_source = pool.rows, pool.position, pool.by_source
    exclude = banned | by_source | remembered
    picks = index.pick_per_story([article], k, exclude=exclude, reference=reference)[article.id]
    signals = index.signals([article], reference)
    scored = [
        Scored(p, _parts(signals, position[p.id]), pinned=p.id in article.related_pins)
        for p in picks
    ]
    picked = {p.id for p in picks}
    context = _Context(
        banned,
        by_source,
        remembered,
        {p.story_key for p in picks},
        [position[p.id] for p in picks],
    )
    turned_away: list[tuple[int, str]] = []
    for n in np.argsort(-signals.combined()[0], kind="stable"):
        if len(turned_away) >= refused:
            break
        candidate = rows[int(n)]
        if candidate.id in picked or candidate.id == article.id:
            continue
        reason = _reason(index, candidate, article, context, int(n))
        if reason:
            turned_away.append((int(n), reason))
    # The pool keeps only what ranking reads: the refused ones' titles and URLs are
    # loaded here, in one read.
    full = index.load([rows[n].id for n, _ in turned_away])
    refused_scored = [
        Scored(a, _parts(signals, n), reason)
        for a, (n, reason) in zip(full, turned_away, strict=True)
    ]
    return Explanation(article, scored, refused_scored, channel)


@dataclass(frozen=True, slots=True)
class _Context:
    banned: frozenset[str]
    by_source: frozenset[str]
    remembered: frozenset[str]
    pick_clusters: set[str]
    pick_rows: list[int]


def _reason(
    index: RelatedIndex,
    candidate: Article | Candidate,
    story: Article,
    context: _Context,
    position: int,
) -> str:
    if candidate.id in context.by_source:
        return "source"
    why = index.refusal(candidate, [story], set(context.banned))
    if not why and candidate.id in context.remembered:
        return "memory"
    if why:
        return why
    if candidate.story_key in context.pick_clusters:
        return "cluster"
    # The same test as picking: the text vectors before feedback.
    if index.near_copy(position, index.story_vectors([story]), context.pick_rows):
        return "near-copy"
    return ""


def audit_pool(
    store: Store, settings: Settings, channel: ChannelConfig | None, now: datetime
) -> tuple[list[Article], frozenset[str]]:
    """The candidates an explanation ranks and the ids it bans.

    Without a channel: every article in the store, nothing banned. With one: its
    ``related_pool`` (site or channel) and, banned, the stories and picks of its last
    ``exclude_last_editions`` editions, as composing its next edition would. Articles
    of sources with ``related = false`` stay in, so their refusal can be shown.
    """
    if channel is None:
        return list(store.iter_articles(until=now)), frozenset()
    if channel.digest.related_pool == "site":
        pool = list(store.iter_articles(until=now))
    else:
        pool = list(iter_channel_articles(store, channel, until=now))
    recent = recent_editions(
        store, channel.name, before=now, limit=max(1, channel.digest.exclude_last_editions)
    )
    banned: set[str] = set()
    for record in recent[: channel.digest.exclude_last_editions]:
        banned.update(record.article_ids, record.related_ids)
    return pool, frozenset(banned)


def explain_all(
    index: RelatedIndex, articles: Sequence[Article], k: int, **options: Any
) -> Iterator[Explanation]:
    """:func:`explain` for each of ``articles``, one at a time (for streaming); the
    pool's rows are made once, not once per article."""
    pool = pool_rows(index, options.get("not_related_sources", frozenset()))
    for article in articles:
        yield explain(index, article, k, pool=pool, **options)
