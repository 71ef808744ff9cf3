"""Property tests: no input makes a source crash (STYLE 4, TE-3).

Random bytes, truncated prefixes of the valid fixtures and mutated fixtures go to the
feed parser directly, and through ``FeedSource.read`` from a real local server. Every
input must give entries, an error, warnings, or be a well-formed feed with no items; no
exception escapes, and ``read`` never has to fall back to its "unexpected" wrapper.
Pages and sitemaps get the same treatment for their parsers.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from syndicate.config import FetchSettings, SiteSettings, SourceConfig
from syndicate.errors import ContentError, SourceError
from syndicate.ingest.content import clean_entry
from syndicate.ingest.sources.base import SourceContext
from syndicate.ingest.sources.feed import FeedSource, parse_feed
from syndicate.ingest.sources.http import HttpResponse
from syndicate.ingest.sources.page import parse_sitemap, read_page
from syndicate.models import Entry, FetchResult, SourceState
from tests.httpserver import LocalServer, serve

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
PAGES = Path(__file__).parent / "fixtures" / "pages"
VALID = [
    (FEEDS / name).read_bytes()
    for name in ("rss20.xml", "rss10.xml", "rss091.xml", "atom.xml", "jsonfeed11.json")
]
PAGE_FIXTURES = [p.read_bytes() for p in sorted(PAGES.glob("*.*"))]
CONTENT_TYPES = [
    "",
    "application/rss+xml",
    "application/atom+xml; charset=utf-8",
    "application/feed+json",
    "application/json",
    "text/xml; charset=iso-8859-1",
    "text/html",
]
TOKENS = [b"<", b"&", b"]]>", b"<![CDATA[", b"\x00", b"&#0;", b"http://[", b'"', b"{", b"\xff\xfe"]
FUZZ = settings(max_examples=150, deadline=None)
AUTHORITY = "example.org,2026"


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    """A fixture with a few byte-level edits: overwrite, insert, delete, repeat."""
    data = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["overwrite", "insert", "delete", "repeat"]))
        # Random bytes, or a token that breaks structure the way real feeds do.
        chunk = draw(st.one_of(st.binary(min_size=1, max_size=8), st.sampled_from(TOKENS)))
        if edit == "overwrite":
            data[at : at + len(chunk)] = chunk
        elif edit == "insert":
            data[at:at] = chunk
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 200))] * 3
    return bytes(data)


def truncated(corpus: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.sampled_from(corpus).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n]))


ANY_INPUT = st.one_of(
    st.binary(max_size=2000), truncated(VALID), mutated(VALID), st.sampled_from(VALID)
)


def is_empty_feed(body: bytes, content_type: str) -> bool:
    """True for a well-formed feed with no items, where there is nothing to report."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
        if isinstance(doc, dict) and doc.get("items") == []:
            return True
    except (ValueError, RecursionError):
        pass
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-type": content_type})
    return bool(parsed.get("version")) and not parsed.get("bozo") and not parsed.get("entries")


def check(result: FetchResult, body: bytes, content_type: str) -> None:
    """What must hold for any input, whatever it is."""
    assert result.entries or result.error or result.warnings or is_empty_feed(body, content_type)
    keys = [e.key for e in result.entries]
    assert len(keys) == len(set(keys)) and all(keys)
    for entry in result.entries:
        assert entry.title or entry.body_html or entry.url
        # The pipeline cleans every entry next: that must not raise either.
        clean_entry(entry, source="fuzz", authority=AUTHORITY, site_url="https://s.example")


def test_clean_entry_keeps_an_article_whose_link_is_unusable() -> None:
    # Found by test_parse_feed_never_raises: a mangled <link> survives feedparser as an
    # http URL with a space in the host, or as "http://[x". The article is kept and the
    # unusable URL dropped (nh3 would reject it as a base URL).
    for url in ("http:// t", "http://[x", "https://exa mple.com/a"):
        entry = Entry(key=url, url=url, title="T", body_html="<p>x</p>", published_at=None)
        cleaned = clean_entry(
            entry, source="fuzz", authority=AUTHORITY, site_url="https://s.example"
        )
        assert cleaned.url == "" and cleaned.title == "T"
        assert cleaned.id.startswith("tag:")


@FUZZ
@given(body=ANY_INPUT, content_type=st.sampled_from(CONTENT_TYPES))
def test_parse_feed_never_raises(body: bytes, content_type: str) -> None:
    result = parse_feed(body, url="https://feeds.example/feed", content_type=content_type)
    assert result.error is None or isinstance(result.error, ContentError)
    check(result, body, content_type)


@pytest.fixture(scope="module")
def feed_server() -> Iterator[LocalServer]:
    # One server for all examples: hypothesis runs them in one test call.
    with serve() as server:
        yield server


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=ANY_INPUT, content_type=st.sampled_from(CONTENT_TYPES), gzip=st.booleans())
def test_feed_source_read_never_raises(
    feed_server: LocalServer, body: bytes, content_type: str, gzip: bool
) -> None:
    feed_server.route("/feed", body=body, gzip=gzip, headers={"Content-Type": content_type})
    config = SourceConfig(
        name="fuzz", kind="feed", url=feed_server.url("/feed"), allow_private=True
    )
    fetch = FetchSettings(connect_timeout=2.0, read_timeout=2.0, total_timeout=5.0)
    result = FeedSource(config, SourceContext(SiteSettings(), fetch, Path("."))).read(
        SourceState(name="fuzz")
    )
    # read() wraps anything unforeseen in a bare SourceError "unexpected ...": never here.
    assert type(result.error) is not SourceError, result.error
    assert result.error is None or isinstance(result.error, ContentError)
    check(result, body, content_type)


PAGE_INPUT = st.one_of(st.binary(max_size=2000), truncated(PAGE_FIXTURES), mutated(PAGE_FIXTURES))


@FUZZ
@given(body=PAGE_INPUT, content_type=st.sampled_from(["", "text/html; charset=utf-8"]))
def test_page_and_sitemap_parsers_only_raise_content_errors(body: bytes, content_type: str) -> None:
    headers = CaseInsensitiveDict({"Content-Type": content_type})
    response = HttpResponse("https://pages.example/a/b", 200, headers, body)
    try:
        entry = read_page(response)
    except ContentError:
        pass
    else:
        assert entry.key and (entry.title or entry.body_html)
    try:
        kind, urls = parse_sitemap(body, "https://pages.example/sitemap.xml", 100_000)
    except ContentError:
        pass
    else:
        assert kind in ("urlset", "sitemapindex")
        assert all(u.startswith(("http://", "https://")) for u in urls)
