"""The web archive in Debian's chromium, served by a real uvicorn server: a reader finds
an edition from /archive/, it renders with its styles and images under the pages'
Content-Security-Policy, and its view-in-browser link comes back to the same page.

The example site's address (https://meridian.example) is answered by the local server
through Playwright's routing, so links in the edition work as they would in production;
images get a small local PNG, and nothing else leaves the machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from syndicate.config import Settings, load_channels
from syndicate.digest import build_edition
from syndicate.ingest.run import ingest
from syndicate.store import open_store
from syndicate.web import create_app, server_config
from tests.test_browser_digest import ARGS, CHROMIUM, png
from tests.uvicornserver import running

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)"
)

SITE = "https://meridian.example"
SLOT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
# Collects every CSP violation the page reports, before any of its own content runs.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.fixture
def served(instance_settings: Settings) -> Iterator[tuple[str, str]]:
    store = open_store(instance_settings.store_url)
    try:
        ingest(store, instance_settings)
        channel = next(c for c in load_channels(instance_settings) if c.name == "all")
        built = build_edition(store, instance_settings, channel, SLOT)
    finally:
        store.close()
    assert built is not None and built.record is not None
    app = create_app(instance_settings)
    with running(server_config(app, "127.0.0.1", 0, access_log=False)) as port:
        yield f"http://127.0.0.1:{port}", built.record.subject


def test_reader_finds_an_edition_and_it_renders(served: tuple[str, str]) -> None:
    local, subject = served
    picture = png()

    def answer(route: Any) -> None:
        url = route.request.url
        if url.startswith(SITE + "/archive/"):
            route.fulfill(response=route.fetch(url=local + url.removeprefix(SITE)))
        elif route.request.resource_type == "image":
            route.fulfill(status=200, body=picture, content_type="image/png")
        else:
            route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 600, "height": 900})
            page.add_init_script(WATCH_CSP)
            page.route("**/*", answer)
            page.goto(SITE + "/archive/")
            page.get_by_role("link", name="The Meridian Review").click()
            page.wait_for_url(SITE + "/archive/all/")
            assert page.evaluate("window.__csp") == []
            page.get_by_role("link", name=subject).click()
            page.wait_for_url(SITE + "/archive/all/2026-11-25-0700/")
            page.wait_for_load_state("load")
            edition_url = page.url
            assert page.title() == subject
            assert page.evaluate("window.__csp") == []
            # Inline styles apply (the link colour comes from a style attribute) ...
            colour = page.evaluate("getComputedStyle(document.querySelector('.footer a')).color")
            assert colour == "rgb(138, 28, 28)"
            # ... images load, and the footer names nobody.
            loaded = page.evaluate(
                "[...document.images].every(i => i.complete && i.naturalWidth > 0)"
            )
            assert loaded
            footer = page.locator(".footer").inner_text()
            assert "at your email address." in footer
            unsubscribe = page.get_by_role("link", name="Unsubscribe")
            assert unsubscribe.get_attribute("href") == SITE + "/subscribe/all"
            page.get_by_role("link", name="View this edition in your browser").click()
            page.wait_for_load_state("load")
            assert page.url == edition_url and page.title() == subject
        finally:
            browser.close()
