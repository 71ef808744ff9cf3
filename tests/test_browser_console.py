"""The console in Debian's chromium, driven by Playwright, against a real uvicorn server,
a real store and aiosmtpd: sign in → Today → a draft edition → preview both segments →
drop a story and pin a pick → test-send to an address aiosmtpd receives (no delivery
row) → approve → counts reach "sent" → look up one recipient. Screenshots of each page
at 375 and 1280 px are kept under ``tests/artifacts/`` (``console-*.png``).

Nothing leaves the machine: every request not for the test server is aborted.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest

from syndicate.config import load_channels, load_settings
from syndicate.delivery import Dispatcher, EditionMessages, make_backend
from syndicate.digest.build import build_edition
from syndicate.models import utc_now
from syndicate.store import open_store
from syndicate.store.editions import get_edition_by_id
from syndicate.store.operators import Operators
from syndicate.store.outbox import Outbox
from syndicate.web import create_app, server_config
from tests.deliveryhelpers import add_subscribers
from tests.digest.factory import T0, store_articles
from tests.smtpserver import SMTPTestServer
from tests.uvicornserver import running

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(os.environ.get("SYNDICATE_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
EDITOR = "editor@news.example"
PASSWORD = "a long enough password"
TESTER = "tester@example.org"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)"
)


def subject_of(raw: bytes) -> str:
    return str(make_header(decode_header(message_from_bytes(raw)["Subject"])))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with SMTPTestServer() as smtp:
        folder = tmp_path / "instance"
        (folder / "feeds").mkdir(parents=True)
        (folder / "content").mkdir()
        (folder / "var").mkdir()
        # The first edition looks back to the test articles' day (T0), not before it:
        # the archive, published four days earlier, is only a "More from" candidate.
        lookback = (utc_now() - T0).total_seconds() / 3600 + 1
        (folder / "feeds" / "world.toml").write_text(
            'title = "The Review — World"\n[digest]\nreview = "approve"\ndraft_hours = 2\n'
            f"first_lookback_hours = {lookback:.0f}\nrelated_k = 2\nrelated_memory_days = 0\n"
            "test_addresses = []\n",
            encoding="utf-8",
        )
        (folder / "syndicate.toml").write_text(
            '[site]\nname = "The Review"\nbase_url = "https://news.example"\n'
            'tag_authority = "news.example,2026"\npostal_address = "1 Harbour Row"\n'
            '[security]\nsecret_key = "browser-console-secret-0123456789"\n'
            '[store]\nurl = "sqlite:///var/store.db"\n'
            '[delivery]\nbackend = "smtp"\nfrom_email = "news@news.example"\n'
            f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\nsecurity = "none"\n'
            '[[sources]]\nname = "desk"\nkind = "folder"\npath = "content"\n',
            encoding="utf-8",
        )
        settings = load_settings(folder / "syndicate.toml")
        store = open_store(settings.store_url)
        store_articles(store, 3, section="World")
        store_articles(store, 3, start=3, section="Sport", topic="football")
        archive = store_articles(store, 4, start=-100, section="Culture", topic="museums")
        add_subscribers(store, 4, channel_name="world")
        add_subscribers(store, 2, channel_name="world", sections=("Sport",), start=4)
        Operators(store).add(EDITOR, "editor", PASSWORD, utc_now())
        (channel,) = load_channels(settings)
        slot = utc_now().replace(second=0, microsecond=0) - timedelta(minutes=10)
        built = build_edition(store, settings, channel, slot, save=True, status="draft", now=slot)
        assert built is not None and built.record is not None
        with running(server_config(create_app(settings), "127.0.0.1", 0, access_log=False)) as port:
            yield {
                "base": f"http://127.0.0.1:{port}",
                "settings": settings,
                "store": store,
                "smtp": smtp,
                "edition": built.record,
                "archive": archive,
                "channel": channel,
            }
        store.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def no_overflow(page: Any) -> None:
    # Measured from Python: the console's CSP forbids evaluating strings in the page.
    width = page.viewport_size["width"]
    overflow = page.locator("html").evaluate("e => e.scrollWidth") - width
    assert overflow <= 0, f"horizontal overflow of {overflow}px"


def submit(page: Any, name: str) -> None:
    """Click the button ``name`` and wait for the page its form leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=name).click()


def local_only(base: str) -> Any:
    def answer(route: Any) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            route.abort()

    return answer


def test_the_editor_walks_a_draft_from_review_to_sent(browser: Any, site: dict[str, Any]) -> None:
    base, store, edition = site["base"], site["store"], site["edition"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", local_only(base))
    page = context.new_page()

    # Sign in: an anonymous visit is sent to the form, then back.
    page.goto(f"{base}/console/")
    assert "/console/signin" in page.url
    shot(page, "signin-1280")
    page.get_by_label("Email").fill(EDITOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console/")

    # Today: the channel, the draft with its status and stories.
    assert page.get_by_role("heading", name="The Review — World").is_visible()
    assert page.locator(".state-draft").first.is_visible()
    shot(page, "today-1280")
    page.get_by_role("link", name=f"Edition {edition.id}:").click()
    page.wait_for_url(f"{base}/console/editions/{edition.id}")
    shot(page, "edition-1280")
    segments = " ".join(page.locator("#segments").inner_text().split())
    assert "4 Everyone" in segments and "2 Sport" in segments, segments

    # Preview both segments: the frame shows each copy's stories.
    frame = page.frame_locator("iframe.preview")
    assert frame.locator("body").inner_text(timeout=10_000)
    for segment, present, absent in (
        ("Sport", "Story number 3", "Story number 0"),
        ("World", "Story number 0", "Story number 3"),
    ):
        page.get_by_role("navigation", name="Segments").get_by_role("link", name=segment).click()
        page.wait_for_url(f"**segment={segment}")
        text = page.frame_locator("iframe.preview").locator("body").inner_text(timeout=10_000)
        assert present in text and absent not in text, text[:300]
        assert present in (page.locator("pre.text").text_content() or "")
        shot(page, f"segment-{segment.lower()}-1280")

    # Drop the lead story, pin an archive article as the first pick.
    page.goto(f"{base}/console/editions/{edition.id}")
    first_title = page.locator("ol.stories > li a").first.inner_text()
    submit(page, f"Drop: {first_title}")
    assert first_title not in page.locator("ol.stories").inner_text()
    pinned = site["archive"][0]
    page.get_by_label("Pin a pick").fill(pinned)
    submit(page, "Pin first")
    assert pinned in page.locator("ol.picks > li").first.inner_text()
    record = get_edition_by_id(store, edition.id)
    assert record is not None and record.related_ids[0] == pinned
    assert len(record.article_ids) == len(edition.article_ids) - 1

    # Test send: aiosmtpd receives it, marked as a test; no delivery row appears.
    page.get_by_label("Also send to").fill(TESTER)
    submit(page, "Send test")
    page.get_by_text("Test sent.").wait_for()
    (received,) = site["smtp"].messages
    assert received.rcpt_tos == (TESTER,)
    assert subject_of(received.content).startswith("[TEST] ")
    assert b"List-Id:" in received.content and b"test-world." in received.content
    assert Outbox(store).status_counts() == {}

    # Approve: the slot has passed, so it is queued at once; a sender works the outbox.
    submit(page, "Approve")
    counts = Outbox(store).status_counts()
    assert counts == {"queued": 6}, counts
    channels = {c.name: c for c in load_channels(site["settings"])}
    sender = Dispatcher(
        store,
        make_backend(site["settings"]),
        EditionMessages(store, site["settings"], channels),
        site["settings"].dispatch,
    )
    worker = threading.Thread(target=sender.run, daemon=True)
    worker.start()
    # The page's fetch loop shows the counts reach "sent" without a reload.
    sync_api.expect(page.locator("#progress-state")).to_have_text("sent", timeout=30_000)
    worker.join(timeout=30)
    assert "6 sent" in " ".join(page.locator("#progress-counts").inner_text().split())
    assert Outbox(store).status_counts() == {"sent": 6}
    assert len(site["smtp"].messages) == 7  # the test, then the six deliveries

    # Look up one recipient.
    page.get_by_label("Look up an address").fill("reader00004@example.com")
    submit(page, "Look up")
    delivery = page.locator("#delivery").inner_text()
    assert "sent" in delivery and "reader00004@example.com" in delivery
    shot(page, "edition-sent-1280")

    # The same pages at 375 px: usable, no sideways scrolling.
    small = context.new_page()
    small.set_viewport_size({"width": 375, "height": 800})
    for name, path in (
        ("today", "/console/"),
        ("edition", f"/console/editions/{edition.id}?address=reader00004%40example.com"),
        ("segment-sport", f"/console/editions/{edition.id}?segment=Sport"),
        ("segment-world", f"/console/editions/{edition.id}?segment=World"),
    ):
        small.goto(base + path)
        no_overflow(small)
        if "editions" in path:  # the preview frame has loaded before the picture
            small.frame_locator("iframe.preview").locator("body").inner_text(timeout=10_000)
        shot(small, f"{name}-375")
    signin = browser.new_page(viewport={"width": 375, "height": 800})
    signin.goto(f"{base}/console/signin")
    no_overflow(signin)
    shot(signin, "signin-375")
    for name in ("today", "edition", "segment-sport", "segment-world", "edition-sent"):
        wide = ARTIFACTS / f"console-{name}-1280.png"
        assert wide.exists() or name != "today", name
    context.close()
