"""Incremental builds (feeds/incremental.py): after every kind of change, the output
folder is byte-identical to a fresh full build's, only the documents that changed are
rewritten, and the store is read by ranges, not whole."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from syndicate.config import ChannelConfig, Settings, load_settings
from syndicate.feeds import builder
from syndicate.feeds.builder import BuildReport, build
from syndicate.feeds.incremental import STATE
from syndicate.ingest.content import content_hash
from syndicate.store import Store, open_store
from syndicate.store.changes import prune_logs
from tests.conftest import POSTGRES_ENV, _postgres_url
from tests.feeds.fixtures import AUTHORITY, T0, entries, make_instance, save

PAST = 1_600_000_000  # an mtime long before any build in these tests

CHANNELS = {
    "desk": 'title = "Desk"\nitems = 3\n',
    "world": 'title = "World"\nitems = 3\n[filters]\nsections = ["World"]\n',
    "tagged": 'title = "Tagged"\nitems = 2\n[filters]\ntags = ["diplomacy"]\n',
    "related": 'title = "Related"\nitems = 4\nrelated_in_content = true\n',
}


def story(n: int) -> str:
    return f"tag:{AUTHORITY}:desk/story-{n}"


@pytest.fixture
def site(tmp_path: Path, store_url: str) -> Iterator[tuple[Store, Settings]]:
    settings = make_instance(tmp_path / "site", CHANNELS, store_url=store_url)
    store = open_store(settings.store_url)
    save(store, range(1, 15))
    save(store, range(15, 21), section="Culture", tags=("arts",))
    yield store, settings
    store.close()


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The channels each build read whole (the full path)."""
    seen: list[list[str]] = []
    scan = builder._scan

    def recording(store: Store, channels: Sequence[ChannelConfig]) -> Any:
        seen.append([c.name for c in channels])
        return scan(store, channels)

    monkeypatch.setattr(builder, "_scan", recording)
    return seen


def files(root: Path) -> dict[str, bytes]:
    """Every published file and build state, but the incremental state (its folder
    times differ from one folder to another by nature)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "build.lock" and str(p.relative_to(root)) != STATE
    }


def age(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (PAST, PAST))


def rewritten(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.stat().st_mtime != PAST and str(p.relative_to(root)) != STATE
    }


def fresh(store: Store, settings: Settings, tmp: Path) -> dict[str, bytes]:
    """A full build of the same store into an empty folder."""
    other = load_settings(settings.base_dir / "syndicate.toml", {"output": {"dir": tmp}})
    build(store, other)
    return files(tmp)


def incremental(
    store: Store,
    settings: Settings,
    tmp_path: Path,
    scans: list[list[str]],
    change: Callable[[], None],
) -> tuple[BuildReport, set[str]]:
    """Build, apply ``change``, build again: the second build must read no channel whole
    and leave the same files as a fresh full build; returns its report and the files it
    rewrote, which must be exactly those whose bytes changed."""
    root = settings.resolve(settings.output.dir)
    build(store, settings)
    before = files(root)
    age(root)
    change()
    scans.clear()
    report = build(store, settings)
    assert scans == [[]], "the incremental build read a channel whole"
    after = files(root)
    assert after == fresh(store, settings, tmp_path / "fresh")
    changed = {n for n in after if before.get(n) != after[n]}
    assert rewritten(root) == changed
    return report, changed


def test_a_new_newest_article(
    site: tuple[Store, Settings], tmp_path: Path, scans: list[list[str]]
) -> None:
    store, settings = site
    report, changed = incremental(store, settings, tmp_path, scans, lambda: save(store, [21]))
    # desk (pages of 3) and world fill a new page, which the page before now links to;
    # tagged (pages of 2) and related (of 4) only change their subscription documents.
    written = {c.name: c.archives_written for c in report.channels}
    assert written == {"desk": 2, "world": 2, "tagged": 0, "related": 0}
    assert {n.rsplit(".", 2)[0] for n in changed if "/archive/" in n} == {
        "feeds/desk/archive/6",
        "feeds/desk/archive/7",
        "feeds/world/archive/4",
        "feeds/world/archive/5",
    }
    assert "feeds/related.xml" in changed and "feeds/related.xml.gz" in changed


def test_several_new_articles_add_pages(
    site: tuple[Store, Settings], tmp_path: Path, scans: list[list[str]]
) -> None:
    store, settings = site
    report, changed = incremental(
        store, settings, tmp_path, scans, lambda: save(store, range(21, 26))
    )
    desk = next(c for c in report.channels if c.name == "desk")
    assert desk.archive_pages == 8  # 25 items, pages of 3
    # Pages 7 and 8 are new; page 6 gained its next-archive link; pages 1-5 stay.
    assert {n.split("/")[-1].split(".")[0] for n in changed if "desk/archive" in n} == {
        "6",
        "7",
        "8",
    }


def test_an_edited_old_article_rewrites_its_page(
    site: tuple[Store, Settings], tmp_path: Path, scans: list[list[str]]
) -> None:
    store, settings = site
    _, changed = incremental(
        store, settings, tmp_path, scans, lambda: save(store, [4], title="Story 4, corrected")
    )
    assert {n for n in changed if n.startswith("feeds/desk/archive/2.")} == {
        f"feeds/desk/archive/2.{ext}{gz}" for ext in ("xml", "atom", "json") for gz in ("", ".gz")
    }
    assert not {n for n in changed if n.startswith("feeds/desk/archive/") and "/2." not in n}


def test_a_deleted_article_shifts_the_pages_after_it(
    site: tuple[Store, Settings], tmp_path: Path, scans: list[list[str]]
) -> None:
    store, settings = site

    def delete() -> None:
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM articles WHERE id = :id"), {"id": story(8)})

    _, changed = incremental(store, settings, tmp_path, scans, delete)
    pages = {n.split("/")[-1].split(".")[0] for n in changed if "desk/archive" in n}
    assert pages == {"3", "4", "5", "6"}  # page 3 held story 8; pages 1 and 2 stay


def test_a_backfilled_article_shifts_the_pages_after_it(
    site: tuple[Store, Settings], tmp_path: Path, scans: list[list[str]]
) -> None:
    store, settings = site
    report, changed = incremental(store, settings, tmp_path, scans, lambda: save(store, [0]))
    assert {c.name: c.total for c in report.channels}["desk"] == 21
    assert "feeds/desk/archive/1.atom" in changed and "feeds/desk/archive/7.atom" in changed


def test_an_article_that_leaves_a_channel(
    site: tuple[Store, Settings], tmp_path: Path, scans: list[list[str]]
) -> None:
    store, settings = site
    report, changed = incremental(
        store, settings, tmp_path, scans, lambda: save(store, [5], section="Culture")
    )
    assert {c.name: c.total for c in report.channels}["world"] == 13
    assert "feeds/world/archive/2.atom" in changed and "feeds/world/archive/1.atom" not in changed


def picked(store: Store) -> str:
    """An article some item of the related channel links to."""
    with store.engine.connect() as conn:
        row = conn.execute(
            text("SELECT target_id FROM feed_pick_targets WHERE channel = 'related' LIMIT 1")
        ).first()
    assert row is not None
    return str(row.target_id)


def test_a_pick_marked_related_exclude_is_replaced(
    site: tuple[Store, Settings], tmp_path: Path, scans: list[list[str]]
) -> None:
    store, settings = site
    build(store, settings)
    target = picked(store)

    def exclude() -> None:  # the editor's front matter says related_exclude (ingest's path)
        (entry,) = entries([int(target.rsplit("-", 1)[1])])
        flipped = dataclasses.replace(entry, related_exclude=True)
        flipped = dataclasses.replace(flipped, content_hash=content_hash(flipped))
        store.save_entries([flipped], now=T0 + timedelta(days=31))

    report, _ = incremental(store, settings, tmp_path, scans, exclude)
    assert next(c for c in report.channels if c.name == "related").picks_chosen >= 1
    with store.engine.connect() as conn:
        still = conn.execute(
            text("SELECT count(*) FROM feed_pick_targets WHERE target_id = :id"), {"id": target}
        ).scalar_one()
    assert still == 0


def test_a_deleted_pick_is_replaced(
    site: tuple[Store, Settings], tmp_path: Path, scans: list[list[str]]
) -> None:
    store, settings = site
    build(store, settings)
    target = picked(store)

    def delete() -> None:
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM articles WHERE id = :id"), {"id": target})

    report, _ = incremental(store, settings, tmp_path, scans, delete)
    assert next(c for c in report.channels if c.name == "related").picks_chosen >= 1


def test_new_settings_and_removed_files_take_the_full_path(
    site: tuple[Store, Settings], tmp_path: Path, scans: list[list[str]]
) -> None:
    store, settings = site
    root = settings.resolve(settings.output.dir)
    build(store, settings)
    (settings.base_dir / "feeds" / "desk.toml").write_text('title = "Desk, renamed"\nitems = 3\n')
    scans.clear()
    build(store, settings)
    assert scans == [["desk"]]  # the other channels' settings are unchanged
    (root / "feeds/world/archive/2.xml").unlink()
    (root / "feeds/tagged.json").unlink()
    scans.clear()
    build(store, settings)
    assert scans == [sorted(CHANNELS)]
    assert files(root) == fresh(store, settings, tmp_path / "fresh")
    scans.clear()
    build(store, settings)
    assert scans == [[]]  # and incremental again after it


def test_an_unchanged_store_reads_no_channel(
    site: tuple[Store, Settings], scans: list[list[str]]
) -> None:
    store, settings = site
    root = settings.resolve(settings.output.dir)
    build(store, settings)
    age(root)
    scans.clear()
    report = build(store, settings)
    assert scans == [[]]
    assert rewritten(root) == set()
    assert {c.name: c.total for c in report.channels} == {
        "desk": 20,
        "world": 14,
        "tagged": 14,
        "related": 20,
    }


def work(store: Store, settings: Settings, count: int) -> tuple[int, int]:
    """SQL statements and SQLite virtual-machine steps (in hundreds) of an incremental
    build after one new article, on a store of ``count`` articles."""
    save(store, range(1, count + 1))
    build(store, settings)
    save(store, [count + 1])
    counts = [0, 0]

    def step() -> int:
        counts[1] += 1
        return 0

    def before_execute(conn: Any, *_: Any) -> None:
        counts[0] += 1
        conn.connection.driver_connection.set_progress_handler(step, 100)

    event.listen(store.engine, "before_cursor_execute", before_execute)
    try:
        build(store, settings)
    finally:
        event.remove(store.engine, "before_cursor_execute", before_execute)
    return counts[0], counts[1]


def test_an_incremental_build_reads_as_much_at_any_archive_size(tmp_path: Path) -> None:
    channels = {k: v for k, v in CHANNELS.items() if k != "related"}
    measured = []
    # 101 and 1,001 items leave the same remainder in pages of 2 and 3: the same
    # documents change at both sizes (no page fills at either).
    for count in (100, 1_000):
        settings = make_instance(tmp_path / str(count), channels)
        store = open_store(settings.store_url)
        measured.append(work(store, settings, count))
        store.close()
    (small_statements, small_steps), (large_statements, large_steps) = measured
    assert large_statements == small_statements
    # Ten times the archive: a scan would take ten times the steps; ranges take about
    # as many (a deeper index is a step or two more per lookup).
    assert large_steps < 2 * small_steps


def test_the_change_log_records_every_kind_of_change(store: Store) -> None:
    from syndicate.store.changes import change_tracking, changes_since, last_change

    assert change_tracking(store)
    save(store, [1, 2])
    seen = last_change(store)
    save(store, [1], title="Story 1, again")
    save(store, [2], section="Culture")
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM articles WHERE id = :id"), {"id": story(2)})
    save(store, [3])
    found = changes_since(store, seen, 100)
    assert found is not None
    newest, changes = found
    assert newest == last_change(store) > seen
    befores = {c.article_id: c.befores for c in changes}
    assert set(befores) == {story(1), story(2), story(3)}
    assert befores[story(3)][-1] is None  # new since
    # Re-sectioned, then deleted (PostgreSQL re-reads some changes before the point too).
    first, second = befores[story(2)][-2:]
    assert first is not None and first.section == "World"  # as it was
    assert second is not None and second.section == "Culture"
    assert changes_since(store, seen, 2) is None  # more rows than asked to follow


@pytest.mark.parametrize("number", [100, 800])
def test_a_same_time_article_at_a_page_boundary(
    site: tuple[Store, Settings], tmp_path: Path, scans: list[list[str]], number: int
) -> None:
    """An article published at the time of story 7, page 3's first: the id decides
    which of the two is older ("story-100" sorts before "story-7", "story-800" after)."""
    store, settings = site
    _, changed = incremental(
        store,
        settings,
        tmp_path,
        scans,
        lambda: save(store, [number], published_at=T0 + timedelta(hours=7)),
    )
    assert "feeds/desk/archive/3.atom" in changed and "feeds/desk/archive/2.atom" not in changed


def test_a_channel_built_alone_and_an_article_moved_twice(
    site: tuple[Store, Settings], tmp_path: Path, scans: list[list[str]]
) -> None:
    """desk follows the first move alone (``only``); the next build follows both moves
    for the others and again for desk, from where each saw the article last."""
    store, settings = site

    build(store, settings)
    # Story 9 (page 3) moves to page 1, which desk alone sees, then back near page 3:
    # desk's pages 1 and 2 shift back, though neither of story 9's other dates is there.
    save(store, [9], published_at=T0 + timedelta(hours=1, minutes=30))
    build(store, settings, only=["desk"])
    save(store, [9], published_at=T0 + timedelta(hours=9, minutes=30))
    scans.clear()
    build(store, settings)
    assert scans == [[]]
    root = settings.resolve(settings.output.dir)
    assert files(root) == fresh(store, settings, tmp_path / "fresh")


NEW_TABLES = ("article_changes", "feed_pick_targets", "feed_pick_changes")


def test_the_migration_fills_the_reverse_index_and_matches_the_schema(store_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import insert, select

    from syndicate.store.changes_schema import article_changes
    from syndicate.store.engine import make_engine, migrate
    from syndicate.store.feedpicks_schema import feed_item_picks, feed_pick_targets
    from syndicate.store.schema import metadata

    engine = make_engine(store_url, create=True)
    migrate(engine, "0018")
    with engine.begin() as conn:  # picks stored before the reverse index existed
        conn.execute(
            insert(feed_item_picks),
            [
                {
                    "channel": "a",
                    "article_id": story(n),
                    "pick_ids": [story(n - 1), story(n - 2)],
                    "item_hash": "h",
                    "settings": "s",
                    "computed_at": T0,
                }
                for n in (3, 4)
            ],
        )
    migrate(engine)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        targets = {tuple(row) for row in conn.execute(select(feed_pick_targets))}
        logged = conn.execute(select(article_changes)).all()
    assert [d for d in diffs if any(table in repr(d) for table in NEW_TABLES)] == []
    assert targets == {
        ("a", story(2), story(3)),
        ("a", story(1), story(3)),
        ("a", story(3), story(4)),
        ("a", story(2), story(4)),
    }
    assert logged == []
    engine.dispose()


def test_picks_chosen_by_another_build_of_the_store(
    site: tuple[Store, Settings], tmp_path: Path, scans: list[list[str]]
) -> None:
    """Another output folder built from the same store with new picks (an older
    ranking's, here): this folder's next build shows them, read incrementally."""
    from syndicate.store.feedpicks import load_picks, save_picks

    store, settings = site

    def repick_elsewhere() -> None:
        stored = load_picks(store, "related")
        item, kept = max(stored.items(), key=lambda pair: len(pair[1].pick_ids))
        assert len(kept.pick_ids) > 1
        reordered = dataclasses.replace(kept, pick_ids=kept.pick_ids[::-1])
        save_picks(store, "related", {item: reordered}, T0)

    _, changed = incremental(store, settings, tmp_path, scans, repick_elsewhere)
    assert {n for n in changed if n.startswith("feeds/related")}


def test_the_walk_for_a_killed_builds_files_only_when_a_folder_changed(
    site: tuple[Store, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk over every output file (for temporary files a killed build left) is
    skipped when every folder is as the last build left it; a file left in one is found."""
    from syndicate.feeds import writer

    store, settings = site
    root = settings.resolve(settings.output.dir)
    walks: list[Path] = []
    sweep = writer.remove_stale_temporaries

    def recording(path: Path, *args: Any) -> int:
        if path == root:  # the output folder (WebSub's state walks its own folder)
            walks.append(path)
        return sweep(path, *args)

    monkeypatch.setattr(writer, "remove_stale_temporaries", recording)
    build(store, settings)
    assert walks == [root]  # the first build walks
    save(store, [21])
    build(store, settings)
    assert walks == [root]  # an incremental one does not
    left = root / "feeds/desk/archive/.1.xml.k1ll3d_x.tmp"
    left.write_bytes(b"half a page")
    os.utime(left, (PAST, PAST))
    build(store, settings)
    assert walks == [root, root] and not left.exists()


def test_a_build_behind_the_pruned_change_log_reads_everything(
    site: tuple[Store, Settings], tmp_path: Path, scans: list[list[str]]
) -> None:
    """Builds drop the log's rows no build could follow (store/changes.py:prune_logs);
    a folder remembering a point older than what is left reads every channel whole,
    one within it goes on incrementally."""
    store, settings = site
    root = settings.resolve(settings.output.dir)
    behind = load_settings(
        settings.base_dir / "syndicate.toml", {"output": {"dir": tmp_path / "b"}}
    )
    build(store, behind)
    build(store, settings)
    save(store, range(21, 27))
    build(store, settings)  # follows the six changes
    assert prune_logs(store) == 0  # the default keeps far more than this
    assert prune_logs(store, keep=2) > 0
    scans.clear()
    build(store, behind)
    assert scans == [sorted(CHANNELS)]
    assert files(tmp_path / "b") == fresh(store, settings, tmp_path / "fresh")
    save(store, [27])
    scans.clear()
    build(store, settings)
    assert scans == [[]]
    assert files(root) == fresh(store, settings, tmp_path / "fresh2")


def test_the_change_log_is_followed_beside_another_store_in_the_database() -> None:
    """Two stores in two schemas of one PostgreSQL database (each its own articles
    table and triggers): each sees its own change tracking on."""
    from syndicate.store.changes import change_tracking

    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set (the PostgreSQL store is tested in CI)")
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    admin = create_engine(os.environ[POSTGRES_ENV])
    try:
        for schema in schemas:
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            opened = open_store(_postgres_url(schema))  # migrated: tables and triggers
            opened.close()
        for schema in schemas:
            opened = open_store(_postgres_url(schema))
            assert change_tracking(opened)
            opened.close()
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
