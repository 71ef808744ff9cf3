"""The feed source: RSS 0.91 / 1.0 / 2.0, Atom and JSON Feed served by a real local server.

Covers the mapping of every format to ``Entry``, tolerance of ill-formed and hostile
documents (TE-3, SE-4), the HTTP behaviour seen through the source (conditional GET,
429/5xx, timeouts, caps, redirects, SE-5 address checks) and one end-to-end run of
``ingest`` against SQLite: 304s, Retry-After and ids that survive a host change (DD-3).
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from time import time
from typing import Any

import pytest
from pydantic import ValidationError

from syndicate.config import FetchSettings, Settings, SiteSettings, SourceConfig
from syndicate.errors import (
    BlockedAddressError,
    ContentError,
    FetchError,
    HTTPStatusError,
)
from syndicate.ingest.content import clean_entry
from syndicate.ingest.run import ingest
from syndicate.ingest.sources.base import SourceContext
from syndicate.ingest.sources.feed import FeedSource, parse_feed
from syndicate.ingest.sources.registry import options_model, source_class
from syndicate.models import CleanEntry, Entry, FetchResult, SourceState
from syndicate.store import Store
from tests.httpserver import LocalServer

pytest_plugins = ["tests.httpserver"]

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
FAST = FetchSettings(connect_timeout=1.0, read_timeout=0.5, total_timeout=1.0)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AUTHORITY = "example.org,2026"
TYPES = {
    ".xml": "application/rss+xml",
    ".json": "application/feed+json",
    ".html": "text/html; charset=utf-8",
}


def fixture(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def make_source(
    url: str, *, allow_private: bool = True, networks: tuple[str, ...] = (), **fetch: Any
) -> FeedSource:
    config = SourceConfig(
        name="up", kind="feed", url=url, allow_private=allow_private, allow_networks=networks
    )
    settings = FAST.model_copy(update=fetch)
    return FeedSource(config, SourceContext(SiteSettings(), settings, Path(".")))


def serve(server: LocalServer, name: str, path: str = "/feeds/feed", **reply: Any) -> str:
    headers = {"Content-Type": TYPES[Path(name).suffix], **reply.pop("headers", {})}
    server.route(path, body=fixture(name), headers=headers, **reply)
    return server.url(path)


def read(url: str, state: SourceState | None = None, **options: Any) -> FetchResult:
    return make_source(url, **options).read(state or SourceState(name="up"))


def clean(entry: Entry) -> CleanEntry:
    return clean_entry(entry, source="up", authority=AUTHORITY, site_url="https://site.example")


def by_key(result: FetchResult) -> dict[str, Entry]:
    return {e.key: e for e in result.entries}


# --- formats -----------------------------------------------------------------------------


def test_rss20_items_map_to_entries(http_server: LocalServer) -> None:
    url = serve(http_server, "rss20.xml", "/feeds/daily.xml")
    result = read(url)
    assert result.error is None
    assert [e.key for e in result.entries] == [
        "https://news.example.org/2025/03/river-park",
        "https://news.example.org/2025/03/weather",  # no guid: the link is the key
        "tag:news.example.org,2025:1001",
    ]
    assert any("item 5: skipped: no title, content or link" in w for w in result.warnings)
    assert any("item 4: duplicate id" in w for w in result.warnings)

    park = result.entries[0]
    assert park.title == "Council approves the “river park” — at last"
    assert park.url == http_server.url("/2025/03/river-park")  # relative link, feed as base
    assert park.base_url == url
    assert park.dek == "The vote ends a ten-year wait… and starts a new fight."
    assert "The council’s vote" in park.body_html
    assert f'src="{http_server.url("/feeds/images/plan.png")}"' in park.body_html
    assert [a.name for a in park.authors] == ["Ana Ruiz"]
    assert park.tags == ("Local", "Parks") and park.section == ""
    assert park.image is not None
    assert park.image.url == http_server.url("/images/park-lead.jpg")
    assert park.image.alt == "Children playing by the river"
    assert (park.image.width, park.image.height) == (1200, 800)
    assert park.published_at == datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def test_rss20_summary_only_items_and_other_images(http_server: LocalServer) -> None:
    entries = by_key(read(serve(http_server, "rss20.xml")))
    weather = entries["https://news.example.org/2025/03/weather"]
    assert weather.dek == ""  # the summary is the body, not printed twice
    assert weather.body_html == "<p>Rain until noon, then sun.</p>"
    assert weather.image is not None and weather.image.url == "https://cdn.example.org/weather.png"
    market = entries["tag:news.example.org,2025:1001"]
    assert market.title == "Market report"  # the first of two items with this guid
    assert market.image is not None and market.image.url == "https://cdn.example.org/market.jpg"
    assert market.published_at == datetime(2025, 3, 3, 17, 0, tzinfo=UTC)


def test_rss20_entries_clean_into_stable_articles(http_server: LocalServer) -> None:
    result = read(serve(http_server, "rss20.xml", "/feeds/daily.xml"))
    park = clean(result.entries[0])
    assert park.id == "tag:example.org,2026:up/2025/03/river-park"
    assert f'href="{http_server.url("/maps/park")}"' in park.body_html
    assert park.title == "Council approves the “river park” — at last"
    assert clean(result.entries[2]).id == "tag:example.org,2026:up/tag:news.example.org,2025:1001"


def test_rss10(http_server: LocalServer) -> None:
    result = read(serve(http_server, "rss10.xml"))
    assert result.error is None and result.warnings == []
    owls, bats = result.entries
    assert owls.key == "https://blog.example.net/posts/owls"
    assert owls.dek == "Where to hear them – and when."
    assert "Owls call at dusk" in owls.body_html
    assert [a.name for a in owls.authors] == ["Mei Chen"] and owls.tags == ("Birds",)
    assert owls.published_at == datetime(2025, 2, 1, 9, 0, tzinfo=UTC)
    assert bats.body_html == "They are back." and bats.dek == ""


def test_rss091_latin1_with_a_control_character(http_server: LocalServer) -> None:
    result = read(serve(http_server, "rss091.xml", headers={"Content-Type": "text/xml"}))
    assert result.error is None
    assert [e.title for e in result.entries] == ["Crème brûlée", "Tarte Tatin"]
    assert len(result.warnings) == 1 and "not well-formed XML" in result.warnings[0]
    assert "\x0c" in result.entries[0].body_html  # raw from the source...
    assert clean(result.entries[0]).body_html == "Sucre, crème, feu."  # ...gone once cleaned


def test_atom(http_server: LocalServer) -> None:
    result = read(serve(http_server, "atom.xml", headers={"Content-Type": "application/atom+xml"}))
    assert result.error is None and result.warnings == []
    cafe, plain, xhtml = result.entries
    assert cafe.key == "tag:atom.example.com,2025:post-1"
    assert cafe.url == "https://atom.example.com/blog/posts/cafe"  # xml:base
    assert clean(cafe).title == "Café society"
    assert cafe.dek == "Why the café matters."
    assert 'href="https://atom.example.com/blog/places/cafe"' in cafe.body_html
    assert cafe.tags == ("culture", "food")
    assert cafe.image is not None
    assert cafe.image.url == "https://atom.example.com/blog/img/cafe.jpg"
    assert cafe.image.alt == "The café at noon"
    assert cafe.published_at == datetime(2025, 1, 9, 6, 0, tzinfo=UTC)
    assert cafe.updated_at == datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
    # RFC 4287 §4.2.1: an entry without an author has the feed's.
    assert [(a.name, a.url) for a in cafe.authors] == [
        ("Feed Author", "https://atom.example.com/about")
    ]
    assert plain.url == ""  # no alternate link; the id is not a URL to click
    assert plain.body_html == (
        "<p>Line one &lt;not a tag&gt;<br>second line</p><p>New paragraph</p>"
    )
    assert plain.dek == "" and [a.name for a in plain.authors] == ["Bo Lind"]
    assert plain.published_at == plain.updated_at == datetime(2025, 1, 8, tzinfo=UTC)
    assert xhtml.body_html == "<p>Hello <b>there</b></p>"


def test_json_feed_11(http_server: LocalServer) -> None:
    url = serve(http_server, "jsonfeed11.json", "/feed.json")
    result = read(url)
    assert result.error is None
    first, second, numeric = result.entries
    assert first.key == "https://json.example.org/2025/01/first"
    assert clean(first).url == http_server.url("/2025/01/first")
    assert first.title == "First — with “quotes”"
    assert first.dek == "A summary that says something else."
    assert first.body_html.startswith("<p>Body of the")
    assert [(a.name, a.url) for a in first.authors] == [
        ("Ana Ruiz", "https://json.example.org/ana")
    ]
    assert first.tags == ("alpha", "beta")
    assert first.image is not None and first.image.url == http_server.url("/img/first.jpg")
    assert first.published_at == datetime(2025, 1, 5, 10, 0, tzinfo=UTC)
    assert first.updated_at == datetime(2025, 1, 6, 10, 30, tzinfo=UTC)
    assert second.body_html == "<p>Plain &lt;text&gt; here.</p><p>And a second paragraph.</p>"
    assert [a.name for a in second.authors] == ["Site Team"]  # the feed's authors
    assert second.image is not None and second.image.url == "https://cdn.example.org/banner.png"
    assert numeric.key == "42" and numeric.published_at is None
    warnings = "\n".join(result.warnings)
    assert "item 3: unreadable date_published" in warnings
    assert "item 5: skipped: no title, content or link" in warnings
    assert "item 6: skipped: not a JSON object" in warnings
    assert "item 4: duplicate id 'second'" in warnings


def test_json_feed_10(http_server: LocalServer) -> None:
    result = read(
        serve(http_server, "jsonfeed10.json", headers={"Content-Type": "application/json"})
    )
    (only,) = result.entries
    assert (only.key, only.dek, only.body_html) == ("1", "", "<p>Text only.</p>")
    assert [a.name for a in only.authors] == ["Solo Writer"]
    assert only.published_at == datetime(2024, 12, 1, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("jsonfeed11.json", "text/plain"), ("rss10.xml", "application/json"), ("atom.xml", "")],
)
def test_format_is_read_from_the_body_when_mislabelled(
    http_server: LocalServer, name: str, content_type: str
) -> None:
    result = read(serve(http_server, name, headers={"Content-Type": content_type}))
    assert result.error is None and len(result.entries) >= 2


# --- tolerance ---------------------------------------------------------------------------

NOT_FEEDS = {
    "html page": (fixture("not-a-feed.html"), "HTML page"),
    "empty": (b"", "empty"),
    "garbage": (b"\x00\x9f\x92\x96 garbage \xff", "not a feed"),
    "truncated to nothing": (fixture("rss20.xml")[:60], "not a feed"),
    "rss root only": (b'<rss version="2.0">', "not a feed"),
    "json, not a feed": (b'{"title": "x"}', "not a JSON Feed"),
    "broken json": (b'{"items": [', "not valid JSON"),
    "xml, not a feed": (b"<?xml version='1.0'?><catalog><book/></catalog>", "no RSS, Atom"),
}


@pytest.mark.parametrize("case", list(NOT_FEEDS), ids=list(NOT_FEEDS))
def test_not_a_feed_is_a_content_error(http_server: LocalServer, case: str) -> None:
    body, reason = NOT_FEEDS[case]
    http_server.route("/feed", body=body, headers={"Content-Type": "application/xml"})
    result = read(http_server.url("/feed"))
    assert isinstance(result.error, ContentError)
    assert reason in str(result.error)
    assert (result.error.source, result.error.url) == ("up", http_server.url("/feed"))
    assert result.entries == []


def test_truncated_feed_keeps_the_items_it_read(http_server: LocalServer) -> None:
    body = fixture("rss20.xml")
    cut = body[: body.index(b"<title>Market report</title>")]
    http_server.route("/feed", body=cut)
    result = read(http_server.url("/feed"))
    assert result.error is None
    assert len(result.entries) == 2 and result.entries[1].title == "Weather: rain, then sun"
    assert any("not well-formed XML" in w for w in result.warnings)


def test_stray_ampersand_and_broken_cdata(http_server: LocalServer) -> None:
    result = read(serve(http_server, "stray-ampersand.xml"))
    assert [e.title for e in result.entries] == ["Fish & chips", "Mushy peas"]
    assert any("not well-formed XML" in w for w in result.warnings)


def test_external_entities_and_dtds_are_never_loaded(http_server: LocalServer) -> None:
    body = fixture("xxe.xml").replace(b"http://127.0.0.1:9", http_server.url("").encode())
    http_server.route("/feed", body=body)
    http_server.route("/evil.dtd", body=b'<!ENTITY xxe "pwned">')
    result = read(http_server.url("/feed"))
    assert result.error is None and len(result.entries) == 1
    text = repr(result.entries[0])
    assert "root:x:" not in text and "pwned" not in text
    assert http_server.requests_to("/evil.dtd") == []


def test_unparsable_urls_are_dropped_not_fatal() -> None:
    rss = fixture("rss20.xml").replace(b"/images/park-lead.jpg", b"http://[bad/lead.jpg")
    park = parse_feed(rss, url="https://news.example.org/feed").entries[0]
    assert park.image is None and park.title.startswith("Council")
    item = {"id": "x", "title": "T", "url": "http://[y", "image": "http://[z", "tags": "abc"}
    doc = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [item]})
    (entry,) = parse_feed(doc.encode(), url="https://j.example/feed.json").entries
    assert (entry.url, entry.image, entry.tags) == ("", None, ())


def test_entity_bomb_does_not_expand() -> None:
    result = parse_feed(fixture("billion-laughs.xml"), url="https://lol.example/feed")
    (entry,) = result.entries
    assert len(entry.title) < 100 and len(entry.body_html) < 100
    assert entry.image is not None and entry.image.alt == ""


# --- HTTP through the source -------------------------------------------------------------


def test_etag_round_trip(http_server: LocalServer) -> None:
    url = serve(http_server, "rss10.xml", etag='"v1"', headers={"Cache-Control": "max-age=1800"})
    first = read(url)
    assert (first.etag, first.max_age, len(first.entries)) == ('"v1"', 1800.0, 2)
    second = read(url, SourceState(name="up", etag=first.etag))
    assert second.not_modified and second.entries == [] and second.error is None
    assert http_server.requests_to("/feeds/feed")[1].headers["if-none-match"] == '"v1"'


def test_last_modified_round_trip(http_server: LocalServer) -> None:
    stamp = "Sat, 01 Mar 2025 10:00:00 GMT"
    url = serve(http_server, "atom.xml", last_modified=stamp)
    first = read(url)
    assert first.last_modified == stamp
    second = read(url, SourceState(name="up", last_modified=first.last_modified))
    assert second.not_modified
    assert http_server.requests_to("/feeds/feed")[1].headers["if-modified-since"] == stamp


@pytest.mark.parametrize("when", ["seconds", "http-date"])
def test_429_with_retry_after(http_server: LocalServer, when: str) -> None:
    value = "600" if when == "seconds" else formatdate(time() + 600, usegmt=True)
    http_server.route("/feed", status=429, headers={"Retry-After": value})
    result = read(http_server.url("/feed"))
    assert isinstance(result.error, HTTPStatusError)
    assert result.error.status == 429 and result.error.source == "up"
    assert result.error.retry_after is not None and 500 < result.error.retry_after <= 600


def test_500_raises_from_fetch_and_is_recorded_by_read(http_server: LocalServer) -> None:
    http_server.route("/feed", status=500)
    source = make_source(http_server.url("/feed"))
    with pytest.raises(HTTPStatusError):
        source.fetch(SourceState(name="up"))
    result = source.read(SourceState(name="up"))
    assert isinstance(result.error, HTTPStatusError) and result.error.status == 500


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"delay": 3.0}, "timed out"),
        ({"drip": 0.1}, "in total"),
        ({"drip": 0.1, "chunked": True}, "in total"),
    ],
    ids=["slow answer", "slow drip", "slow chunked drip"],
)
def test_slow_servers(http_server: LocalServer, reply: dict[str, Any], message: str) -> None:
    serve(http_server, "rss20.xml", **reply)
    result = read(http_server.url("/feeds/feed"))
    assert isinstance(result.error, FetchError) and message in str(result.error)


@pytest.mark.parametrize("content_length", [True, False])
def test_oversized_feed(http_server: LocalServer, content_length: bool) -> None:
    serve(http_server, "rss20.xml", content_length=content_length)
    result = read(http_server.url("/feeds/feed"), max_bytes=1000)
    assert isinstance(result.error, FetchError) and "cap" in str(result.error)


def test_gzip_feed(http_server: LocalServer) -> None:
    assert gzip.decompress(gzip.compress(fixture("rss10.xml"))) == fixture("rss10.xml")
    result = read(serve(http_server, "rss10.xml", gzip=True))
    assert result.error is None and len(result.entries) == 2


def test_redirect_makes_the_final_url_the_base(http_server: LocalServer) -> None:
    final = serve(http_server, "rss20.xml", "/new/daily.xml")
    http_server.redirect("/old.xml", "/new/daily.xml", status=301)
    result = read(http_server.url("/old.xml"))
    park = result.entries[0]
    assert park.base_url == final
    assert f'src="{http_server.url("/new/images/plan.png")}"' in park.body_html


def test_too_many_redirects(http_server: LocalServer) -> None:
    http_server.redirect("/a", "/b")
    http_server.redirect("/b", "/a")
    result = read(http_server.url("/a"), max_redirects=4)
    assert isinstance(result.error, FetchError) and "redirects" in str(result.error)


def test_redirect_to_a_file_url(http_server: LocalServer) -> None:
    http_server.redirect("/feed", "file:///etc/passwd", status=302)
    result = read(http_server.url("/feed"))
    assert isinstance(result.error, FetchError) and "only http and https" in str(result.error)


def test_redirect_to_a_private_address_from_a_public_looking_source(
    http_server: LocalServer, second_loopback_server: LocalServer
) -> None:
    serve(http_server, "rss20.xml", "/internal")
    second_loopback_server.redirect("/feed", http_server.url("/internal"), status=302)
    result = read(
        second_loopback_server.url("/feed"), allow_private=False, networks=("127.0.0.2/32",)
    )
    assert isinstance(result.error, BlockedAddressError)
    assert http_server.requests == []


def test_private_address_refused_by_default(http_server: LocalServer) -> None:
    url = serve(http_server, "rss20.xml")
    result = read(url, allow_private=False)
    assert isinstance(result.error, BlockedAddressError) and http_server.requests == []


# --- options and registry ----------------------------------------------------------------


@pytest.mark.parametrize(
    "options", [{}, {"url": "ftp://example.org/feed"}, {"url": "/feed.xml"}, {"url": "x", "y": 1}]
)
def test_options_are_validated(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        options_model("feed").model_validate(options)


def test_feed_kind_is_registered() -> None:
    assert source_class("feed") is FeedSource


# --- end to end through ingest -----------------------------------------------------------


def small_feed(guid_base: str, link_base: str, title: str = "Hello") -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Up</title><link>{link_base}/</link><description>d</description>
<item><title>{title}</title><link>{link_base}/posts/1</link><guid>{guid_base}/posts/1</guid>
<description>One</description><pubDate>Sat, 01 Mar 2025 10:00:00 GMT</pubDate></item>
<item><title>No guid</title><link>{link_base}/posts/2</link><description>Two</description>
<pubDate>Sat, 01 Mar 2025 11:00:00 GMT</pubDate></item>
</channel></rss>""".encode()


def settings_for(url: str, tmp_path: Path) -> Settings:
    source = SourceConfig(name="up", kind="feed", url=url, allow_private=True)
    return Settings(
        sources=(source,),
        base_dir=tmp_path,
        fetch=FAST,
        site=SiteSettings(tag_authority=AUTHORITY),
    )


def test_ingest_end_to_end(store: Store, http_server: LocalServer, tmp_path: Path) -> None:
    settings = settings_for(serve(http_server, "rss20.xml", "/feed.xml", etag='"v1"'), tmp_path)

    (first,) = ingest(store, settings, clock=lambda: NOW)
    assert (first.new, first.error, first.not_modified) == (3, None, False)
    assert len(first.warnings) == 2  # the duplicate guid and the empty item
    assert store.get_source_state("up").etag == '"v1"'

    (second,) = ingest(store, settings, clock=lambda: NOW + timedelta(hours=1))
    assert second.not_modified and (second.new, second.updated) == (0, 0)
    assert http_server.requests_to("/feed.xml")[-1].headers["if-none-match"] == '"v1"'
    state = store.get_source_state("up")
    assert state.etag == '"v1"' and state.consecutive_errors == 0
    assert store.count_articles() == 3


def test_ingest_records_429_and_honours_retry_after(
    store: Store, http_server: LocalServer, tmp_path: Path
) -> None:
    http_server.route("/feed.xml", status=429, headers={"Retry-After": "7200"})
    (report,) = ingest(
        store, settings_for(http_server.url("/feed.xml"), tmp_path), clock=lambda: NOW
    )
    assert report.error is not None and "429" in report.error
    state = store.get_source_state("up")
    assert state.consecutive_errors == 1 and state.last_error == report.error
    # The backoff alone would wait 2 x 900 s; the server asked for two hours.
    assert state.next_poll_at == NOW + timedelta(seconds=7200)


def test_ids_survive_a_move_to_a_new_host_and_scheme(
    store: Store, http_server: LocalServer, tmp_path: Path
) -> None:
    old_host = http_server.url("", host="127.0.0.1").rstrip("/")
    http_server.route("/feed.xml", body=small_feed("http://news.example.org", old_host))
    (first,) = ingest(store, settings_for(f"{old_host}/feed.xml", tmp_path), clock=lambda: NOW)
    assert first.new == 2
    before = {a.id: a.url for a in store.list_articles()}

    # The publisher moves: new host for the feed, https guids on another domain.
    new_host = http_server.url("", host="localhost").rstrip("/")
    http_server.route("/moved.xml", body=small_feed("https://www.example.net", new_host))
    later = NOW + timedelta(days=1)
    (moved,) = ingest(store, settings_for(f"{new_host}/moved.xml", tmp_path), clock=lambda: later)
    assert (moved.new, moved.error) == (0, None)
    after = {a.id: a.url for a in store.list_articles()}
    assert set(after) == set(before) and len(after) == 2
    assert sorted(after.values()) == [f"{new_host}/posts/1", f"{new_host}/posts/2"]
    hosts = [r.headers["host"].split(":")[0] for r in http_server.requests]
    assert hosts == ["127.0.0.1", "localhost"]
