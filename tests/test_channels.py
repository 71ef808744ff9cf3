"""Channel filters and the store query behind them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syndicate.config import ChannelConfig, ChannelFilters
from syndicate.ingest.content import clean_entry
from syndicate.models import Article, Author, Entry
from syndicate.store import Store
from syndicate.store.channels import channel_articles, matches

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def article(**kw: object) -> Article:
    base: dict[str, object] = {
        "id": "tag:x,2026:s/1",
        "source": "newsroom",
        "url": "https://x.example/1",
        "title": "T",
        "dek": "",
        "body_html": "",
        "authors": (Author("Elena Marsh"),),
        "section": "World",
        "tags": ("space", "Cuba"),
        "image": None,
        "published_at": T0,
        "updated_at": T0,
        "content_hash": "h",
    }
    base.update(kw)
    return Article(**base)  # type: ignore[arg-type]


def test_empty_filters_match_everything() -> None:
    assert matches(ChannelFilters(), article())


def test_every_non_empty_filter_must_match_case_insensitively() -> None:
    a = article()
    assert matches(ChannelFilters(sections=("world",)), a)
    assert not matches(ChannelFilters(sections=("Science",)), a)
    assert matches(ChannelFilters(tags=("cuba", "energy")), a)
    assert not matches(ChannelFilters(tags=("energy",)), a)
    assert matches(ChannelFilters(authors=("elena marsh",)), a)
    assert not matches(ChannelFilters(authors=("Ana Ruiz",)), a)
    assert matches(ChannelFilters(sources=("newsroom",)), a)
    assert not matches(ChannelFilters(sources=("wire",)), a)
    assert not matches(ChannelFilters(sections=("World",), tags=("energy",)), a)


def test_channel_articles_from_the_store(store: Store) -> None:
    entries = [
        Entry(
            key=f"k{i}",
            url=f"/a/{i}",
            title=f"A{i}",
            body_html="<p>x</p>",
            published_at=T0 + timedelta(hours=i),
            section=("World", "Science")[i % 2],
            tags=(("energy",) if i % 3 == 0 else ("space",)),
        )
        for i in range(1100)  # more than two pages of the keyset query
    ]
    store.save_entries(
        [
            clean_entry(
                e, source="newsroom", authority="x.example,2026", site_url="https://x.example"
            )
            for e in entries
        ],
        T0,
    )
    world = ChannelConfig(name="w", title="W", filters=ChannelFilters(sections=("world",)))
    got = channel_articles(store, world)
    assert len(got) == 550
    assert [a.published_at for a in got] == sorted((a.published_at for a in got), reverse=True)
    energy = ChannelConfig(
        name="e", title="E", filters=ChannelFilters(sections=("World",), tags=("ENERGY",))
    )
    assert len(channel_articles(store, energy)) == len([i for i in range(0, 1100, 2) if i % 3 == 0])
    assert len(channel_articles(store, world, limit=7)) == 7
    recent = channel_articles(store, world, since=T0 + timedelta(hours=1000))
    assert len(recent) == 50
