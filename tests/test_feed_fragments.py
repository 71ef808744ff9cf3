"""Render once, splice ever after (feeds.fragments): byte-identity with the feedgen
reference, and builds that render and rewrite only what changed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from syndicate.config import ChannelConfig, Settings, load_channels
from syndicate.feeds.archives import ArticleKey
from syndicate.feeds.builder import BuildReport, build
from syndicate.feeds.documents import archive_path, document, feed_path, render
from syndicate.feeds.fragments import Heads, render_items, splice
from syndicate.feeds.picks import channel_picks
from syndicate.feeds.render import FORMATS, DocumentLinks, FeedDocument, RelatedLink
from syndicate.ingest.run import ingest
from syndicate.models import Article, Author, Image, utc_now
from syndicate.store import Store, open_store
from syndicate.store.channels import channel_articles
from syndicate.store.fragments_schema import feed_fragments
from tests.feeds.fixtures import BASE, article, make_instance, save
from tests.feeds.fixtures import document as golden_document
from tests.test_feeds_golden import GOLDEN, _cases

ALL_FORMATS = ("rss", "atom", "json")


def _spliced(doc: FeedDocument, formats: tuple[str, ...]) -> dict[str, bytes]:
    items = render_items(doc, doc.articles, formats)
    updated = [a.updated_at for a in doc.articles]
    return splice(doc, formats, updated, [items[a.id] for a in doc.articles])


def _odd_articles() -> list[Article]:
    """Items that take every branch of the renderers, newest first."""
    return [
        article(9, url="", image=None, authors=()),  # no link: summary becomes content
        article(8, title="  ", dek="", body_html=""),  # untitled, empty body
        article(7, title="Title with <item> and </entry> and ]]> in it", dek="<entry>"),
        article(6, body_html="<p>\x00\x0bcontrol\ud800 characters</p>", tags=("A", "a", "")),
        article(5, image=Image(f"{BASE}/img/5.webp?x=1", alt="", credit=""), authors=()),
        article(4, image=Image(f"{BASE}/img/4", alt="no type"), section=""),
        article(3, authors=(Author("Solo", url=""), Author("", url=f"{BASE}/nobody"))),
        article(2, dek="", title="Story 2: “Quotes” & ampersands"),
        article(1),
    ]


@pytest.mark.parametrize("name", sorted(_cases()))
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_spliced_documents_equal_the_golden_files(name: str, fmt: str) -> None:
    data = _spliced(_cases()[name], (fmt,))[fmt]
    assert data == (GOLDEN / f"{name}.{FORMATS[fmt].extension}").read_bytes()


@pytest.mark.parametrize("summary_only", [False, True])
@pytest.mark.parametrize("archive", [False, True])
@pytest.mark.parametrize("count", [0, 1, 2, 9])
def test_spliced_documents_equal_the_feedgen_reference(
    summary_only: bool, archive: bool, count: int
) -> None:
    articles = _odd_articles()[:count]
    related = {
        a.id: (RelatedLink("Older & wiser <b>", f"{BASE}/older?a=1&b=2"), RelatedLink("x", ""))
        for a in articles[::2]
    }
    doc = golden_document(
        articles, summary_only=summary_only, archive=archive, related=related, hubs=()
    )
    reference = render(doc, ALL_FORMATS)
    assert _spliced(doc, ALL_FORMATS) == reference
    for fmt in ALL_FORMATS:  # one format alone (a channel with only that format)
        assert _spliced(doc, (fmt,))[fmt] == reference[fmt]
    # A head with no image or author among its items declares neither namespace.
    plain = [dataclasses.replace(a, image=None, authors=()) for a in articles]
    doc = dataclasses.replace(doc, articles=plain)
    assert _spliced(doc, ALL_FORMATS) == render(doc, ALL_FORMATS)


def test_heads_rendered_once_per_shape_equal_the_feedgen_reference() -> None:
    """One Heads across many documents, as a build keeps it: each page's head is a
    template with its own links and date put in, byte-identical to feedgen's."""
    heads = Heads()
    articles = _odd_articles()
    links = {
        # Plain URLs, and ones XML escapes (& and "), which take the whole-render path.
        "plain": lambda fmt, n: f"{BASE}/feeds/d/archive/{n}.{FORMATS[fmt].extension}",
        "escaped": lambda fmt, n: f'{BASE}/feeds/d?page={n}&f={fmt}&q="x"',
    }
    for kind, url in links.items():
        for n in range(1, 6):  # first, middle and last pages, and a subscription document
            archive = n < 5
            doc_links = {
                fmt: DocumentLinks(
                    url(fmt, n),
                    current=url(fmt, 0) if archive else None,
                    prev_archive=url(fmt, n - 1) if n > 1 else None,
                    next_archive=url(fmt, n + 1) if archive and n < 4 else None,
                )
                for fmt in FORMATS
            }
            chunk = articles[n - 1 : n + 2]  # other items: other dates and namespaces
            doc = golden_document(
                chunk, links=doc_links, archive=archive, hubs=() if archive else (f"{BASE}/hub",)
            )
            items = render_items(doc, chunk, ALL_FORMATS)
            spliced = splice(
                doc,
                ALL_FORMATS,
                [a.updated_at for a in chunk],
                [items[a.id] for a in chunk],
                heads=heads,
            )
            assert spliced == render(doc, ALL_FORMATS), (kind, n)
    # Rendered once per shape, not once per document.
    assert 0 < len(heads._templates) < 10


# --- builds ------------------------------------------------------------------------------


def _reference_files(store: Store, settings: Settings, channel: ChannelConfig) -> dict[str, bytes]:
    """Every document of ``channel`` rendered whole by the reference renderer."""
    articles = channel_articles(store, channel)
    keys = [ArticleKey.of(a) for a in articles]
    picks = channel_picks(store, settings, channel, keys, utc_now())
    pages = len(articles) // channel.items if channel.archives else 0
    total, size = len(articles), channel.items
    docs: list[tuple[int | None, list[Article]]] = [(None, articles[:size])]
    docs += [
        (page, articles[total - page * size : total - (page - 1) * size])
        for page in range(1, pages + 1)
    ]
    out: dict[str, bytes] = {}
    for page, chunk in docs:
        doc = document(
            settings, channel, chunk, page=page, pages=pages, related=picks.related_for(chunk)
        )
        for fmt, data in render(doc, channel.formats).items():
            if page is None:
                out[feed_path(channel.name, fmt)] = data
            else:
                out[archive_path(channel.name, page, fmt)] = data
    return out


def _assert_built_like_the_reference(store: Store, settings: Settings) -> int:
    output = settings.resolve(settings.output.dir)
    checked = 0
    for channel in load_channels(settings):
        for path, data in _reference_files(store, settings, channel).items():
            assert (output / path).read_bytes() == data, path
            checked += 1
    return checked


def _mtimes(settings: Settings) -> dict[str, int]:
    output = settings.resolve(settings.output.dir)
    return {
        str(p.relative_to(output)): p.stat().st_mtime_ns
        for p in (output / "feeds").rglob("*")
        if p.is_file()
    }


@pytest.fixture
def example(instance_settings: Settings) -> Iterator[tuple[Store, Settings]]:
    store = open_store(instance_settings.store_url)
    ingest(store, instance_settings)
    yield store, instance_settings
    store.close()


def test_the_example_instance_is_built_byte_identical_to_the_reference(
    example: tuple[Store, Settings],
) -> None:
    store, settings = example
    report = build(store, settings)
    assert not report.failed
    assert _assert_built_like_the_reference(store, settings) >= 12  # 4 channels x 3 formats


KINDS = {
    "full": 'title = "Full"\nitems = 3\n',
    "summary": 'title = "Summary"\nitems = 3\ncontent = "summary"\nformats = ["atom", "rss"]\n',
    "related": 'title = "Related"\nitems = 3\nrelated_in_content = true\n',
    "odd": 'title = "Odd"\nitems = 4\nformats = ["json"]\n[filters]\ntags = ["odd"]\n',
}


@pytest.fixture
def desk(tmp_path: Path, store_url: str) -> Iterator[tuple[Store, Settings]]:
    """Every channel kind, with archive pages: 20 articles, some without image,
    authors or link."""
    settings = make_instance(tmp_path / "i", KINDS, store_url=store_url)
    store = open_store(settings.store_url)
    save(store, range(1, 21, 3), image=None, authors=())
    save(store, range(2, 21, 3), tags=("odd", "x"))
    save(store, range(3, 21, 3))
    yield store, settings
    store.close()


def _by_channel(report: BuildReport) -> dict[str, tuple[int, int, int]]:
    return {c.name: (c.items_rendered, c.items_reused, c.archives_written) for c in report.channels}


def test_every_channel_kind_and_archive_page_is_byte_identical_to_the_reference(
    desk: tuple[Store, Settings],
) -> None:
    store, settings = desk
    assert not build(store, settings).failed
    # 4 channels' subscription documents and pages: 6+6+6 pages of 3, 2 pages of 4 (json).
    assert _assert_built_like_the_reference(store, settings) == 3 * 7 + 2 * 7 + 3 * 7 + 1 * 2
    # Edited, deleted-from-a-page and older-dated articles: still identical after a rebuild.
    save(store, [5], title="Story 5, corrected")
    save(store, [0])  # published before every page: shifts them all
    assert not build(store, settings).failed
    _assert_built_like_the_reference(store, settings)


def test_a_build_renders_each_item_once_and_then_only_what_changed(
    desk: tuple[Store, Settings],
) -> None:
    store, settings = desk
    first = _by_channel(build(store, settings))
    # Each item rendered once for each distinct bytes it has: "odd" (full content, no
    # links) is all reused from "full", and so are "related" items without picks.
    related = next(c for c in load_channels(settings) if c.name == "related")
    keys = [ArticleKey.of(a) for a in channel_articles(store, related)]
    linked = sum(
        bool(links)
        for links in channel_picks(store, settings, related, keys, utc_now()).links.values()
    )
    assert 0 < linked < 20
    assert {name: rendered for name, (rendered, _, _) in first.items()} == {
        "full": 20,
        "summary": 20,
        "related": linked,
        "odd": 0,
    }
    # Nothing changed: no document is rebuilt, nothing rendered.
    assert _by_channel(build(store, settings)) == {name: (0, 0, 0) for name in KINDS}
    # An edit renders that item again, in the channels that carry it.
    save(store, [19], title="Story 19, corrected")
    again = _by_channel(build(store, settings))
    assert {name: rendered for name, (rendered, _, _) in again.items()} == {
        "full": 1,
        "summary": 1,
        "related": 1,
        "odd": 0,
    }


def test_an_incremental_build_rewrites_only_the_documents_that_changed(
    desk: tuple[Store, Settings],
) -> None:
    store, settings = desk
    build(store, settings)
    before = _mtimes(settings)
    save(store, [22], tags=("x",))  # not in "odd"; a newest article: no page shifts
    report = build(store, settings)
    after = _mtimes(settings)
    changed = {path for path in after if before.get(path) != after[path]}
    expected = {
        f"feeds/{name}.{FORMATS[fmt].extension}{gz}"
        for name in ("full", "summary", "related")
        for fmt in (("atom", "rss") if name == "summary" else ALL_FORMATS)
        for gz in ("", ".gz")
    }
    # 21 articles fill a 7th page of 3 in full/summary/related: that page is new, and
    # the 6th gains its next-archive link (JSON Feed links only to older pages, so its
    # JSON stays); every other file keeps its bytes and mtime.
    for name in ("full", "summary", "related"):
        for fmt in ("atom", "rss") if name == "summary" else ALL_FORMATS:
            for page in (6, 7) if fmt != "json" else (7,):
                path = archive_path(name, page, fmt)
                expected |= {path, f"{path}.gz"}
    assert changed == expected
    counts = _by_channel(report)
    assert counts["odd"] == (0, 0, 0)  # not even read
    for name in ("full", "summary", "related"):
        rendered, reused, pages = counts[name]
        assert rendered == 1  # only the new article
        assert pages == 2
        assert reused == 5  # the other items of the feed, page 6 and page 7, read once


def test_fifty_new_articles_leave_older_archive_pages_identical(
    desk: tuple[Store, Settings],
) -> None:
    store, settings = desk
    build(store, settings)
    output = settings.resolve(settings.output.dir)
    pages = {
        path: (output / path).read_bytes()
        for name in ("full", "related")
        for page in range(1, 6)
        for path in [archive_path(name, page, "rss"), archive_path(name, page, "json")]
    }
    save(store, range(100, 150))
    report = build(store, settings)
    assert not report.failed
    for path, data in pages.items():
        assert (output / path).read_bytes() == data, path
    assert _by_channel(report)["full"][0] == 50  # the new ones only
    _assert_built_like_the_reference(store, settings)


def test_another_channel_with_the_same_item_settings_reuses_the_fragments(
    tmp_path: Path,
) -> None:
    settings = make_instance(
        tmp_path / "i", {"a": 'title = "A"\nitems = 2\n', "b": 'title = "B"\nitems = 2\n'}
    )
    store = open_store(settings.store_url)
    save(store, range(1, 7))
    counts = _by_channel(build(store, settings))
    assert counts["a"][:2] == (6, 0) and counts["b"][:2] == (0, 6)
    _assert_built_like_the_reference(store, settings)
    store.close()


def test_fragments_of_items_and_channels_no_longer_carried_are_removed(tmp_path: Path) -> None:
    settings = make_instance(
        tmp_path / "i",
        {"a": 'title = "A"\n', "b": 'title = "B"\ncontent = "summary"\n'},
    )
    store = open_store(settings.store_url)
    save(store, range(1, 5))
    build(store, settings)

    def rows(channel: str) -> int:
        query = select(func.count()).where(feed_fragments.c.channel == channel)
        with store.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    assert rows("a") == rows("b") == 4 * 3
    (settings.resolve(Path("feeds")) / "a.toml").write_text(
        'title = "A"\n[filters]\nsections = ["x"]\n'
    )
    (settings.resolve(Path("feeds")) / "b.toml").unlink()
    build(store, settings)
    assert rows("a") == 0 and rows("b") == 0
    store.close()


def test_a_build_reads_fragments_with_one_query_per_channel_and_no_bodies(
    desk: tuple[Store, Settings],
) -> None:
    from sqlalchemy import event

    store, settings = desk
    build(store, settings)
    save(store, range(30, 33))  # new pages in three channels
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        report = build(store, settings)
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert not report.failed
    reads = [s for s in statements if s.startswith("SELECT") and "FROM feed_fragments" in s]
    counts = [s for s in reads if "count(" in s]
    # One read of the fragments per channel that rewrote documents ("odd" did not); no
    # count of a channel's fragments: the build is incremental, and the change log says
    # which items left a channel (feeds/incremental.py).
    assert len(reads) - len(counts) == 3
    assert len(counts) == 0
    # Only the new articles are read whole (by id: to be rendered, and by the picks of
    # the related channel: the three new items' picks, at most 4 each, in one read);
    # the scan over the channels reads no body.
    bodies = [s for s in statements if "FROM articles" in s and "articles.body_html" in s]
    assert bodies
    for statement in bodies:
        where = statement.split(" WHERE ", 1)[1]
        assert where.startswith("articles.id IN (") and where.count(",") < 3 * 4, statement


def test_many_items_to_render_are_read_by_date_range_with_the_same_bytes(
    desk: tuple[Store, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from syndicate.feeds import fragments

    store, settings = desk
    monkeypatch.setattr(fragments, "RENDER_BATCH", 4)  # several feedgen batches, too
    monkeypatch.setattr(fragments, "RANGE_READ", 2)
    ranges: list[int] = []
    real = fragments.iter_channel_articles  # type: ignore[attr-defined]

    def counted(*args: object, **kwargs: object) -> Iterator[Article]:
        ranges.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fragments, "iter_channel_articles", counted)
    assert not build(store, settings).failed
    assert ranges  # the range read was taken
    _assert_built_like_the_reference(store, settings)


def test_an_item_gone_between_the_scan_and_its_rendering_is_redone_next_build(
    desk: tuple[Store, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, settings = desk
    build(store, settings)
    save(store, [22, 23, 24])
    real = store.get_articles
    gone = article(23).id

    def without_one(ids: list[str]) -> list[Article]:
        return [a for a in real(ids) if a.id != gone]

    monkeypatch.setattr(store, "get_articles", without_one)
    assert not build(store, settings).failed
    output = settings.resolve(settings.output.dir)
    assert gone not in (output / feed_path("full", "json")).read_text()
    monkeypatch.undo()
    build(store, settings)  # no fingerprint was kept for what missed the item
    _assert_built_like_the_reference(store, settings)
