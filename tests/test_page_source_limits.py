"""The page source's limits for one poll: sitemap children, an overall deadline, and
pages fetched side by side (at most ``fetch.concurrency`` at once).

Served by a real local server; no test asserts how long anything took, only what was
fetched and what came out.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from syndicate.config import FetchSettings, SiteSettings, SourceConfig
from syndicate.ingest.sources.base import SourceContext
from syndicate.ingest.sources.page import PageSource
from syndicate.models import FetchResult, SourceState
from tests.httpserver import LocalServer, Reply, SeenRequest

pytest_plugins = ["tests.httpserver"]

FAST = FetchSettings(connect_timeout=1.0, read_timeout=0.5, total_timeout=1.0)


def page(title: str) -> bytes:
    return (
        f"<html><head><title>{title}</title></head>"
        f"<body><article><p>The story of {title}.</p></article></body></html>"
    ).encode()


def read(fetch: dict[str, Any] | None = None, **options: Any) -> FetchResult:
    config = SourceConfig(name="pages", kind="page", allow_private=True, **options)
    context = SourceContext(SiteSettings(), FAST.model_copy(update=fetch or {}), Path("."))
    return PageSource(config, context).read(SourceState(name="pages"))


def sitemap_index(server: LocalServer, children: int) -> str:
    """An index of ``children`` sitemaps, newest first, each listing one page."""
    entries = []
    for n in range(children):
        entries.append(
            f"<sitemap><loc>{server.url(f'/map-{n}.xml')}</loc>"
            f"<lastmod>2025-03-{20 - n:02d}</lastmod></sitemap>"
        )
        server.route(
            f"/map-{n}.xml",
            body=(
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<url><loc>{server.url(f'/page-{n}')}</loc></url></urlset>"
            ).encode(),
        )
        server.route(f"/page-{n}", body=page(f"Page {n}"))
    server.route(
        "/index.xml",
        body=(
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(entries)
            + "</sitemapindex>"
        ).encode(),
    )
    return server.url("/index.xml")


def test_sitemap_index_follows_at_most_max_sitemaps(http_server: LocalServer) -> None:
    index = sitemap_index(http_server, children=5)
    result = read(sitemap=index, max_sitemaps=2)
    assert result.error is None
    assert sorted(e.title for e in result.entries) == ["Page 0", "Page 1"]
    assert "5 sitemaps listed; following 2 (max_sitemaps)" in result.warnings
    followed = {r.path for r in http_server.requests if r.path.startswith("/map-")}
    assert followed == {"/map-0.xml", "/map-1.xml"}  # the newest two


def test_poll_past_its_deadline_stops_keeping_the_pages_read(http_server: LocalServer) -> None:
    http_server.route("/first", body=page("First"))
    # Every byte within the read timeout, the whole far beyond the poll's deadline.
    http_server.route("/slow", body=page("Slow") * 20, drip=0.1, drip_size=4)
    http_server.route("/later", body=page("Later"))
    urls = [http_server.url(p) for p in ("/first", "/slow", "/later")]
    result = read(urls=urls, deadline=1.0, fetch={"concurrency": 1, "total_timeout": 60.0})
    assert result.error is None
    assert [e.title for e in result.entries] == ["First"]
    assert any("deadline" in w and "2 pages left" in w for w in result.warnings), result.warnings
    assert http_server.requests_to("/later") == []
    # What was not read is asked for again on the next run, even if the sitemap is unchanged.
    assert result.extra["failed"] == urls[1:]


def test_pages_are_fetched_side_by_side_up_to_the_concurrency(http_server: LocalServer) -> None:
    lock = threading.Lock()
    in_flight = [0, 0]  # now, most seen
    crowded = threading.Event()

    def handler(_request: SeenRequest) -> Reply:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
            if in_flight[0] >= 2:
                crowded.set()
        # Hold the answer until a second request is in flight: fetched one at a time, each
        # page waits out this guard instead (and the test fails on the count, not a clock).
        crowded.wait(timeout=2)
        with lock:
            in_flight[0] -= 1  # before the answer is written, so the next one cannot overlap
        return Reply(body=page("Side by side"))

    paths = [f"/p{n}" for n in range(6)]
    for path in paths:
        http_server.handle(path, handler)
    result = read(
        urls=[http_server.url(p) for p in paths],
        fetch={"concurrency": 2, "read_timeout": 5.0, "total_timeout": 10.0},
    )
    assert result.error is None and len(http_server.requests) == 6
    assert in_flight[1] == 2


def test_pages_keep_their_listed_order_when_fetched_side_by_side(
    http_server: LocalServer,
) -> None:
    paths = [f"/p{n}" for n in range(6)]
    for n, path in enumerate(paths):
        # The first pages answer last.
        http_server.route(path, body=page(f"Page {n}"), delay=0.05 * (6 - n))
    result = read(urls=[http_server.url(p) for p in paths], fetch={"concurrency": 6})
    assert [e.title for e in result.entries] == [f"Page {n}" for n in range(6)]


def test_limits_are_validated() -> None:
    from pydantic import ValidationError

    from syndicate.ingest.sources.registry import options_model

    model = options_model("page")
    defaults = model.model_validate({"sitemap": "https://a.example/sitemap.xml"})
    assert (defaults.deadline, defaults.max_sitemaps) == (300.0, 50)  # type: ignore[attr-defined]
    for bad in ({"deadline": 0}, {"max_sitemaps": 0}):
        try:
            model.model_validate({"sitemap": "https://a.example/sitemap.xml", **bad})
        except ValidationError:
            continue
        raise AssertionError(f"{bad} was accepted")
