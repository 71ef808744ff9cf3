"""The page source: sitemaps and article pages served by a real local server.

Covers metadata from JSON-LD, OpenGraph and plain meta; main text and what cleaning
removes from it; sitemaps (urlset, one level of index, lastmod order, XXE); conditional
GET of the sitemap and of each page (validators kept in ``extra``); page failures as
warnings, all-failed as an error; the HTTP failure modes through the source; and a run
through ``ingest`` that stores and reuses the per-page validators.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from time import time
from typing import Any

import lxml.html
import pytest
from pydantic import ValidationError

from syndicate.config import FetchSettings, Settings, SiteSettings, SourceConfig
from syndicate.errors import (
    BlockedAddressError,
    ContentError,
    FetchError,
    HTTPStatusError,
    SourceError,
)
from syndicate.ingest.content import clean_entry
from syndicate.ingest.run import ingest
from syndicate.ingest.sources.base import SourceContext
from syndicate.ingest.sources.page import PageSource, fallback_text, parse_sitemap
from syndicate.ingest.sources.pagemeta import read_meta
from syndicate.ingest.sources.registry import options_model, source_class
from syndicate.models import Author, Entry, FetchResult, Image, SourceState
from syndicate.store import Store
from tests.httpserver import LocalServer

pytest_plugins = ["tests.httpserver"]

PAGES = Path(__file__).parent / "fixtures" / "pages"
FAST = FetchSettings(connect_timeout=1.0, read_timeout=0.5, total_timeout=1.0)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NAMES = ("jsonld", "og-only", "meta-only", "empty", "home-canonical")


def fixture(name: str, server: LocalServer | None = None) -> bytes:
    body = (PAGES / name).read_bytes()
    return body.replace(b"{base}", server.url("").rstrip("/").encode()) if server else body


def serve_pages(server: LocalServer) -> None:
    for name in NAMES:
        server.route(
            f"/pages/{name}",
            body=fixture(f"{name}.html"),
            headers={"Content-Type": "text/html"},
            etag=f'"{name}-v1"',
        )


def make_source(**options: Any) -> PageSource:
    fetch = FAST.model_copy(update=options.pop("fetch", {}))
    config = SourceConfig(
        name="pages",
        kind="page",
        allow_private=options.pop("allow_private", True),
        allow_networks=options.pop("networks", ()),
        **options,
    )
    return PageSource(config, SourceContext(SiteSettings(), fetch, Path(".")))


def read(state: SourceState | None = None, **options: Any) -> FetchResult:
    return make_source(**options).read(state or SourceState(name="pages"))


def only_entry(result: FetchResult) -> Entry:
    assert result.error is None, result.error
    (entry,) = result.entries
    return entry


# --- metadata ----------------------------------------------------------------------------


def test_json_ld_page(http_server: LocalServer) -> None:
    serve_pages(http_server)
    url = http_server.url("/pages/jsonld")
    entry = only_entry(read(urls=[url]))
    assert entry.key == entry.url == "https://news.example.org/2025/03/river-park"
    assert entry.base_url == url
    assert entry.title == "Council approves the “river park” — at last"  # not og:title
    assert entry.dek == "The vote ends a ten-year wait… and starts a new fight."
    assert entry.authors == (
        Author("Ana Ruiz", "Ana Ruiz covers city hall.", "https://news.example.org/staff/ana"),
        Author("Bo Lind"),
    )
    assert entry.published_at == datetime(2025, 3, 4, 8, 30, tzinfo=UTC)
    assert entry.updated_at == datetime(2025, 3, 5, 10, 0, tzinfo=UTC)
    assert entry.image == Image(
        url=http_server.url("/images/park-lead.jpg"),
        caption="Children playing by the river",
        width=1200,
        height=800,
    )
    assert entry.section == "Local"
    assert entry.tags == ("parks", "council", "river")
    assert "ends a ten-year wait for the park" in entry.body_html
    assert f'href="{http_server.url("/maps/park")}"' in entry.body_html


def test_script_and_javascript_links_are_gone_once_cleaned(http_server: LocalServer) -> None:
    serve_pages(http_server)
    entry = only_entry(read(urls=[http_server.url("/pages/jsonld")]))
    cleaned = clean_entry(
        entry, source="pages", authority="example.org,2026", site_url="https://site.example"
    )
    for gone in ("<script", "alert(", "injected", "javascript:", "onclick", "steal()"):
        assert gone not in cleaned.body_html
    assert cleaned.id == "tag:example.org,2026:pages/2025/03/river-park"
    assert f'src="{http_server.url("/images/plan.png")}"' in cleaned.body_html


def test_open_graph_page(http_server: LocalServer) -> None:
    serve_pages(http_server)
    entry = only_entry(read(urls=[http_server.url("/pages/og-only")]))
    assert entry.key == "https://blog.example.net/posts/owls"  # <link rel=canonical>
    assert entry.title == "Owls at dusk: where to hear them"
    assert entry.dek == "A field guide for late walkers – with maps."
    assert entry.image == Image(
        url="https://cdn.example.net/owl.jpg", alt="A tawny owl on a branch", width=800, height=600
    )
    assert entry.published_at == datetime(2025, 2, 1, 17, 0, tzinfo=UTC)
    assert entry.updated_at == datetime(2025, 2, 2, 8, 0, tzinfo=UTC)
    assert (entry.section, entry.tags) == ("Nature", ("birds", "night"))
    assert entry.authors == (Author("Mei Chen"),)  # the profile URL names nobody
    assert "Tawny owls start calling" in entry.body_html


def test_plain_meta_page_in_latin1(http_server: LocalServer) -> None:
    serve_pages(http_server)
    url = http_server.url("/pages/meta-only")
    entry = only_entry(read(urls=[url]))
    assert entry.key == entry.url == url  # no canonical: the page's own URL
    assert entry.title == "Crème brûlée, the classic way"
    assert entry.dek == "Sugar, cream, fire."
    assert entry.authors == (Author("Chef Anouk"),)
    assert entry.tags == ("dessert", "french", "custard")
    assert entry.published_at is None and entry.image is None
    assert "split vanilla pod" in entry.body_html


def test_canonical_pointing_at_the_home_page_is_ignored(http_server: LocalServer) -> None:
    serve_pages(http_server)
    url = http_server.url("/pages/home-canonical")
    assert only_entry(read(urls=[url])).key == url


def test_page_without_title_or_text_is_a_warning(http_server: LocalServer) -> None:
    serve_pages(http_server)
    empty, og = http_server.url("/pages/empty"), http_server.url("/pages/og-only")
    result = read(urls=[empty, og])
    assert result.error is None and len(result.entries) == 1
    assert result.warnings == [f"{empty}: page skipped: no title and no text"]


@pytest.mark.parametrize(
    "ld",
    [
        '[{"@type": "WebPage"}, {"@type": ["Thing", "BlogPosting"], "headline": "H"}]',
        '{"@type": "WebPage", "mainEntity": {"@type": "schema:Article", "headline": "H"}}',
        '{"@context": "https://schema.org", "@type": "https://schema.org/NewsArticle",'
        ' "headline": "H"}',
    ],
    ids=["list, type list", "nested, prefixed type", "full IRI type"],
)
def test_json_ld_article_is_found_where_sites_put_it(ld: str) -> None:
    page = f'<html><head><script type="application/ld+json">{ld}</script></head></html>'
    assert read_meta(lxml.html.document_fromstring(page), "https://x.example/a").title == "H"


def test_json_ld_loose_shapes() -> None:
    ld = (
        '{"@type": "Article", "author": "Jo Writer", "keywords": "a, b ,,c",'
        ' "image": ["https://img.example/1.jpg", "https://img.example/2.jpg"],'
        ' "datePublished": "2025-03-01", "url": "/posts/p"}'
    )
    page = f'<html><head><script type="application/ld+json">{ld}</script></head></html>'
    meta = read_meta(lxml.html.document_fromstring(page), "https://x.example/a?utm=1")
    assert meta.authors == (Author("Jo Writer"),)
    assert meta.tags == ("a", "b", "c")
    assert meta.image == Image(url="https://img.example/1.jpg")
    assert meta.published_at == datetime(2025, 3, 1, tzinfo=UTC)
    assert meta.canonical == "https://x.example/posts/p"


def test_fallback_text_leaves_scripts_out() -> None:
    tree = lxml.html.document_fromstring(
        "<html><body><article><p>One &amp; two</p><script>evil()</script>"
        "<li>Three</li></article></body></html>"
    )
    assert fallback_text(tree) == "<p>One &amp; two</p><p>Three</p>"


# --- sitemaps ----------------------------------------------------------------------------


def serve_sitemap(server: LocalServer, name: str = "sitemap.xml", **reply: Any) -> str:
    server.route("/sitemap.xml", body=fixture(name, server), **reply)
    return server.url("/sitemap.xml")


def test_sitemap_newest_first_up_to_max_pages(http_server: LocalServer) -> None:
    serve_pages(http_server)
    sitemap = serve_sitemap(http_server, headers={"Content-Type": "application/xml"})
    result = read(sitemap=sitemap, max_pages=2)
    assert result.error is None
    assert [e.title for e in result.entries] == [
        "Council approves the “river park” — at last",
        "Owls at dusk: where to hear them",
    ]
    assert result.warnings == ["3 pages listed; reading 2 (max_pages)"]
    assert http_server.requests_to("/pages/meta-only") == []


def test_sitemap_conditional_get(http_server: LocalServer) -> None:
    serve_pages(http_server)
    sitemap = serve_sitemap(http_server, etag='"map-1"', last_modified="Sat, 01 Mar 2025 GMT")
    first = read(sitemap=sitemap)
    assert (first.etag, first.last_modified, len(first.entries)) == (
        '"map-1"',
        "Sat, 01 Mar 2025 GMT",
        3,
    )
    state = SourceState(name="pages", etag=first.etag, extra=first.extra)
    second = read(state, sitemap=sitemap)
    assert second.not_modified and second.entries == [] and second.error is None
    assert http_server.requests_to("/sitemap.xml")[1].headers["if-none-match"] == '"map-1"'
    assert len(http_server.requests_to("/pages/jsonld")) == 1  # pages not asked again


def test_sitemap_last_modified_round_trip(http_server: LocalServer) -> None:
    serve_pages(http_server)
    stamp = "Wed, 05 Mar 2025 10:00:00 GMT"
    sitemap = serve_sitemap(http_server, last_modified=stamp)
    first = read(sitemap=sitemap)
    second = read(SourceState(name="pages", last_modified=first.last_modified), sitemap=sitemap)
    assert second.not_modified
    assert http_server.requests_to("/sitemap.xml")[1].headers["if-modified-since"] == stamp


def test_each_page_is_asked_with_its_own_validators(http_server: LocalServer) -> None:
    serve_pages(http_server)
    stamp = "Mon, 03 Mar 2025 08:00:00 GMT"
    http_server.route("/pages/dated", body=fixture("og-only.html"), last_modified=stamp)
    urls = [http_server.url("/pages/jsonld"), http_server.url("/pages/dated")]
    first = read(urls=urls)
    assert first.extra["pages"] == {
        urls[0]: {"etag": '"jsonld-v1"'},
        urls[1]: {"last_modified": stamp},
    }
    second = read(SourceState(name="pages", extra=first.extra), urls=urls)
    assert (second.entries, second.skipped, second.error) == ([], 2, None)
    assert http_server.requests_to("/pages/jsonld")[1].headers["if-none-match"] == '"jsonld-v1"'
    assert http_server.requests_to("/pages/dated")[1].headers["if-modified-since"] == stamp
    assert second.extra["pages"] == first.extra["pages"]


def test_sitemap_index_is_followed_one_level(http_server: LocalServer) -> None:
    serve_pages(http_server)
    serve_sitemap(http_server, "sitemap-index.xml")
    http_server.route("/sitemap-posts.xml", body=fixture("sitemap.xml", http_server))
    http_server.route("/sitemap-nested.xml", body=fixture("sitemap-index.xml", http_server))
    result = read(sitemap=http_server.url("/sitemap.xml"))
    assert result.error is None and len(result.entries) == 3
    warnings = "\n".join(result.warnings)
    assert "sitemap-nested.xml: nested sitemap index ignored" in warnings
    assert "sitemap-missing.xml: sitemap skipped: HTTP 404" in warnings


def test_sitemap_entities_and_dtd_are_not_loaded(http_server: LocalServer) -> None:
    serve_pages(http_server)
    serve_sitemap(http_server, "sitemap-xxe.xml")
    http_server.route("/evil.dtd", body=b'<!ENTITY xxe "jsonld">')
    result = read(sitemap=http_server.url("/sitemap.xml"))
    assert [e.title for e in result.entries] == ["Owls at dusk: where to hear them"]
    assert http_server.requests_to("/evil.dtd") == []
    assert "root:" not in repr(result)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html><body>Not a sitemap</body></html>", "not a sitemap: root element <html>"),
        (b"<urlset><url><loc>", "not well-formed"),
        (b"\x1f\x8b\x08garbage", "not valid gzip"),
    ],
)
def test_not_a_sitemap_is_a_content_error(
    http_server: LocalServer, body: bytes, message: str
) -> None:
    http_server.route("/sitemap.xml", body=body)
    result = read(sitemap=http_server.url("/sitemap.xml"))
    assert isinstance(result.error, ContentError) and message in str(result.error)


def test_gzipped_sitemap_file() -> None:
    body = gzip.compress(b"<urlset><url><loc>https://x.example/a</loc></url></urlset>")
    assert parse_sitemap(body, "https://x.example/s.xml.gz", 1000) == (
        "urlset",
        ["https://x.example/a"],
    )
    with pytest.raises(ContentError, match="cap"):
        parse_sitemap(gzip.compress(b"<urlset>" + b" " * 5000 + b"</urlset>"), "u", 1000)


def test_pages_that_failed_are_retried_while_the_sitemap_is_unchanged(
    http_server: LocalServer,
) -> None:
    serve_pages(http_server)
    sitemap = serve_sitemap(http_server, etag='"map-1"')
    http_server.route("/pages/og-only", status=503)
    first = read(sitemap=sitemap)
    assert len(first.entries) == 2 and first.extra["failed"] == [http_server.url("/pages/og-only")]
    assert any("/pages/og-only: page skipped: HTTP 503" in w for w in first.warnings)

    serve_pages(http_server)  # the page is back
    state = SourceState(name="pages", etag=first.etag, extra=first.extra)
    second = read(state, sitemap=sitemap)
    assert not second.not_modified and [e.title for e in second.entries] == [
        "Owls at dusk: where to hear them"
    ]
    assert len(http_server.requests_to("/pages/jsonld")) == 1
    assert second.extra["failed"] == []
    assert set(second.extra["pages"]) == set(first.extra["pages"]) | {
        http_server.url("/pages/og-only")
    }


# --- failures ----------------------------------------------------------------------------


def test_page_failures_are_warnings_naming_the_url(http_server: LocalServer) -> None:
    serve_pages(http_server)
    http_server.route("/broken", status=500)
    broken, missing = http_server.url("/broken"), http_server.url("/missing")
    result = read(urls=[broken, http_server.url("/pages/og-only"), missing])
    assert result.error is None and len(result.entries) == 1
    assert result.warnings == [
        f"{broken}: page skipped: HTTP 500 Internal Server Error",
        f"{missing}: page skipped: HTTP 404 Not Found",
    ]


def test_every_page_failing_is_an_error_keeping_the_longest_retry_after(
    http_server: LocalServer,
) -> None:
    http_server.route("/a", status=429, headers={"Retry-After": "120"})
    http_server.route("/b", status=503, headers={"Retry-After": "300"})
    result = read(urls=[http_server.url("/a"), http_server.url("/b")])
    assert isinstance(result.error, HTTPStatusError)
    assert result.error.retry_after == 300.0 and "all 2 pages failed" in str(result.error)


def test_every_page_failing_for_mixed_reasons(http_server: LocalServer) -> None:
    http_server.route("/a", status=500)
    http_server.route("/b", body=b"x", delay=3.0)
    result = read(urls=[http_server.url("/a"), http_server.url("/b")])
    assert type(result.error) is SourceError and result.error.source == "pages"


def http_case(server: LocalServer, case: str) -> tuple[str, type[SourceError], str]:
    """Set up ``case`` at /target; return the URL to use, the error expected, a message part."""
    page = fixture("og-only.html")
    retry_date = formatdate(time() + 600, usegmt=True)
    cases: dict[str, tuple[dict[str, Any], type[SourceError], str]] = {
        "429 seconds": ({"status": 429, "headers": {"Retry-After": "600"}}, HTTPStatusError, "429"),
        "429 date": ({"status": 429, "headers": {"Retry-After": retry_date}}, HTTPStatusError, ""),
        "500": ({"status": 500}, HTTPStatusError, "500"),
        "slow answer": ({"body": page, "delay": 3.0}, FetchError, "timed out"),
        "slow drip": ({"body": page, "drip": 0.05, "drip_size": 4}, FetchError, "in total"),
        "oversized": ({"body": page * 10}, FetchError, "cap"),
        "oversized, no length": ({"body": page * 10, "content_length": False}, FetchError, "cap"),
    }
    if case in cases:
        reply, error, message = cases[case]
        server.route("/target", **reply)
    elif case == "redirect loop":
        server.redirect("/target", "/target")
        error, message = FetchError, "redirects"
    elif case == "redirect to file":
        server.redirect("/target", "file:///etc/passwd")
        error, message = FetchError, "only http and https"
    return server.url("/target"), error, message


HTTP_CASES = [
    "429 seconds",
    "429 date",
    "500",
    "slow answer",
    "slow drip",
    "oversized",
    "oversized, no length",
    "redirect loop",
    "redirect to file",
]


@pytest.mark.parametrize("case", HTTP_CASES)
@pytest.mark.parametrize("where", ["sitemap", "page"])
def test_http_failures(http_server: LocalServer, case: str, where: str) -> None:
    url, error, message = http_case(http_server, case)
    options: dict[str, Any] = {"fetch": {"max_bytes": 5000, "max_redirects": 3}}
    result = read(sitemap=url, **options) if where == "sitemap" else read(urls=[url], **options)
    assert isinstance(result.error, error) and message in str(result.error)
    if case.startswith("429"):
        assert isinstance(result.error, HTTPStatusError) and result.error.retry_after is not None
        assert 500 < result.error.retry_after <= 600


def test_gzip_page_and_redirect_to_final_url(http_server: LocalServer) -> None:
    http_server.route("/new/owls", body=fixture("meta-only.html"), gzip=True)
    http_server.redirect("/old/owls", "/new/owls", status=301)
    entry = only_entry(read(urls=[http_server.url("/old/owls")]))
    assert entry.key == entry.base_url == http_server.url("/new/owls")
    assert entry.title == "Crème brûlée, the classic way"


def test_redirect_to_a_private_address_from_a_public_looking_source(
    http_server: LocalServer, second_loopback_server: LocalServer
) -> None:
    serve_pages(http_server)
    second_loopback_server.redirect("/sitemap.xml", http_server.url("/pages/jsonld"))
    second_loopback_server.redirect("/page", http_server.url("/pages/jsonld"))
    allowed: dict[str, Any] = {"allow_private": False, "networks": ("127.0.0.2/32",)}
    result = read(sitemap=second_loopback_server.url("/sitemap.xml"), **allowed)
    assert isinstance(result.error, BlockedAddressError)
    result = read(urls=[second_loopback_server.url("/page")], **allowed)
    assert isinstance(result.error, FetchError) and "not a public address" in str(result.error)
    assert http_server.requests == []


def test_private_address_refused_by_default(http_server: LocalServer) -> None:
    serve_pages(http_server)
    result = read(urls=[http_server.url("/pages/jsonld")], allow_private=False)
    assert isinstance(result.error, FetchError) and "not a public address" in str(result.error)
    result = read(sitemap=http_server.url("/sitemap.xml"), allow_private=False)
    assert isinstance(result.error, BlockedAddressError)
    assert http_server.requests == []


# --- options, registry, ingest -----------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"urls": []},
        {"urls": ["https://a.example/x"], "sitemap": "https://a.example/sitemap.xml"},
        {"urls": ["/relative"]},
        {"sitemap": "file:///etc/passwd"},
        {"sitemap": "https://a.example/sitemap.xml", "max_pages": 0},
        {"sitemap": "https://a.example/sitemap.xml", "unknown": 1},
    ],
)
def test_options_are_validated(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        options_model("page").model_validate(options)


def test_page_kind_is_registered() -> None:
    assert source_class("page") is PageSource


def test_ingest_keeps_page_validators_between_runs(
    store: Store, http_server: LocalServer, tmp_path: Path
) -> None:
    serve_pages(http_server)
    urls = [http_server.url("/pages/jsonld"), http_server.url("/pages/og-only")]
    source = SourceConfig(name="pages", kind="page", urls=urls, allow_private=True)
    settings = Settings(sources=(source,), base_dir=tmp_path, fetch=FAST)
    (first,) = ingest(store, settings, clock=lambda: NOW)
    assert (first.new, first.error) == (2, None)
    assert set(store.get_source_state("pages").extra["pages"]) == set(urls)
    (second,) = ingest(store, settings, clock=lambda: NOW + timedelta(hours=1))
    assert (second.new, second.updated, second.unchanged) == (0, 0, 2)  # two 304s
    assert http_server.requests_to("/pages/og-only")[1].headers["if-none-match"] == '"og-only-v1"'
