"""The app under a real uvicorn server on 127.0.0.1 (STYLE 9): what goes over the wire."""

from __future__ import annotations

import gzip
import http.client
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syndicate.config import Settings
from syndicate.feeds.builder import build
from syndicate.store import open_store
from syndicate.web import create_app, server_config
from tests.feeds.fixtures import make_instance, save
from tests.uvicornserver import running

HUB = "https://hub.example/websub"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    channel = f'title = "Desk"\nitems = 2\nhubs = ["{HUB}"]\n'
    settings = make_instance(tmp_path / "i", {"desk": channel})
    store = open_store(settings.store_url)
    save(store, range(1, 4))
    build(store, settings)
    store.close()
    with running(server_config(create_app(settings), "127.0.0.1", 0, access_log=False)) as port:
        yield settings, f"http://127.0.0.1:{port}"


def raw(base: str, method: str, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(method, path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_gzip_304_and_head_over_a_real_connection(served: tuple[Settings, str]) -> None:
    settings, base = served
    stored = (settings.resolve(settings.output.dir) / "feeds/desk.xml.gz").read_bytes()
    with httpx.Client(base_url=base) as client:
        r = client.get("/feeds/desk.xml", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers["content-encoding"] == "gzip"
        assert r.headers["content-length"] == str(len(stored))
        assert r.content == gzip.decompress(stored)
        assert r.headers.get_list("link") == [
            f'<{settings.site.base_url}/feeds/desk.xml>; rel="self"',
            f'<{HUB}>; rel="hub"',
        ]
        again = client.get(
            "/feeds/desk.xml",
            headers={"Accept-Encoding": "gzip", "If-None-Match": r.headers["etag"]},
        )
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == r.headers["etag"]
        assert len(again.headers.get_list("date")) == 1  # ours, not uvicorn's as well
    head = raw(base, "HEAD", "/feeds/desk.xml", {"Accept-Encoding": "identity"})
    assert head.status == 200
    assert int(head.headers["Content-Length"]) > 0
    assert head.read() == b""
    assert raw(base, "GET", "/feeds/nope.xml", {}).status == 404


def test_many_pollers_with_validators_get_304(served: tuple[Settings, str]) -> None:
    _, base = served
    with httpx.Client(base_url=base) as client:
        first = client.get("/feeds/desk.atom")
        validators = {
            "If-None-Match": first.headers["etag"],
            "Accept-Encoding": first.request.headers["accept-encoding"],
        }
        statuses = {
            client.get("/feeds/desk.atom", headers=validators).status_code for _ in range(50)
        }
    assert statuses == {304}
