"""The build: files per channel and format, determinism, atomic writes, archives, hooks."""

from __future__ import annotations

import gzip
import json
import os
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest

from syndicate.config import Settings, load_channels
from syndicate.errors import ConfigError
from syndicate.feeds.builder import build
from syndicate.feeds.render import FeedDocument
from syndicate.ingest.run import ingest
from syndicate.store import Store, open_store
from syndicate.store.channels import channel_articles
from tests.feeds.fixtures import BASE, make_instance, save

ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
PAST = 1_600_000_000  # an mtime long before any build in these tests


@pytest.fixture
def example(instance_settings: Settings) -> Iterator[tuple[Store, Settings]]:
    store = open_store(instance_settings.store_url)
    ingest(store, instance_settings)
    yield store, instance_settings
    store.close()


def published(settings: Settings) -> dict[str, bytes]:
    root = settings.resolve(settings.output.dir)
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "build.lock"
    }


def test_example_instance_builds_every_channel_and_every_item(
    example: tuple[Store, Settings],
) -> None:
    store, settings = example
    report = build(store, settings)
    assert not report.failed
    out = settings.resolve(settings.output.dir)
    for channel in load_channels(settings):
        expected = channel_articles(store, channel, limit=channel.items)
        assert expected, channel.name
        for fmt, ext in (("rss", "xml"), ("atom", "atom"), ("json", "json")):
            data = (out / "feeds" / f"{channel.name}.{ext}").read_bytes()
            assert (
                gzip.decompress((out / "feeds" / f"{channel.name}.{ext}.gz").read_bytes()) == data
            )
            if fmt == "json":
                items = json.loads(data)["items"]
                assert [i["id"] for i in items] == [a.id for a in expected]
                assert all(i["content_html"] for i in items)
                continue
            # Compare our bytes, not feedparser's re-serialisation of the HTML.
            parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
            assert parsed.bozo == 0, (channel.name, fmt, parsed.get("bozo_exception"))
            assert [e.id for e in parsed.entries] == [a.id for a in expected]
            if channel.content == "full":  # full content, every item (issue: done when)
                bodies = [e.content[0].value for e in parsed.entries]
                if channel.related_in_content:  # the World channel: body, then "More from"
                    assert all(
                        b.startswith(a.body_html) for b, a in zip(bodies, expected, strict=True)
                    )
                    assert all("More from The Meridian Review" in b for b in bodies)
                else:
                    assert bodies == [a.body_html for a in expected]


def test_a_rebuild_without_changes_leaves_bytes_and_mtimes_alone(
    example: tuple[Store, Settings],
) -> None:
    store, settings = example
    build(store, settings)
    before = published(settings)
    root = settings.resolve(settings.output.dir)
    for name in before:
        os.utime(root / name, (PAST, PAST))
    report = build(store, settings)
    assert published(settings) == before
    assert all(os.stat(root / name).st_mtime == PAST for name in before)
    assert {s for c in report.channels for s in c.formats.values()} == {"unchanged"}
    assert not any(c.archives_written for c in report.channels)
    assert not [p for p in root.rglob("*.tmp")]  # no temporary file left behind


def test_files_are_world_readable(example: tuple[Store, Settings]) -> None:
    store, settings = example
    build(store, settings)
    feed = settings.resolve(settings.output.dir) / "feeds" / "all.xml"
    assert feed.stat().st_mode & 0o777 == 0o644


@pytest.fixture
def desk(tmp_path: Path, store_url: str) -> Iterator[tuple[Store, Settings]]:
    """A three-items-per-page channel on each store backend."""
    settings = make_instance(
        tmp_path / "desk", {"desk": 'title = "Desk"\nitems = 3\n'}, store_url=store_url
    )
    store = open_store(store_url)
    yield store, settings
    store.close()


def atom_doc(settings: Settings, relative: str) -> ET.Element:
    return ET.fromstring((settings.resolve(settings.output.dir) / relative).read_bytes())


def links(doc: ET.Element) -> dict[str | None, str | None]:
    return {x.get("rel"): x.get("href") for x in doc.findall(f"{ATOM}link")}


def ids(doc: ET.Element) -> list[str | None]:
    return [e.findtext(f"{ATOM}id") for e in doc.findall(f"{ATOM}entry")]


def test_archives_hold_full_pages_from_the_oldest_and_link_as_rfc5005(
    desk: tuple[Store, Settings],
) -> None:
    store, settings = desk
    save(store, range(1, 11))  # 10 articles, pages of 3: pages 1-3, 1 item left over
    report = build(store, settings)
    assert report.channels[0].archive_pages == 3
    current = atom_doc(settings, "feeds/desk.atom")
    assert links(current)["prev-archive"] == f"{BASE}/feeds/desk/archive/3.atom"
    seen = set(ids(current))
    for page in (1, 2, 3):
        doc = atom_doc(settings, f"feeds/desk/archive/{page}.atom")
        assert doc.find(f"{FH}archive") is not None
        rel = links(doc)
        assert rel["self"] == f"{BASE}/feeds/desk/archive/{page}.atom"
        assert rel["current"] == f"{BASE}/feeds/desk.atom"
        assert rel.get("prev-archive") == (
            f"{BASE}/feeds/desk/archive/{page - 1}.atom" if page > 1 else None
        )
        assert rel.get("next-archive") == (
            f"{BASE}/feeds/desk/archive/{page + 1}.atom" if page < 3 else None
        )
        numbers = [int(str(i).rsplit("-", 1)[1]) for i in ids(doc)]
        assert numbers == [3 * page, 3 * page - 1, 3 * page - 2]  # newest first
        seen |= set(ids(doc))
    assert len(seen) == 10  # subscription + archives = the whole channel (PG-3)
    rss = ET.fromstring((settings.resolve(settings.output.dir) / "feeds/desk.xml").read_bytes())
    prev = [x.get("href") for x in rss.iter(f"{ATOM}link") if x.get("rel") == "prev-archive"]
    assert prev == [f"{BASE}/feeds/desk/archive/3.xml"]
    assert (
        json.loads((settings.resolve(settings.output.dir) / "feeds/desk.json").read_bytes())[
            "next_url"
        ]
        == f"{BASE}/feeds/desk/archive/3.json"
    )


def test_new_articles_add_pages_and_leave_older_pages_alone(
    desk: tuple[Store, Settings],
) -> None:
    store, settings = desk
    save(store, range(1, 10))  # exactly 3 pages
    build(store, settings)
    root = settings.resolve(settings.output.dir)
    for page in (1, 2, 3):
        os.utime(root / f"feeds/desk/archive/{page}.atom", (PAST, PAST))
    save(store, range(10, 13))  # a 4th page
    report = build(store, settings)
    assert report.channels[0].archive_pages == 4
    assert report.channels[0].archives_written == 2  # page 4, and page 3's next-archive
    assert (root / "feeds/desk/archive/1.atom").stat().st_mtime == PAST
    assert (root / "feeds/desk/archive/2.atom").stat().st_mtime == PAST
    assert (root / "feeds/desk/archive/3.atom").stat().st_mtime != PAST
    assert links(atom_doc(settings, "feeds/desk/archive/3.atom"))["next-archive"] == (
        f"{BASE}/feeds/desk/archive/4.atom"
    )


def test_an_edit_in_an_old_page_rebuilds_only_that_page(desk: tuple[Store, Settings]) -> None:
    store, settings = desk
    save(store, range(1, 10))
    build(store, settings)
    save(store, [2], title="Story 2, corrected")
    report = build(store, settings)
    assert report.channels[0].archives_written == 1
    doc = atom_doc(settings, "feeds/desk/archive/1.atom")
    titles = [e.findtext(f"{ATOM}title") for e in doc.findall(f"{ATOM}entry")]
    assert "Story 2, corrected" in titles


def test_a_deleted_archive_file_is_written_again(desk: tuple[Store, Settings]) -> None:
    store, settings = desk
    save(store, range(1, 7))
    build(store, settings)
    page = settings.resolve(settings.output.dir) / "feeds/desk/archive/1.json"
    page.unlink()
    assert build(store, settings).channels[0].archives_written == 1
    assert page.exists()


def test_pages_and_formats_no_longer_built_are_removed(tmp_path: Path) -> None:
    settings = make_instance(tmp_path / "i", {"desk": 'title = "Desk"\nitems = 2\n'})
    store = open_store(settings.store_url)
    save(store, range(1, 8))
    build(store, settings)
    root = settings.resolve(settings.output.dir)
    assert (root / "feeds/desk/archive/3.xml").exists()
    (settings.base_dir / "feeds/desk.toml").write_text(
        'title = "Desk"\nitems = 3\nformats = ["atom"]\n'
    )
    build(store, settings)
    names = sorted(p.name for p in (root / "feeds/desk/archive").iterdir())
    assert names == ["1.atom", "1.atom.gz", "2.atom", "2.atom.gz"]
    assert not (root / "feeds/desk.xml").exists() and not (root / "feeds/desk.json.gz").exists()
    store.close()


def test_ids_are_unchanged_after_the_site_moves_host_and_scheme(tmp_path: Path) -> None:
    """DD-3 (issue: done when): the ids survive http→https and a new host."""
    old = make_instance(tmp_path / "old", {"desk": 'title = "Desk"\n'}, base_url=BASE)
    store = open_store(old.store_url)
    save(store, range(1, 4))
    build(store, old)
    before = feedparser.parse((old.resolve(old.output.dir) / "feeds/desk.atom").read_bytes())
    new = make_instance(
        tmp_path / "old", {"desk": 'title = "Desk"\n'}, base_url="http://moved.example"
    )
    save(store, range(1, 4), base_url="http://moved.example")  # same keys, new URLs
    build(store, new)
    after = feedparser.parse((new.resolve(new.output.dir) / "feeds/desk.atom").read_bytes())
    assert [e.id for e in after.entries] == [e.id for e in before.entries]
    assert all(e.link.startswith("http://moved.example/") for e in after.entries)
    assert after.feed.id == before.feed.id
    store.close()


def test_only_the_named_channel_is_built(tmp_path: Path) -> None:
    settings = make_instance(tmp_path / "i", {"a": 'title = "A"\n', "b": 'title = "B"\n'})
    store = open_store(settings.store_url)
    report = build(store, settings, only=["b"])
    assert [c.name for c in report.channels] == ["b"]
    root = settings.resolve(settings.output.dir)
    assert (root / "feeds/b.xml").exists() and not (root / "feeds/a.xml").exists()
    manifest = json.loads((root / ".syndicate/manifest.json").read_bytes())
    assert [c["name"] for c in manifest["channels"]] == ["a", "b"]  # all channels served
    with pytest.raises(ConfigError, match="no channel named 'nope'"):
        build(store, settings, only=["nope"])
    store.close()


def test_a_failing_channel_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syndicate.feeds import fragments

    settings = make_instance(tmp_path / "i", {"a": 'title = "A"\n', "b": 'title = "Bad"\n'})
    store = open_store(settings.store_url)
    real = fragments.render_xml

    def render_xml(
        doc: FeedDocument, formats: Iterable[str] = ("rss", "atom"), **kwargs: Any
    ) -> dict[str, bytes]:
        if doc.title == "Bad":
            raise ValueError("cannot render")
        return real(doc, formats, **kwargs)

    # Documents are spliced from fragments (feeds.fragments renders every head and item).
    monkeypatch.setattr(fragments, "render_xml", render_xml)
    report = build(store, settings)
    assert report.failed
    assert [(c.name, c.error) for c in report.channels] == [("a", None), ("b", "cannot render")]
    assert (settings.resolve(settings.output.dir) / "feeds/a.xml").exists()
    store.close()


def test_related_in_content_appends_more_from_links(tmp_path: Path) -> None:
    related = 'title = "{}"\nitems = 3\nrelated_in_content = true\n'
    settings = make_instance(
        tmp_path / "i", {"a": related.format("A"), "c": 'title = "C"\nitems = 3\n'}
    )
    store = open_store(settings.store_url)
    # 9 articles: 3 in the subscription feed, 6 in archives. Each has words of its own:
    # articles with the same text are copies, which are never offered as related.
    for n in range(1, 10):
        own = " ".join(f"detail{n}x{i}" for i in range(8))
        save(store, [n], body_html=f"<p>Body of the harbour story. {own}</p>")
    build(store, settings)
    root = settings.resolve(settings.output.dir)
    first = (root / "feeds/a.xml").read_bytes()
    parsed = feedparser.parse(first)
    assert parsed.bozo == 0 and len(parsed.entries) == 3
    for entry in parsed.entries:
        content = entry.content[0].value
        assert "More from The Example News" in content
        links = set(re.findall(r'href="(https://[^"]+/stories/\d+/)"', content))
        assert links and entry.link not in links  # never the item itself
    assert b"More from" not in (root / "feeds/c.xml").read_bytes()
    # Same archive, same links: a rebuild leaves the bytes alone.
    build(store, settings)
    assert (root / "feeds/a.xml").read_bytes() == first
    store.close()


def test_readers_never_see_half_a_file(tmp_path: Path) -> None:
    settings = make_instance(tmp_path / "i", {"desk": 'title = "Desk A"\n'})
    store = open_store(settings.store_url)
    save(store, range(1, 30), body_html="<p>" + "long body " * 2000 + "</p>")
    build(store, settings)
    feed = settings.resolve(settings.output.dir) / "feeds/desk.xml"
    versions = {feed.read_bytes()}
    stop = threading.Event()
    seen: list[bytes] = []

    def read() -> None:
        while not stop.is_set():
            seen.append(feed.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(6):  # rewrite the feed with another title each time
            channel = settings.base_dir / "feeds/desk.toml"
            channel.write_text(f'title = "Desk {n}"\n')
            build(store, settings, only=["desk"])
            versions.add(feed.read_bytes())
    finally:
        stop.set()
        reader.join()
    assert len(versions) == 7 and seen
    assert all(data in versions for data in seen)  # whole old or whole new, never a mix
    store.close()


def test_a_failed_commit_leaves_the_old_file_and_no_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syndicate.feeds import writer as writer_module

    writer = writer_module.Writer(tmp_path)
    writer.write("feeds/x.xml", b"old")
    writer.sync()

    def broken(path: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(writer_module, "_fsync", broken)
    assert writer.write("feeds/x.xml", b"new") is True
    with pytest.raises(OSError, match="disk full"):
        writer.commit()
    assert (tmp_path / "feeds/x.xml").read_bytes() == b"old"
    assert sorted(p.name for p in (tmp_path / "feeds").iterdir()) == ["x.xml", "x.xml.gz"]


def test_the_writer_compares_with_what_it_wrote_in_a_folder_it_made(tmp_path: Path) -> None:
    from syndicate.feeds.writer import Writer

    writer = Writer(tmp_path)
    old = os.umask(0o077)  # files stay readable by another web server whatever the umask
    try:
        assert writer.write("feeds/new/x.xml", b"one") is True  # a new folder: no stat
        writer.commit()
        assert writer.write("feeds/new/x.xml", b"one") is False  # same bytes: left alone
        assert writer.write("feeds/new/x.xml", b"two") is True
        assert writer.write("feeds/new/y.xml", b"three", gz=False) is True
        writer.sync()
    finally:
        os.umask(old)
    folder = tmp_path / "feeds/new"
    assert sorted(p.name for p in folder.iterdir()) == ["x.xml", "x.xml.gz", "y.xml"]
    assert (folder / "x.xml").read_bytes() == b"two"
    assert gzip.decompress((folder / "x.xml.gz").read_bytes()) == b"two"
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in folder.iterdir())


def _write_in_child(root: str) -> None:
    from syndicate.feeds.writer import Writer

    writer = Writer(Path(root))
    writer.write("child.txt", b"from the child", gz=False)
    writer.sync()


def test_a_forked_child_commits_through_threads_of_its_own(tmp_path: Path) -> None:
    # The fsync threads are kept for the process; a child forked after the parent made
    # them (a prefork worker) has none of them running, and must make its own.
    import multiprocessing

    from syndicate.feeds.writer import Writer

    writer = Writer(tmp_path)
    writer.write("parent.txt", b"from the parent", gz=False)
    writer.sync()
    child = multiprocessing.get_context("fork").Process(
        target=_write_in_child, args=(str(tmp_path),)
    )
    child.start()
    child.join(60)
    if child.exitcode is None:
        child.kill()
    assert child.exitcode == 0
    assert (tmp_path / "child.txt").read_bytes() == b"from the child"
