"""Stable feeds: a feed item's "More from" picks are chosen once, from older articles.

With ``related_in_content`` an item's picks are chosen from the articles published
before it and stored; a rebuild after new articles changes no existing item's bytes and
no archive page (but for the newest page gaining its ``next-archive`` link). An edit of
the item, new related settings, or a pick that may no longer be offered choose them anew.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from syndicate.config import Settings, SourceConfig
from syndicate.feeds.archives import ArticleKey
from syndicate.feeds.builder import build
from syndicate.feeds.picks import item_hash, settings_key, stale_reason
from syndicate.ingest.content import clean_entry
from syndicate.models import Article, Entry
from syndicate.store import Store, open_store
from syndicate.store.feedpicks import StoredPicks, load_picks, save_picks
from syndicate.store.schema import metadata
from tests.feeds.fixtures import AUTHORITY, BASE, T0, article, make_instance

TOPICS = {
    "harbour": "harbour cranes dockworkers strike port wages",
    "comet": "comet telescope orbit astronomers nucleus eclipse",
    "vineyard": "vineyard harvest grapes wine cellar frost",
}
NAMES = list(TOPICS)
CHANNEL = 'title = "A"\nitems = 5\nrelated_in_content = true\n'
ITEM = {
    "rss": re.compile(rb"<item>.*?</item>", re.S),
    "atom": re.compile(rb"<entry>.*?</entry>", re.S),
}
ITEM_ID = {"rss": re.compile(rb"<guid[^>]*>(.*?)</guid>"), "atom": re.compile(rb"<id>(.*?)</id>")}
LINK = re.compile(r"/stories/(\d+)/")


def topic_of(n: int) -> str:
    return NAMES[n % len(NAMES)]


def put(
    store: Store, numbers: range | list[int], topic: str | None = None, source: str = "desk"
) -> None:
    """Store articles ``numbers`` (published ``n`` hours after T0), each on its topic
    (or ``topic``) with words of its own, so that no two are near-copies."""
    entries = []
    for n in numbers:
        name = topic or topic_of(n)
        own = " ".join(f"detail{n}x{i}" for i in range(8))
        entries.append(
            clean_entry(
                Entry(
                    key=f"story-{n}",
                    url=f"{BASE}/stories/{n}/",
                    title=f"{name.title()} report {n}",
                    body_html=f"<p>{TOPICS[name]} {own}</p>",
                    published_at=T0 + timedelta(hours=n),
                    section="World",
                ),
                source=source,
                authority=AUTHORITY,
                site_url=BASE,
            )
        )
    store.save_entries(entries, now=T0 + timedelta(days=30))


def story_id(n: int) -> str:
    return f"tag:{AUTHORITY}:desk/story-{n}"


@pytest.fixture
def desk(tmp_path: Path, store_url: str) -> Iterator[tuple[Store, Settings]]:
    settings = make_instance(tmp_path / "i", {"a": CHANNEL}, store_url=store_url)
    store = open_store(store_url)
    yield store, settings
    store.close()


def files(settings: Settings) -> dict[str, bytes]:
    """Every published feed file (archive pages and subscription documents), by path."""
    root = settings.resolve(settings.output.dir)
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / "feeds").rglob("*"))
        if p.is_file()
    }


def items(published: dict[str, bytes]) -> dict[tuple[str, str], set[bytes]]:
    """Each item's bytes in each format, by (format, item id), over every file."""
    found: dict[tuple[str, str], set[bytes]] = {}
    for path, data in published.items():
        if path.endswith(".json"):
            for item in json.loads(data)["items"]:
                encoded = json.dumps(item, sort_keys=True).encode()
                found.setdefault(("json", item["id"]), set()).add(encoded)
            continue
        fmt = "rss" if path.endswith(".xml") else "atom" if path.endswith(".atom") else ""
        for match in ITEM[fmt].finditer(data) if fmt else ():
            found_id = ITEM_ID[fmt].search(match.group(0))
            assert found_id is not None
            found.setdefault((fmt, found_id.group(1).decode()), set()).add(match.group(0))
    return found


def picks_of(published: dict[str, bytes]) -> dict[int, list[int]]:
    """Each item's "More from" links (story numbers), read from the JSON Feed files."""
    links: dict[int, list[int]] = {}
    for path, data in published.items():
        if path.endswith(".json"):
            for item in json.loads(data)["items"]:
                number = int(item["id"].rsplit("-", 1)[1])
                more = item["content_html"].partition("More from")[2]
                links[number] = [int(m) for m in LINK.findall(more)]
    return links


def test_new_articles_change_no_older_item_and_no_archive_page(
    desk: tuple[Store, Settings],
) -> None:
    store, settings = desk
    put(store, range(1, 31))
    build(store, settings)
    before = files(settings)
    old_items = items(before)
    assert all(len(forms) == 1 for forms in old_items.values())  # one item, one form

    # 50 new articles on the same topics: closer in time, as related as the old ones.
    put(store, range(31, 81))
    report = build(store, settings)
    assert not report.failed and report.channels[0].picks_chosen == 50  # the new ones only
    after = files(settings)
    new_items = items(after)
    for key, forms in old_items.items():
        assert new_items[key] == forms, key  # byte-identical, in every format and file
    # Archive pages: 6 before, all unchanged but the newest, which gains next-archive.
    assert [p for p in before if "/archive/" in p] == [
        p for p in before if "/archive/" in p and p in after
    ]
    for path in before:
        if "/archive/" not in path or path.endswith(".gz"):
            continue
        if "/archive/6." in path:
            old, new = before[path].decode().splitlines(), after[path].decode().splitlines()
            changed = [
                line
                for line in difflib.unified_diff(old, new, lineterm="", n=0)
                if line[:1] in "+-" and line[:3] not in ("+++", "---")
            ]
            assert all("next-archive" in line for line in changed), changed
        else:
            assert after[path] == before[path], path
            assert after[path + ".gz"] == before[path + ".gz"], path
    # New items link only to articles published before them, and to ones on their topic.
    links = picks_of(after)
    for n in range(31, 81):
        assert links[n] and all(m < n for m in links[n]), (n, links[n])
        assert all(topic_of(m) == topic_of(n) for m in links[n]), (n, links[n])


def test_a_fresh_output_folder_gets_the_same_bytes_from_the_stored_picks(
    desk: tuple[Store, Settings],
) -> None:
    store, settings = desk
    put(store, range(1, 21))
    build(store, settings)
    first = files(settings)
    put(store, range(21, 31))
    root = settings.resolve(settings.output.dir)
    for path in sorted(root.rglob("*"), reverse=True):  # a new output folder
        path.unlink() if path.is_file() else path.rmdir()
    build(store, settings)
    again = items(files(settings))
    for key, forms in items(first).items():
        assert again[key] == forms, key


def test_an_edited_item_gets_new_picks_from_articles_before_it(
    desk: tuple[Store, Settings],
) -> None:
    store, settings = desk
    put(store, range(1, 31))
    build(store, settings)
    assert topic_of(20) == "vineyard"
    assert all(topic_of(m) == "vineyard" for m in picks_of(files(settings))[20])
    linking = [n for n, picked in picks_of(files(settings)).items() if 20 in picked]
    put(store, [20], topic="comet")  # the item is rewritten about another subject
    build(store, settings)
    after = files(settings)
    links = picks_of(after)
    # Items linking to it keep it, under its new title, on every page they are on.
    assert linking and all(20 in links[n] for n in linking)
    titles = [
        re.findall(r'stories/20/">([^<]+)<', item["content_html"])
        for path, data in after.items()
        if path.endswith(".json")
        for item in json.loads(data)["items"]
        if int(item["id"].rsplit("-", 1)[1]) in linking
    ]
    assert titles and all(found == ["Comet report 20"] for found in titles)
    assert links[20] and all(m < 20 and topic_of(m) == "comet" for m in links[20]), links[20]
    edited = store.get_article(story_id(20))
    assert edited is not None
    assert load_picks(store, "a")[story_id(20)].item_hash == edited.content_hash


def test_a_deleted_pick_makes_its_items_pick_again(desk: tuple[Store, Settings]) -> None:
    store, settings = desk
    put(store, range(1, 31))
    build(store, settings)
    links = picks_of(files(settings))
    gone = links[30][0]
    holders = {n for n, picked in links.items() if gone in picked}
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM articles WHERE id = :id"), {"id": story_id(gone)})
    build(store, settings)
    again = picks_of(files(settings))
    assert all(gone not in picked for picked in again.values())
    for n in holders - {gone}:
        assert len(again[n]) == len(links[n]) and all(m < n for m in again[n])
    # Items that did not link to it keep their picks.
    assert all(again[n] == links[n] for n in set(links) - holders - {gone})


def test_a_source_no_longer_allowed_makes_its_picks_go(desk: tuple[Store, Settings]) -> None:
    store, settings = desk
    put(store, range(1, 21))
    put(store, [21, 24], source="wire")  # another publisher's, allowed at first
    put(store, range(25, 31))
    wire = SourceConfig(name="wire", kind="feed", url="https://wire.example/rss", related=True)
    build(store, settings.model_copy(update={"sources": (wire,)}))
    wire_urls = {21, 24}
    links = picks_of(files(settings))
    assert any(wire_urls & set(picked) for picked in links.values())
    banned = wire.model_copy(update={"related": False})
    build(store, settings.model_copy(update={"sources": (banned,)}))
    again = picks_of(files(settings))
    assert not any(wire_urls & set(picked) for picked in again.values())
    unaffected = [n for n, picked in links.items() if not wire_urls & set(picked)]
    assert unaffected and all(again[n] == links[n] for n in unaffected)


def test_new_related_settings_choose_every_items_picks_again(
    desk: tuple[Store, Settings],
) -> None:
    store, settings = desk
    put(store, range(1, 21))
    build(store, settings)
    assert max(len(p) for p in picks_of(files(settings)).values()) == 4
    channel = settings.base_dir / "feeds/a.toml"
    channel.write_text(CHANNEL + "\n[digest]\nrelated_k = 2\n", encoding="utf-8")
    build(store, settings)
    links = picks_of(files(settings))
    assert {len(p) for n, p in links.items() if n > 3} == {2}


def key(n: int, **changes: object) -> ArticleKey:
    return replace(ArticleKey.of(article(n)), **changes)  # type: ignore[arg-type]


def stored(*picks: int, item: ArticleKey | None = None) -> StoredPicks:
    from syndicate.config import ChannelConfig

    return StoredPicks(
        tuple(article(m).id for m in picks),
        item_hash(item or key(9)),
        settings_key(ChannelConfig(name="a", title="A")),
    )


def reason(item: ArticleKey, saved: StoredPicks | None, picks: dict[str, Article]) -> str:
    from syndicate.config import ChannelConfig

    fingerprint = settings_key(ChannelConfig(name="a", title="A"))
    return stale_reason(item, saved, fingerprint, picks, lambda a: a.source == "desk")


def test_stale_reasons() -> None:
    picks = {article(m).id: article(m) for m in (1, 2, 3)}
    assert reason(key(9), stored(1, 2), picks) == ""
    assert reason(key(9), None, picks) == "new"
    assert reason(key(9, content_hash="edited"), stored(1, 2), picks) == "edited"
    assert reason(key(9, pins=(article(1).id,)), stored(1, 2), picks) == "edited"
    assert reason(key(9), replace(stored(1, 2), settings="other"), picks) == "settings"
    assert reason(key(9), stored(1, 4), picks) == "pick deleted"
    excluded = {**picks, article(2).id: article(2, related_exclude=True)}
    assert reason(key(9), stored(1, 2), excluded) == "pick excluded"
    banned = {**picks, article(2).id: article(2, source="wire")}
    assert reason(key(9), stored(1, 2), banned) == "pick not allowed"
    clustered = {**picks, article(2).id: article(2, story=article(9).id)}
    assert reason(key(9), stored(1, 2), clustered) == "pick in story"
    moved = key(2, content_hash=key(9).content_hash)  # the item's date moved back
    assert reason(moved, stored(1, 3, item=moved), picks) == "pick not older"


def test_the_migration_creates_the_table_as_the_schema_says(store: Store) -> None:
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diffs if "feed_item_picks" in repr(d)] == []
    assert load_picks(store, "a") == {}


def test_build_repick_chooses_kept_picks_again(instance: Path) -> None:
    from syndicate.config import load_settings
    from tests.test_cli import run

    assert run(instance, "ingest").returncode == 0
    assert run(instance, "build").returncode == 0
    world = instance / "public/feeds/world.json"
    first = world.read_bytes()
    settings = load_settings(instance / "syndicate.toml")
    store = open_store(settings.store_url)
    kept = load_picks(store, "world")
    newest = json.loads(first)["items"][0]["id"]
    assert len(kept[newest].pick_ids) > 1
    # As if chosen by an older ranking: the same picks in another order.
    older = replace(kept[newest], pick_ids=kept[newest].pick_ids[::-1])
    save_picks(store, "world", {newest: older}, T0)
    store.close()
    assert run(instance, "build").returncode == 0
    assert world.read_bytes() != first  # the stored picks are what is shown...
    done = run(instance, "build", "--repick")
    assert done.returncode == 0, done.stderr
    assert world.read_bytes() == first  # ...until they are chosen again
