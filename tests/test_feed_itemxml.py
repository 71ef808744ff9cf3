"""The direct item renderer (feeds.itemxml) writes exactly feedgen's bytes.

Every item is rendered both ways, by :func:`render_items` (itemxml for RSS and Atom)
and by :func:`render_items_reference` (items cut out of feedgen documents), and the
bytes compared per item and format: the example content, the golden channels, the
benchmark's articles and generated hostile text, in every channel kind (full or
summary content, with and without "More from" links). Each corpus also checks that
itemxml rendered its items itself, so no comparison passes by falling back to feedgen.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicate.config import load_channels, load_settings
from syndicate.feeds import fragments, items
from syndicate.feeds.fragments import render_items, render_items_reference
from syndicate.feeds.items import clean_article
from syndicate.feeds.itemxml import item_xml, renders_directly
from syndicate.feeds.render import FeedDocument, RelatedLink
from syndicate.ingest.run import ingest
from syndicate.models import Article, Author, Image
from syndicate.store import open_store
from syndicate.store.channels import channel_articles
from tests.conftest import REPO, copy_instance
from tests.feeds.fixtures import BASE, article, document, golden_articles
from tests.test_feed_fragments import _odd_articles
from tests.test_feeds_golden import _cases
from tests.test_feeds_hostile import CONTROLS, HOSTILE, RTL

FORMATS = ("rss", "atom", "json")


def _related(articles: Sequence[Article], title: str = "") -> dict[str, tuple[RelatedLink, ...]]:
    """ "More from" links for every other article: the next two articles, a link with
    XML-special characters, and one without a URL (left out of the content)."""
    out = {}
    for i, a in enumerate(articles[::2]):
        picks = [RelatedLink(b.title, b.url) for b in articles[2 * i + 1 : 2 * i + 3]]
        picks += [
            RelatedLink(f"Older & wiser <b> {title}", f'{BASE}/o?a=1&b="2"'),
            RelatedLink("x", ""),
        ]
        out[a.id] = tuple(picks)
    return out


def _kinds(base: FeedDocument, articles: Sequence[Article]) -> list[FeedDocument]:
    """``base`` as every channel kind: full or summary content, with or without links."""
    related = _related(articles)
    return [
        dataclasses.replace(base, summary_only=summary_only, related=links)
        for summary_only in (False, True)
        for links in ({}, related)
    ]


def assert_like_the_reference(
    doc: FeedDocument, articles: Sequence[Article], *, direct: bool = True
) -> int:
    """Render ``articles`` both ways in ``doc``; the bytes must be equal, per item and
    format. ``direct``: also require that itemxml rendered every item itself. Returns
    the number of items compared."""
    got = render_items(doc, articles, FORMATS)
    expected = render_items_reference(doc, articles, FORMATS)
    assert got.keys() == expected.keys()
    for article_id, formats in expected.items():
        assert got[article_id].keys() == formats.keys()
        for fmt, data in formats.items():
            assert got[article_id][fmt] == data, (article_id, fmt, got[article_id][fmt], data)
    if direct:
        for a in articles:
            assert renders_directly(clean_article(a)), a.id
            xml = item_xml(doc, a, ("rss", "atom"))
            assert xml == {f: expected[a.id][f] for f in ("rss", "atom")}
    return len(expected)


def test_the_golden_channels_and_odd_items() -> None:
    for case in _cases().values():
        assert assert_like_the_reference(case, case.articles) == 3
    for articles in (_odd_articles(), golden_articles()):  # each set has its own ids
        for doc in _kinds(document(articles), articles):
            assert_like_the_reference(doc, articles)
            for formats in (("rss",), ("atom",), ("json",), ("json", "atom")):  # fewer formats
                got = render_items(doc, articles, formats)
                assert got == render_items_reference(doc, articles, formats)
                assert all(set(data) == set(formats) for data in got.values())


def test_the_example_content(tmp_path: Path) -> None:
    config = copy_instance(tmp_path / "instance") / "syndicate.toml"
    instance = load_settings(config)
    store = open_store(instance.store_url)
    try:
        ingest(store, instance)
        compared: set[str] = set()
        for channel in load_channels(instance):
            articles = channel_articles(store, channel)
            base = document(articles, publisher=instance.site.name)
            for doc in _kinds(base, articles):
                assert assert_like_the_reference(doc, articles) == len(articles)
            compared.update(a.id for a in articles)
    finally:
        store.close()
    assert len(compared) == len(list((REPO / "content").rglob("*.*")))  # every article


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_feeds", REPO / "bench" / "feeds.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_articles() -> None:
    bench = _bench()
    articles = []
    for i in range(300):
        entry = bench.make_entry(i)
        fields = {
            f.name: getattr(entry, f.name) for f in dataclasses.fields(Article) if f.name != "story"
        }
        articles.append(Article(**fields))
    articles.reverse()  # newest first, as documents show them
    base = document(articles, publisher="The Meridian Review")
    for doc in _kinds(base, articles):
        assert assert_like_the_reference(doc, articles) == 300


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_text_in_every_field(case: str) -> None:
    value = HOSTILE[case]
    articles = [
        article(
            n,
            title=f"T {value}",
            dek=f"D {value}" if n % 2 else "",
            body_html=f"<p>B {value}</p>" if n % 3 else "",
            authors=(Author(f"A {value}", url=f"{BASE}/a?{value}"), Author(value)),
            tags=(f"tag {value}", value),
            section=f"S {value}",
            url=f"{BASE}/s/{n}?q={value}" if n % 4 else "",
            image=Image(f"{BASE}/i.png?{value}", alt=f"alt {value}", credit=value)
            if n % 5
            else None,
        )
        for n in range(1, 13)
    ]
    base = document(articles, publisher=f"P {value}")
    for doc in _kinds(base, articles):
        assert_like_the_reference(doc, articles)


def test_very_long_fields_and_whitespace() -> None:
    long = ("Lorem ipsum ]]> &amp; ü 😀 \r\n\t" * 5000).strip()
    articles = [
        article(1, title=long, dek=long, body_html=f"<p>{long}</p>", section=long),
        article(2, title="\r\n  spaced \t title \r\n", dek="  \n ", body_html="\n<p>\r</p>\n"),
        article(3, dek="", body_html="<img src='x.png'>"),  # no summary text at all
        article(4, dek="", body_html="", url=""),
        article(5, image=Image(f"{BASE}/img/5\t\n x.jpg", alt="\r", credit="", width=0, height=7)),
        article(6, image=Image(f"{BASE}/img/6.svg", width=10)),
    ]
    for doc in _kinds(document(articles), articles):
        assert_like_the_reference(doc, articles)


def test_what_itemxml_leaves_to_feedgen_is_rendered_by_feedgen() -> None:
    # Years before 1000: strftime's %Y is platform-dependent, so feedgen writes them.
    old = article(1, published_at=datetime(999, 5, 6, tzinfo=UTC))
    assert not renders_directly(clean_article(old))
    articles = [article(2), old]
    assert_like_the_reference(document(articles), articles, direct=False)
    # An article without an id: the same error as feedgen's, not different bytes.
    nameless = article(3, id="\x00")
    with pytest.raises(ValueError, match="Required fields not set"):
        render_items(document([nameless]), [nameless], FORMATS)


def test_fallback_items_keep_their_place_among_direct_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every third item left to feedgen: each still gets its own bytes.
    monkeypatch.setattr(fragments, "renders_directly", lambda a: not a.id.endswith(("3", "6")))
    articles = [article(n) for n in range(9, 0, -1)]
    got = render_items(document(articles), articles, FORMATS)
    assert got == render_items_reference(document(articles), articles, FORMATS)


# --- generated text ------------------------------------------------------------------------

SPECIAL = st.sampled_from(
    [
        *("&", "<", ">", '"', "'", "]]>", "\r", "\n", "\t", "\r\n", " ", "&amp;", "<p>", "</p>"),
        *("\ud800", "\udfff", CONTROLS, RTL, "😀", "東京", "\u2028", "\x85", "\ufeff", "é"),
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=12), SPECIAL), max_size=8).map("".join)
WHEN = st.datetimes(min_value=datetime(1001, 1, 1), max_value=datetime(9998, 12, 30))
OFFSET = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)


@st.composite
def articles(draw: st.DrawFn, n: int) -> Article:
    image = None
    if draw(st.booleans()):
        image = Image(
            draw(st.sampled_from(["", f"{BASE}/i.jpg", f"{BASE}/i.PNG?x=1", f"{BASE}/i"]))
            + draw(TEXT),
            alt=draw(TEXT),
            credit=draw(TEXT),
            caption=draw(TEXT),
            width=draw(st.none() | st.integers(0, 5000)),
            height=draw(st.none() | st.integers(0, 5000)),
        )
    published = draw(WHEN).replace(tzinfo=draw(OFFSET))
    return article(
        n,
        url=draw(st.sampled_from(["", f"{BASE}/s/{n}"])) + draw(TEXT),
        title=draw(TEXT),
        dek=draw(TEXT),
        body_html=draw(st.one_of(TEXT, TEXT.map(lambda t: f"<p>{t}</p>"))),
        authors=tuple(
            Author(draw(TEXT), url=draw(st.sampled_from(["", f"{BASE}/a"])) + draw(TEXT))
            for _ in range(draw(st.integers(0, 3)))
        ),
        section=draw(TEXT),
        tags=tuple(draw(st.lists(TEXT, max_size=4))),
        image=image,
        published_at=published,
        updated_at=draw(st.sampled_from([published, published + timedelta(seconds=1.5)])),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.integers(1, 4).flatmap(lambda k: st.tuples(*(articles(n) for n in range(k)))),
    publisher=TEXT,
    summary_only=st.booleans(),
    link_title=TEXT,
)
def test_generated_articles(
    items: tuple[Article, ...], publisher: str, summary_only: bool, link_title: str
) -> None:
    batch = list(items)
    doc = document(
        batch,
        publisher=publisher,
        summary_only=summary_only,
        related=_related(batch, link_title),
    )
    assert_like_the_reference(doc, batch)


# --- clean_article's shortcut for articles that are already clean ----------------------------


def _cleaned_the_long_way(article: Article) -> Article:
    with mock.patch.object(items, "_already_clean", return_value=False):
        return items.clean_article.__wrapped__(article)


def _one_field_changed(value: str) -> list[Article]:
    """Article 1 with ``value`` put at the end of each text field in turn."""
    base = article(1)
    assert base.image is not None
    image = base.image
    return [
        *(
            dataclasses.replace(base, **{name: getattr(base, name) + value})
            for name in ("id", "url", "title", "dek", "body_html", "section")
        ),
        dataclasses.replace(base, tags=(*base.tags, f"t{value}")),
        dataclasses.replace(base, authors=(Author("A", bio=f"b{value}"),)),
        dataclasses.replace(base, authors=(Author("A", url=f"u{value}"),)),
        *(
            dataclasses.replace(base, image=dataclasses.replace(image, **{name: f"x{value}"}))
            for name in ("url", "alt", "credit", "caption")
        ),
    ]


EDGES = ("", " ", "\n", "\u3000", "\x00", "\x1f", "\x7f", "\ufffe", "\uffff", "\uffc0")
MIDDLES = ("\uff01", "\ud800", "😀", "é", "\t", "\r")


@pytest.mark.parametrize("value", [*EDGES, *MIDDLES])
def test_the_shortcut_gives_what_cleaning_gives(value: str) -> None:
    for a in _one_field_changed(value):
        assert items.clean_article.__wrapped__(a) == _cleaned_the_long_way(a), (value, a)
    untitled = article(2, title="")
    assert items.clean_article.__wrapped__(untitled).title == "(untitled)"
    no_url = article(3, image=Image(""))
    assert items.clean_article.__wrapped__(no_url).image is None


@settings(max_examples=100, deadline=None)
@given(articles(1))
def test_the_shortcut_on_generated_articles(generated: Article) -> None:
    assert items.clean_article.__wrapped__(generated) == _cleaned_the_long_way(generated)
