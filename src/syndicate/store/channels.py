"""Which articles a channel carries: pure matching plus one store query.

A channel's filters are lists; an empty list means "any", and an article must match
every non-empty one (case-insensitive): its section is listed, one of its tags is listed,
its source is listed, one of its authors is listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import islice

from syndicate.config import ChannelConfig, ChannelFilters, Settings
from syndicate.models import Article
from syndicate.store import Store


def _folded(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(v.casefold() for v in values)


def matches(filters: ChannelFilters, article: Article) -> bool:
    """True when ``article`` passes every non-empty filter."""
    if filters.sections and article.section.casefold() not in _folded(filters.sections):
        return False
    if filters.sources and article.source not in filters.sources:
        return False
    if filters.tags and not _folded(filters.tags) & {t.casefold() for t in article.tags}:
        return False
    return not (
        filters.authors
        and not _folded(filters.authors) & {a.name.casefold() for a in article.authors}
    )


def iter_channel_articles(
    store: Store,
    channel: ChannelConfig,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    arrived_since: datetime | None = None,
    arrived_until: datetime | None = None,
) -> Iterator[Article]:
    """The channel's articles, newest first; sections and sources are filtered in SQL.

    ``since``/``until`` bound the publication time; ``arrived_since``/``arrived_until``
    bound the arrival time (see :meth:`Store.iter_articles`).
    """
    filters = channel.filters
    for article in store.iter_articles(
        sections=filters.sections,
        sources=filters.sources,
        since=since,
        until=until,
        arrived_since=arrived_since,
        arrived_until=arrived_until,
    ):
        if matches(filters, article):
            yield article


def channel_articles(
    store: Store,
    channel: ChannelConfig,
    *,
    limit: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Article]:
    """At most ``limit`` of the channel's articles, newest first."""
    return list(islice(iter_channel_articles(store, channel, since=since, until=until), limit))


def related_pool(
    store: Store, settings: Settings, channel: ChannelConfig, until: datetime | None = None
) -> Iterator[Article]:
    """The "More from" candidates: the site's or the channel's articles (``related_pool``)
    published before ``until``, without those of sources that may not be picks
    (``[[sources]] related``: another publisher's articles never appear under our name)."""
    if channel.digest.related_pool == "site":
        articles = store.iter_articles(until=until)
    else:
        articles = iter_channel_articles(store, channel, until=until)
    banned = settings.not_related_sources()
    return (a for a in articles if a.source not in banned)
