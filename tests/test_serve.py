"""The web app on the built files: conditional GET, gzip, HEAD, links, index (A6, WS-1)."""

from __future__ import annotations

import gzip
import os
import warnings
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from syndicate.config import Settings
from syndicate.feeds.builder import build
from syndicate.store import Store, open_store
from syndicate.web import create_app
from syndicate.web.conditional import accepts_gzip, is_not_modified
from tests.feeds.fixtures import BASE, make_instance, save

with warnings.catch_warnings():
    # Starlette >= 1.x nudges towards httpx2; the httpx-based client works the same here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}
HUB = "https://hub.example/websub"
CHANNEL = f'title = "Desk & <Co>"\nitems = 2\nmax_age = 600\nhubs = ["{HUB}"]\n'


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Store, Settings, TestClient]]:
    settings = make_instance(tmp_path / "i", {"desk": CHANNEL, "quiet": 'title = "Quiet"\n'})
    store = open_store(settings.store_url)
    save(store, range(1, 6))
    build(store, settings)
    with TestClient(create_app(settings)) as client:
        yield store, settings, client
    store.close()


def output(settings: Settings) -> Path:
    return settings.resolve(settings.output.dir)


def test_a_feed_is_served_with_validators_cache_control_and_links(
    site: tuple[Store, Settings, TestClient],
) -> None:
    _, settings, client = site
    r = client.get("/feeds/desk.xml", headers=IDENTITY)
    assert r.status_code == 200
    assert r.content == (output(settings) / "feeds/desk.xml").read_bytes()
    assert r.headers["content-type"] == "application/rss+xml; charset=utf-8"  # RSS-10
    assert r.headers["etag"].startswith('"') and r.headers["etag"].endswith('"')  # HT-1
    mtime = (output(settings) / "feeds/desk.xml").stat().st_mtime
    assert r.headers["last-modified"] == formatdate(int(mtime), usegmt=True)
    assert r.headers["cache-control"] == "public, max-age=600"  # HT-3, from the channel
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["date"]
    assert r.headers["content-length"] == str(len(r.content))
    assert "content-encoding" not in r.headers
    # WS-1: exactly one rel=self, one rel=hub per hub.
    assert r.headers.get_list("link") == [
        f'<{BASE}/feeds/desk.xml>; rel="self"',
        f'<{HUB}>; rel="hub"',
    ]


@pytest.mark.parametrize(
    ("path", "media_type"),
    [("/feeds/desk.atom", "application/atom+xml"), ("/feeds/desk.json", "application/feed+json")],
)
def test_content_types(
    site: tuple[Store, Settings, TestClient], path: str, media_type: str
) -> None:
    r = site[2].get(path)
    assert r.headers["content-type"] == f"{media_type}; charset=utf-8"


def test_gzip_is_the_prebuilt_copy_with_its_own_etag(
    site: tuple[Store, Settings, TestClient],
) -> None:
    _, settings, client = site
    plain = client.get("/feeds/desk.atom", headers=IDENTITY)
    zipped = client.get("/feeds/desk.atom", headers={"Accept-Encoding": "deflate;q=1, gzip;q=0.5"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    stored = (output(settings) / "feeds/desk.atom.gz").read_bytes()
    assert zipped.headers["content-length"] == str(len(stored))
    assert zipped.content == plain.content == gzip.decompress(stored)  # httpx decodes it
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert zipped.headers["etag"].endswith('-gz"')
    refused = client.get("/feeds/desk.atom", headers={"Accept-Encoding": "gzip;q=0, br;q=0, *"})
    assert "content-encoding" not in refused.headers


@pytest.mark.parametrize("encoding", [IDENTITY, GZIP])
def test_if_none_match_answers_304_with_the_same_headers_and_no_body(
    site: tuple[Store, Settings, TestClient], encoding: dict[str, str]
) -> None:
    client = site[2]
    first = client.get("/feeds/desk.json", headers=encoding)
    again = client.get(
        "/feeds/desk.json", headers={**encoding, "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304  # HT-2
    assert again.content == b""
    for name in ("etag", "cache-control", "vary", "last-modified"):
        assert again.headers[name] == first.headers[name], name
    assert again.headers["date"]
    assert "content-length" not in again.headers or again.headers["content-length"] == "0"
    weak = client.get(
        "/feeds/desk.json", headers={**encoding, "If-None-Match": "W/" + first.headers["etag"]}
    )
    assert weak.status_code == 304  # weak comparison (RFC 9110 §13.1.2)
    star = client.get("/feeds/desk.json", headers={**encoding, "If-None-Match": "*"})
    assert star.status_code == 304


def test_the_gzip_etag_does_not_validate_the_identity_representation(
    site: tuple[Store, Settings, TestClient],
) -> None:
    client = site[2]
    zipped = client.get("/feeds/desk.xml", headers=GZIP)
    other = client.get(
        "/feeds/desk.xml", headers={**IDENTITY, "If-None-Match": zipped.headers["etag"]}
    )
    assert other.status_code == 200


def test_if_modified_since_and_the_precedence_of_if_none_match(
    site: tuple[Store, Settings, TestClient],
) -> None:
    client = site[2]
    first = client.get("/feeds/desk.xml", headers=IDENTITY)
    since = first.headers["last-modified"]
    assert (
        client.get("/feeds/desk.xml", headers={**IDENTITY, "If-Modified-Since": since}).status_code
        == 304
    )
    older = formatdate(0, usegmt=True)
    assert (
        client.get("/feeds/desk.xml", headers={**IDENTITY, "If-Modified-Since": older}).status_code
        == 200
    )
    junk = client.get("/feeds/desk.xml", headers={**IDENTITY, "If-Modified-Since": "yesterday"})
    assert junk.status_code == 200
    # RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since is then ignored.
    both = {**IDENTITY, "If-None-Match": '"something-else"', "If-Modified-Since": since}
    assert client.get("/feeds/desk.xml", headers=both).status_code == 200


def test_head_sends_the_headers_of_get_without_a_body(
    site: tuple[Store, Settings, TestClient],
) -> None:
    client = site[2]
    get = client.get("/feeds/desk.xml", headers=GZIP)
    head = client.head("/feeds/desk.xml", headers=GZIP)
    assert head.status_code == 200 and head.content == b""
    for name in ("etag", "content-type", "content-length", "content-encoding", "last-modified"):
        assert head.headers[name] == get.headers[name], name
    conditional = client.head(
        "/feeds/desk.xml", headers={**GZIP, "If-None-Match": get.headers["etag"]}
    )
    assert conditional.status_code == 304


def test_archive_pages_are_long_lived_and_link_to_themselves(
    site: tuple[Store, Settings, TestClient],
) -> None:
    r = site[2].get("/feeds/desk/archive/1.atom")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=604800, immutable"
    assert r.headers.get_list("link") == [f'<{BASE}/feeds/desk/archive/1.atom>; rel="self"']


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/nope.xml",
        "/feeds/desk.rss",
        "/feeds/desk.xml.gz",
        "/feeds/desk",
        "/feeds/desk/archive/0.atom",
        "/feeds/desk/archive/01.atom",
        "/feeds/desk/archive/9.atom",
        "/feeds/desk/archive/1.atom.gz",
        "/feeds/nope/archive/1.atom",
        "/.syndicate/websub.json",
        "/.syndicate/manifest.json",
        "/feeds/..%2F.syndicate%2Fwebsub.json",
        "/feeds/desk/archive/..%2F..%2F..%2F.syndicate%2Fwebsub.json",
        "/public/feeds/desk.xml",
    ],
)
def test_unknown_channels_formats_pages_and_state_files_are_404(
    site: tuple[Store, Settings, TestClient], path: str
) -> None:
    assert site[2].get(path).status_code == 404


def test_a_format_the_channel_does_not_build_is_404(tmp_path: Path) -> None:
    settings = make_instance(tmp_path / "i", {"a": 'title = "A"\nformats = ["atom"]\n'})
    store = open_store(settings.store_url)
    build(store, settings)
    (output(settings) / "feeds/a.xml").write_bytes(b"<rss/>")  # a stray file
    with TestClient(create_app(settings)) as client:
        assert client.get("/feeds/a.atom").status_code == 200
        assert client.get("/feeds/a.xml").status_code == 404
    store.close()


def test_a_rebuild_is_picked_up_without_a_restart(
    site: tuple[Store, Settings, TestClient],
) -> None:
    store, settings, client = site
    before = client.get("/feeds/desk.json", headers=GZIP)
    save(store, [6])
    build(store, settings)
    after = client.get(
        "/feeds/desk.json", headers={**GZIP, "If-None-Match": before.headers["etag"]}
    )
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert b"story-6" in after.content


def test_the_index_lists_channels_with_autodiscovery_links(
    site: tuple[Store, Settings, TestClient],
) -> None:
    r = site[2].get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    html = r.text
    assert html.startswith("<!doctype html>") and '<html lang="en">' in html
    assert (
        '<link rel="alternate" type="application/rss+xml" title="Desk &amp; &lt;Co&gt; (RSS)" '
        'href="/feeds/desk.xml">'
    ) in html
    assert 'href="/feeds/quiet.json"' in html
    assert "<h2>Desk &amp; &lt;Co&gt;</h2>" in html
    assert "<main>" in html and "<h1>" in html


def test_the_index_links_to_the_subscribe_forms_and_the_archive(tmp_path: Path) -> None:
    settings = make_instance(
        tmp_path / "i",
        {"desk": 'title = "Desk"\n', "quiet": 'title = "Quiet"\n[digest]\nenabled = false\n'},
    )
    store = open_store(settings.store_url)
    save(store, range(1, 3))
    build(store, settings)
    store.close()
    with TestClient(create_app(settings)) as client:
        html = client.get("/").text
        for href in ('href="/subscribe"', 'href="/archive/"'):
            assert href in html, href
        # Each channel with a digest links to its form and its past editions.
        assert 'href="/subscribe/desk"' in html and 'href="/archive/desk/"' in html
        assert "/subscribe/quiet" not in html and "/archive/quiet/" not in html  # no digest
        for path in ("/subscribe", "/archive/", "/subscribe/desk", "/archive/desk/"):
            assert client.get(path).status_code == 200, path
    # Before anything is built, the page still leads to them.
    fresh = make_instance(tmp_path / "fresh", {"a": 'title = "A"\n'})
    with TestClient(create_app(fresh)) as client:
        html = client.get("/").text
    assert 'href="/subscribe"' in html and 'href="/archive/"' in html


def test_healthz(site: tuple[Store, Settings, TestClient], tmp_path: Path) -> None:
    r = site[2].get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "channels": 2}
    fresh = make_instance(tmp_path / "fresh", {"a": 'title = "A"\n'})
    with TestClient(create_app(fresh)) as client:
        assert client.get("/healthz").status_code == 503
        assert "No feeds have been built yet" in client.get("/").text


def test_files_are_reread_when_replaced_even_with_the_same_size(
    site: tuple[Store, Settings, TestClient],
) -> None:
    _, settings, client = site
    path = output(settings) / "feeds/desk.atom"
    first = client.get("/feeds/desk.atom", headers=IDENTITY)
    data = path.read_bytes().replace(b"Desk", b"Dusk")
    tmp = path.with_name(".swap")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # what the build does: a rename gives a new inode
    second = client.get("/feeds/desk.atom", headers=IDENTITY)
    assert second.content == data and second.headers["etag"] != first.headers["etag"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("GZIP", True),
        ("deflate, gzip;q=0.1", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0, *", False),
        ("*", True),
        ("*;q=0", False),
        ("br, x-gzip", True),
        ("identity", False),
        ("gzip;q=junk", False),
    ],
)
def test_accept_encoding_rules(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_conditional_rules() -> None:
    etag, mtime = '"abc"', 1_700_000_000
    date = formatdate(mtime, usegmt=True)
    assert is_not_modified('"x", "abc"', None, etag, mtime)
    assert is_not_modified('W/"abc"', None, etag, mtime)
    assert not is_not_modified('"abc-gz"', None, etag, mtime)
    assert is_not_modified(None, date, etag, mtime)
    assert not is_not_modified(None, formatdate(mtime - 1, usegmt=True), etag, mtime)
    assert not is_not_modified('"x"', date, etag, mtime)  # If-None-Match wins
    assert not is_not_modified(None, "Sun, 06 Nov 1994 08:49:37", etag, mtime)  # no zone
