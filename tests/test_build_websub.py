"""WebSub publish pings against a real hub on 127.0.0.1 (WS-2, issue: done when)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from syndicate.config import Settings
from syndicate.feeds.builder import build
from syndicate.store import Store, open_store
from tests.feeds.fixtures import BASE, make_instance, save


@dataclass
class Hub:
    """A WebSub hub that records publish pings and answers with ``status``."""

    port: int
    status: int = 204
    pings: list[dict[str, list[str]]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hub"

    def urls(self) -> list[str]:
        return sorted(url for ping in self.pings for url in ping["hub.url"])


class HubServer:
    """A running hub on 127.0.0.1 (``port=0``: any free port)."""

    def __init__(self, state: Hub) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                state.content_types.append(self.headers.get("Content-Type", ""))
                state.pings.append(parse_qs(body.decode("ascii"), strict_parsing=True))
                self.send_response(state.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
        state.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub() -> Iterator[Hub]:
    state = Hub(port=0)
    server = HubServer(state)
    yield state
    server.stop()


def instance(tmp_path: Path, hub_url: str) -> tuple[Store, Settings]:
    channel = f'title = "Desk"\nitems = 2\nhubs = ["{hub_url}"]\n'
    settings = make_instance(tmp_path / "i", {"desk": channel, "quiet": 'title = "Quiet"\n'})
    return open_store(settings.store_url), settings


FEEDS = sorted(f"{BASE}/feeds/desk.{ext}" for ext in ("xml", "atom", "json"))


def pending(settings: Settings) -> list[str]:
    state = settings.resolve(settings.output.dir) / ".syndicate" / "websub.json"
    return sorted(p["url"] for p in json.loads(state.read_bytes())["pending"])


def test_one_ping_per_changed_feed_and_none_when_nothing_changed(tmp_path: Path, hub: Hub) -> None:
    store, settings = instance(tmp_path, hub.url)
    save(store, range(1, 6))  # enough for archive pages: those are never pinged
    report = build(store, settings)
    assert hub.urls() == FEEDS
    assert all(ping["hub.mode"] == ["publish"] for ping in hub.pings)
    assert set(hub.content_types) == {"application/x-www-form-urlencoded"}
    assert len(report.pings.sent) == 3 and not report.pings.failed

    hub.pings.clear()
    build(store, settings)
    assert hub.pings == []  # unchanged feeds: no ping

    save(store, [6])
    build(store, settings)
    assert hub.urls() == FEEDS  # each changed feed exactly once
    store.close()


def test_a_failing_hub_does_not_fail_the_build_and_is_retried(tmp_path: Path, hub: Hub) -> None:
    store, settings = instance(tmp_path, hub.url)
    save(store, range(1, 3))
    hub.status = 500
    report = build(store, settings)
    assert not report.failed
    assert len(report.pings.failed) == 3
    assert pending(settings) == FEEDS

    hub.status = 202
    hub.pings.clear()
    report = build(store, settings)  # nothing changed, but the pending pings are retried
    assert hub.urls() == FEEDS
    assert pending(settings) == []

    hub.pings.clear()
    build(store, settings)
    assert hub.pings == []  # and not sent twice
    store.close()


def test_a_hub_that_is_down_is_retried_on_the_next_build(tmp_path: Path) -> None:
    state = Hub(port=0)
    HubServer(state).stop()  # a port that was just free: the hub is down
    store, settings = instance(tmp_path, state.url)
    save(store, range(1, 3))
    report = build(store, settings)
    assert not report.failed and len(report.pings.failed) == 3
    assert pending(settings) == FEEDS
    server = HubServer(state)  # the hub comes back on the same port
    try:
        build(store, settings)  # nothing changed: only the pending pings go out
        assert state.urls() == FEEDS
        assert pending(settings) == []
    finally:
        server.stop()
        store.close()


def test_pending_pings_for_a_hub_no_longer_configured_are_dropped(tmp_path: Path) -> None:
    store, settings = instance(tmp_path, "http://127.0.0.1:9/hub")  # discard port: refused
    save(store, range(1, 3))
    build(store, settings)
    assert pending(settings) == FEEDS
    channel = settings.base_dir / "feeds" / "desk.toml"
    channel.write_text('title = "Desk"\nitems = 2\n')
    report = build(store, settings)
    assert pending(settings) == [] and not report.pings.failed
    store.close()
