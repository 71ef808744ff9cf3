""" "Less often" in Debian's chromium (Playwright, JavaScript off) against a real uvicorn
server: a reader follows a digest's unsubscribe link, presses "A weekly round-up
instead" and stays subscribed, weekly; the preferences page says what that means a
week; the RFC 8058 one-click POST to the same link still unsubscribes at once.
Screenshots go to ``tests/artifacts/less-often/``."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syndicate.config import Settings
from syndicate.delivery.tokens import TokenSigner
from syndicate.models import Subscription, utc_now
from syndicate.store import open_store
from syndicate.store.subscribers import SubscriberStore
from syndicate.web import create_app, server_config
from tests.subscribehelpers import SECRET, make_instance
from tests.uvicornserver import running

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(os.environ.get("SYNDICATE_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
ARTIFACTS = ARTIFACTS / "less-often"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, str]]:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_instance(tmp_path / "instance", f"sqlite:///{tmp_path / 'store.db'}")
    settings = settings.model_copy(
        update={"site": settings.site.model_copy(update={"base_url": base})}
    )
    config = server_config(create_app(settings), "127.0.0.1", port, access_log=False)
    with running(config):
        yield settings, base


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_weekly_instead_then_one_click_unsubscribe(served: Any, browser: Any) -> None:
    settings, base = served
    store = open_store(settings.store_url)
    people = SubscriberStore(store)
    people.upsert(
        "reader@example.com",
        name="Rea",
        status="active",
        timezone="UTC",
        subs=[Subscription("economy", "edition", ())],
        now=utc_now(),
    )
    reader = people.get("reader@example.com")
    assert reader is not None
    signer = TokenSigner(SECRET)
    unsubscribe_url = f"{base}/u/{signer.make('unsubscribe', reader.id, 'economy')}"
    context = browser.new_context(java_script_enabled=False, viewport={"width": 400, "height": 900})
    page = context.new_page()
    try:
        page.goto(unsubscribe_url)  # what following the link in a digest does
        assert page.get_by_role("button", name="Unsubscribe").is_visible()
        weekly = page.get_by_role("button", name=re.compile(r"^A weekly round-up instead"))
        assert weekly.is_visible()
        shot(page, "unsubscribe-page.png")
        reader = people.get("reader@example.com")
        assert reader is not None
        assert reader.subscriptions == (Subscription("economy", "edition", ()),)  # GET: same

        weekly.click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", name="You are still subscribed").is_visible()
        shot(page, "weekly-instead.png")
        reader = people.get("reader@example.com")
        assert reader is not None and reader.status == "active"
        assert reader.subscriptions == (Subscription("economy", "weekly", ()),)
        assert not people.is_suppressed("reader@example.com")

        page.goto(f"{base}/p/{signer.make('preferences', reader.id, 'economy')}")
        assert page.get_by_text("Your current choice: about 1 email a week.").is_visible()
        how_often = page.get_by_role("group", name="How often (The Review — Economy)")
        assert how_often.get_by_label("A weekly round-up").is_checked()

        # A mailbox provider's RFC 8058 one-click POST: no form token, no cookie.
        answer = context.request.post(
            unsubscribe_url,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            data="List-Unsubscribe=One-Click",
        )
        assert answer.status == 200
        reader = people.get("reader@example.com")
        assert reader is not None and reader.status == "unsubscribed" and not reader.subscriptions
        assert people.is_suppressed("reader@example.com")
    finally:
        context.close()
        store.close()
