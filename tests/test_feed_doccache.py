"""The document cache (feeds/doccache.py): documents built once are linked, not rebuilt;
what is linked is byte for byte what a build without the cache writes; replaced and
unused entries go; a URL's modification time never goes back; no cache where no link can
be made."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from syndicate.config import Settings, load_settings
from syndicate.feeds.builder import BuildReport, build
from syndicate.feeds.incremental import STATE
from syndicate.store import Store, open_store
from tests.feeds.fixtures import make_instance, save

CHANNELS = {
    "desk": 'title = "Desk"\nitems = 3\n',
    "world": 'title = "World"\nitems = 3\n[filters]\nsections = ["World"]\n',
    "related": 'title = "Related"\nitems = 4\nrelated_in_content = true\n',
}
PUBLISHED = (".xml", ".atom", ".json", ".gz")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Store, Settings]]:
    settings = make_instance(tmp_path / "site", CHANNELS)
    store = open_store(settings.store_url)
    save(store, range(1, 15))
    save(store, range(15, 21), section="Culture", tags=("arts",))
    yield store, settings
    store.close()


def into(settings: Settings, folder: Path, **output: object) -> Settings:
    """``settings`` building into ``folder`` (with other ``[output]`` keys)."""
    return load_settings(
        settings.base_dir / "syndicate.toml", {"output": {"dir": folder, **output}}
    )


def files(root: Path) -> dict[str, bytes]:
    """Every file a build leaves, but its lock and the incremental state (which holds
    folder times, different in every folder)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "build.lock" and str(p.relative_to(root)) != STATE
    }


def published(root: Path) -> list[Path]:
    return sorted(p for p in (root / "feeds").rglob("*") if p.name.endswith(PUBLISHED))


def cache_files(settings: Settings) -> list[Path]:
    root = settings.resolve(settings.output.cache_dir)
    return sorted(p for p in root.glob("*/*") if not p.name.startswith("."))


def spliced(report: BuildReport) -> int:
    return sum(c.items_rendered + c.items_reused for c in report.channels)


def test_a_build_into_a_new_folder_links_what_the_last_one_made(
    site: tuple[Store, Settings], tmp_path: Path
) -> None:
    store, settings = site
    first = build(store, into(settings, tmp_path / "a"))
    assert spliced(first) > 0
    report = build(store, into(settings, tmp_path / "b"))
    assert spliced(report) == 0  # no fragment read, no item rendered
    assert files(tmp_path / "b") == files(tmp_path / "a")
    for path in published(tmp_path / "b"):
        twin = tmp_path / "a" / path.relative_to(tmp_path / "b")
        assert os.path.samefile(path, twin)
        assert path.stat().st_nlink == 3  # a, b and the cache: the bytes are on disk once
    assert len(cache_files(settings)) == len(published(tmp_path / "b"))


def test_what_is_linked_is_what_a_build_without_the_cache_writes(
    site: tuple[Store, Settings], tmp_path: Path
) -> None:
    store, settings = site
    build(store, into(settings, tmp_path / "a"))
    build(store, into(settings, tmp_path / "b"))  # from the cache
    plain = into(settings, tmp_path / "plain", cache=False, cache_dir=tmp_path / "unused")
    build(store, plain)
    assert files(tmp_path / "plain") == files(tmp_path / "b")
    assert not (tmp_path / "unused").exists()
    assert all(p.stat().st_nlink == 1 for p in published(tmp_path / "plain"))


def inodes(paths: list[Path]) -> set[int]:
    return {p.stat().st_ino for p in paths}


def test_replaced_documents_leave_the_cache(site: tuple[Store, Settings], tmp_path: Path) -> None:
    store, settings = site
    build(store, settings)
    root = settings.resolve(settings.output.dir)
    for n in (21, 22, 23, 24):  # each changes the subscription documents, some pages
        save(store, [n])
        build(store, settings)  # incremental
        # Every file the cache holds is a published one (a page whose fingerprint
        # changed and not its bytes has two names for it).
        assert inodes(cache_files(settings)) == inodes(published(root))
    assert files(root) == files(_fresh(store, settings, tmp_path / "fresh"))
    report = build(store, into(settings, tmp_path / "b"))
    assert spliced(report) == 0  # and all of it is in the cache


def _fresh(store: Store, settings: Settings, folder: Path) -> Path:
    build(store, into(settings, folder, cache=False))
    return folder


def test_a_full_build_removes_the_entries_nothing_links(
    site: tuple[Store, Settings], tmp_path: Path
) -> None:
    store, settings = site
    build(store, into(settings, tmp_path / "a"))
    old = cache_files(settings)
    shutil.rmtree(tmp_path / "a")  # entries linked by nothing now
    (settings.base_dir / "feeds" / "desk.toml").write_text('title = "Desk, renamed"\nitems = 3\n')
    cache = settings.resolve(settings.output.cache_dir)
    stale = cache / "ab" / ".x.json.abcdefgh.tmp"  # a killed build's
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"half")
    os.utime(stale, (1_600_000_000, 1_600_000_000))
    build(store, into(settings, tmp_path / "b"))
    now = cache_files(settings)
    assert len(now) == len(published(tmp_path / "b"))
    assert all(p.stat().st_nlink == 2 for p in now)
    assert set(old) - set(now)  # desk's documents changed: their old entries went
    assert set(old) & set(now)  # the other channels' were linked again
    assert not stale.exists()


def test_a_url_time_never_goes_back(site: tuple[Store, Settings], tmp_path: Path) -> None:
    """A document linked from an entry older than the file it replaces gets a later
    modification time (a client sending only If-Modified-Since must not be told its
    copy of the newer bytes is current)."""
    store, settings = site
    build(store, into(settings, tmp_path / "keep"))  # entries of state A, made now
    root = tmp_path / "x"
    save(store, [21])
    build(store, into(settings, root, cache=False))  # state B, written later
    feed = root / "feeds" / "desk.xml"
    b_time, b_bytes = feed.stat().st_mtime_ns, feed.read_bytes()
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM articles WHERE url LIKE '%/stories/21/'"))
    build(store, into(settings, root))  # back to A: linked from the older entries
    assert os.path.samefile(feed, tmp_path / "keep" / "feeds" / "desk.xml")
    assert feed.read_bytes() != b_bytes
    assert feed.stat().st_mtime_ns > b_time


def test_files_written_before_the_cache_are_taken_in(
    site: tuple[Store, Settings], tmp_path: Path
) -> None:
    store, settings = site
    root = settings.resolve(settings.output.dir)
    build(store, into(settings, root, cache=False))
    times = {p: p.stat().st_mtime_ns for p in published(root)}
    (settings.base_dir / "feeds" / "desk.toml").write_text('title = "Desk"\nitems = 3\n\n')
    build(store, settings, repick=True)  # read whole and spliced: the same bytes
    assert {p: p.stat().st_mtime_ns for p in published(root)} == times  # left as they were
    assert all(p.stat().st_nlink == 2 for p in published(root))  # and linked into the cache
    report = build(store, into(settings, tmp_path / "b"))
    assert spliced(report) == 0
    assert files(tmp_path / "b") == files(root)


def test_an_entry_without_its_gzip_copy_is_rebuilt(
    site: tuple[Store, Settings], tmp_path: Path
) -> None:
    store, settings = site
    build(store, into(settings, tmp_path / "a"))
    shutil.rmtree(tmp_path / "a")
    gone = [p for p in cache_files(settings) if p.name.endswith(".gz")][:5]
    for path in gone:
        path.unlink()
    report = build(store, into(settings, tmp_path / "b"))
    assert spliced(report) > 0
    assert files(tmp_path / "b") == files(_fresh(store, settings, tmp_path / "plain"))


def test_no_cache_where_it_cannot_link(
    site: tuple[Store, Settings], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A cache on another file system (tmpfs) cannot link into the output: the build
    writes every file as without it."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on a file system of its own")
    cache = shm / f"syndicate-test-{os.getpid()}"
    try:
        store, settings = site
        caplog.set_level(logging.INFO, logger="syndicate.feeds")
        build(store, into(settings, tmp_path / "a", cache_dir=cache))
        assert "cannot link" in caplog.text
        assert all(p.stat().st_nlink == 1 for p in published(tmp_path / "a"))
        assert not [p for p in cache.rglob("*") if p.is_file() and p.name != ".lock"]
        assert files(tmp_path / "a") == files(_fresh(store, settings, tmp_path / "plain"))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
