"""Feed items' "More from" picks (``related_in_content``): chosen once, stored, reused.

An item's picks are chosen from the articles published *before* it (the channel's
``related_pool``, the ``related`` rules of the ranking: never the item's own story
cluster, an article marked ``related_exclude``, or one of a source with
``related = false``), then stored in the ``feed_item_picks`` table
(:mod:`syndicate.store.feedpicks`). Every later build renders the stored picks, so new
articles never change an existing item's bytes, and archive pages stay byte-identical.

An item's picks are chosen again only when

* the item itself changed: its content hash (or its pinned picks) differ from the ones
  they were computed for (``edited``);
* the channel's related settings changed: ``related_k`` or ``related_pool``
  (``settings``);
* a stored pick may no longer be offered: it was deleted (``pick deleted``), marked
  ``related_exclude`` (``pick excluded``), its source is no longer allowed or it left the
  pool (``pick not allowed``), it joined the item's story cluster (``pick in story``), or
  the item's date moved before it (``pick not older``).

Then the whole list is chosen again, from the articles before the item as always, and
the item's bytes change once. A pick's link shows its current title and URL, so a
corrected title or a moved page reaches the items that link to it.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from syndicate.config import ChannelConfig, Settings
from syndicate.feeds.archives import ArticleKey
from syndicate.feeds.documents import Related, related_active
from syndicate.feeds.render import RelatedLink
from syndicate.models import Article
from syndicate.store import Store
from syndicate.store.channels import matches

if TYPE_CHECKING:
    from syndicate.related import RelatedIndex
from syndicate.store.feedpicks import (
    StoredPicks,
    articles_by_id,
    forget_picks,
    load_picks,
    save_picks,
)

__all__ = [
    "ChannelPicks",
    "channel_picks",
    "item_hash",
    "pick_before",
    "settings_key",
    "stale_reason",
]

log = logging.getLogger(__name__)

DEFAULT_K = 4  # links per item when the channel's related_k is 0 (the digest's "off")


def related_k(channel: ChannelConfig) -> int:
    """How many links each item carries."""
    return channel.digest.related_k or DEFAULT_K


def settings_key(channel: ChannelConfig) -> str:
    """A fingerprint of the channel's settings the picks depend on (k and the pool)."""
    material = {"k": related_k(channel), "pool": channel.digest.related_pool}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def item_hash(item: ArticleKey) -> str:
    """The item's content hash, folded with its pinned picks when it has any."""
    if not item.pins:
        return item.content_hash
    material = "\0".join((item.content_hash, *item.pins))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def stale_reason(
    item: ArticleKey,
    stored: StoredPicks | None,
    settings: str,
    picks: Mapping[str, Article],
    allowed: Callable[[Article], bool],
) -> str:
    """Why ``item``'s ``stored`` picks must be chosen again ("" when they still stand).

    ``picks`` holds the stored articles among the picks (a missing one was deleted);
    ``allowed`` says whether an article may be a pick of this channel at all (its source
    and the pool).
    """
    if stored is None:
        return "new"
    if stored.settings != settings:
        return "settings"
    if stored.item_hash != item_hash(item):
        return "edited"
    for pick_id in stored.pick_ids:
        pick = picks.get(pick_id)
        if pick is None:
            return "pick deleted"
        if pick.related_exclude:
            return "pick excluded"
        if not allowed(pick):
            return "pick not allowed"
        if pick.story_key == item.story_key:
            return "pick in story"
        if pick.published_at >= item.published_at:
            return "pick not older"
    return ""


@dataclass
class ChannelPicks:
    """A channel's items' "More from" links, ready for documents and archive fingerprints."""

    links: dict[str, tuple[RelatedLink, ...]] = field(default_factory=dict)
    computed: Counter[str] = field(default_factory=Counter)  # items picked anew, by reason

    def related_for(self, articles: Sequence[Article]) -> Related:
        """``{article.id: links}`` for the items of one document."""
        return {a.id: self.links[a.id] for a in articles if self.links.get(a.id)}

    def parts(self, article_id: str) -> list[list[str]]:
        """An item's links as strings, for an archive page's fingerprint."""
        return [[link.title, link.url] for link in self.links.get(article_id, ())]


def channel_picks(
    store: Store,
    settings: Settings,
    channel: ChannelConfig,
    items: Sequence[ArticleKey],
    now: datetime,
    *,
    repick: bool = False,
    partial: bool = False,
    gone: Collection[str] = (),
) -> ChannelPicks:
    """The links of every item of ``channel`` (``items``), choosing and storing the
    picks of items that have none or whose picks no longer stand (every item's, with
    ``repick``: the operator's ``syndicate build --repick``).

    Nothing is read or chosen for a channel without ``related_in_content``. Rows of
    items the channel no longer carries are removed: every other row, or with
    ``partial`` (an incremental build: ``items`` are only the items of the documents it
    reads, and those whose article or picks' articles changed) the rows of ``gone``.
    """
    if not related_active(channel):
        return ChannelPicks()
    settings_fp = settings_key(channel)
    stored = load_picks(store, channel.name, {i.id for i in items} if partial else None)
    targets = articles_by_id(store, {p for s in stored.values() for p in s.pick_ids}, bodies=False)
    allowed = pool_rule(settings, channel)
    result = ChannelPicks()
    stale: dict[str, ArticleKey] = {}
    for item in items:
        reason = "repick" if repick else ""
        reason = reason or stale_reason(item, stored.get(item.id), settings_fp, targets, allowed)
        if reason:
            stale[item.id] = item
            result.computed[reason] += 1
    if stale:
        chosen = _choose(store, settings, channel, list(stale), related_k(channel))
        fresh = {
            item_id: StoredPicks(tuple(a.id for a in picks), item_hash(stale[item_id]), settings_fp)
            for item_id, picks in chosen.items()
        }
        save_picks(store, channel.name, fresh, now)
        stored.update(fresh)
        targets.update({a.id: a for picks in chosen.values() for a in picks})
        log.info(
            "channel %s: chose the picks of %d items (%s)",
            channel.name,
            len(fresh),
            ", ".join(f"{why}: {n}" for why, n in sorted(result.computed.items())),
        )
    current = {item.id for item in items}
    forget_picks(store, channel.name, set(gone) if partial else set(stored) - current)
    for item_id in current & set(stored):
        result.links[item_id] = tuple(
            RelatedLink(target.title, target.url)
            for pick_id in stored[item_id].pick_ids
            if (target := targets.get(pick_id)) is not None and target.url
        )
    return result


def pool_rule(settings: Settings, channel: ChannelConfig) -> Callable[[Article], bool]:
    """Whether an article may be one of the channel's picks: what
    :func:`syndicate.store.channels.related_pool` keeps, as a test on one article."""
    banned = settings.not_related_sources()
    whole_site = channel.digest.related_pool == "site"

    def allowed(article: Article) -> bool:
        if article.source in banned:
            return False
        return whole_site or matches(channel.filters, article)

    return allowed


def _choose(
    store: Store, settings: Settings, channel: ChannelConfig, item_ids: Sequence[str], k: int
) -> dict[str, tuple[Article, ...]]:
    """The picks of items ``item_ids``, from the pool up to the newest of them."""
    items = sorted(articles_by_id(store, item_ids).values(), key=lambda a: (a.published_at, a.id))
    if not items:  # gone from the store since the channel was read
        return {}
    # The stored index (related/cache.py): the pool's words are never re-read here.
    from syndicate.related.cache import related_index  # numpy/scipy: load on use

    return pick_before(
        related_index(store, settings, channel, until=items[-1].published_at), items, k
    )


def pick_before(
    index: RelatedIndex, items: Sequence[Article], k: int
) -> dict[str, tuple[Article, ...]]:
    """For each item, its ``k`` picks among the ``index``'s pool articles published
    before it.

    The one place feeds rank: all items in a few batched passes
    (:meth:`~syndicate.related.RelatedIndex.pick_each_before`), each with what the index
    would pick for it alone with every pool article not older than it excluded (so a
    pick never depends on what came after). :func:`_pick_before_per_item` is that
    definition, kept as the reference the tests compare with.
    """
    return index.pick_each_before(items, k)


def _pick_before_per_item(
    index: RelatedIndex, items: Sequence[Article], k: int
) -> dict[str, tuple[Article, ...]]:
    """:func:`pick_before` by its definition: the index asked once per item, with every
    pool article not older than the item excluded (quadratic: the tests' reference)."""
    members = [c for c, member in zip(index.candidates, index.members, strict=True) if member]
    if not members:
        return {item.id: () for item in items}
    by_time = sorted(members, key=lambda c: c.published_at)
    times = [c.published_at for c in by_time]
    chosen: dict[str, tuple[Article, ...]] = {}
    for item in items:
        later = {c.id for c in by_time[bisect.bisect_left(times, item.published_at) :]}
        (picks,) = index.pick_per_story([item], k, exclude=later).values()
        chosen[item.id] = picks
    return chosen
