"""Another publisher's article never appears under "More from <us>" unless allowed.

A ``feed`` or ``page`` source carries someone else's articles: by default they are
never "More from" picks, in a digest or embedded in a feed item; ``related = true`` on
the source allows them, ``related = false`` on a folder forbids its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from syndicate.config import Settings, SourceConfig
from syndicate.digest import DigestTemplates
from syndicate.digest.compose import compose_edition
from syndicate.ingest.content import clean_entry
from syndicate.models import Author, Entry
from syndicate.store import Store, open_store
from syndicate.store.channels import related_pool
from tests.digest.factory import BASE, channel, settings

SLOT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def save(store: Store, source: str, start: int, topic: str, count: int, hours: int) -> None:
    """``count`` articles of ``source`` on ``topic``, each with words of its own."""
    entries = []
    for n in range(start, start + count):
        own = " ".join(f"detail{n}x{i}" for i in range(6))
        entries.append(
            clean_entry(
                Entry(
                    key=f"{source}-{n}",
                    url=f"{BASE}/{source}/{n}/",
                    title=f"{topic.title()} report {n}",
                    body_html=f"<p>{topic} {topic} {own}</p>",
                    published_at=SLOT - timedelta(hours=hours + n),
                    section="World",
                    authors=(Author("Ana Ruiz"),),
                ),
                source=source,
                authority="news.example,2026",
                site_url=BASE,
            )
        )
    store.save_entries(entries, now=SLOT - timedelta(hours=hours))


def instance(tmp_path: Path, wire: dict[str, object], desk: dict[str, object]) -> Settings:
    sources = (
        SourceConfig(name="desk", kind="folder", path="content", **desk),
        SourceConfig(name="wire", kind="feed", url="https://wire.example/rss", **wire),
    )
    return settings().model_copy(update={"sources": sources})


def picked_sources(tmp_path: Path, wire: dict[str, object], desk: dict[str, object]) -> set[str]:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}", create=True)
    # Older archive: our own harbour stories, and the wire's, closer to the new story.
    save(store, "desk", 100, "harbour cranes strike", 4, hours=200)
    save(store, "wire", 200, "harbour cranes strike port", 4, hours=200)
    # The edition's new story arrives in the window before the slot.
    save(store, "desk", 1, "harbour cranes strike port talks", 1, hours=2)
    config = instance(tmp_path, wire, desk)
    edition = compose_edition(
        store, config, channel(related_k=4, first_lookback_hours=12), SLOT, DigestTemplates(config)
    )
    assert edition is not None and [a.source for a in edition.articles] == ["desk"]
    store.close()
    return {a.source for a in edition.related}


def test_a_feed_sources_articles_are_never_picks_by_default(tmp_path: Path) -> None:
    assert picked_sources(tmp_path, wire={}, desk={}) == {"desk"}


def test_related_true_allows_them(tmp_path: Path) -> None:
    assert "wire" in picked_sources(tmp_path, wire={"related": True}, desk={})


def test_related_false_on_a_folder_forbids_its_own(tmp_path: Path) -> None:
    assert picked_sources(tmp_path, wire={"related": True}, desk={"related": False}) == {"wire"}


def test_the_feed_items_pool_leaves_them_out_too(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}", create=True)
    save(store, "desk", 1, "harbour", 2, hours=5)
    save(store, "wire", 10, "harbour", 2, hours=5)
    config = instance(tmp_path, wire={}, desk={})
    assert {a.source for a in related_pool(store, config, channel())} == {"desk"}
    allowed = instance(tmp_path, wire={"related": True}, desk={})
    assert {a.source for a in related_pool(store, allowed, channel())} == {"desk", "wire"}
    store.close()


def test_only_a_folder_is_ours_unless_said_otherwise() -> None:
    assert SourceConfig(name="a", kind="folder").related_allowed
    assert not SourceConfig(name="b", kind="feed").related_allowed
    assert not SourceConfig(name="c", kind="page").related_allowed
    assert SourceConfig(name="d", kind="page", related=True).related_allowed
