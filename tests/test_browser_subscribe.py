"""The whole subscriber journey in Debian's chromium (Playwright, JavaScript off), against
a real uvicorn server, with the confirmation mail going through the SMTP backend to a
real aiosmtpd server: subscribe → mail → follow its link → confirm → change preferences
→ unsubscribe with the button. Screenshots go to ``tests/artifacts/subscribe/``."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syndicate.config import Settings
from syndicate.delivery.tokens import TokenSigner
from syndicate.models import Subscription
from syndicate.store import open_store
from syndicate.store.subscribers import SubscriberStore
from syndicate.web import create_app, server_config
from tests.smtpserver import SMTPTestServer
from tests.subscribehelpers import SECRET, make_instance, parse
from tests.uvicornserver import running

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(os.environ.get("SYNDICATE_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
ARTIFACTS = ARTIFACTS / "subscribe"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, str, SMTPTestServer]]:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with SMTPTestServer() as smtp:
        settings = make_instance(
            tmp_path / "instance",
            f"sqlite:///{tmp_path / 'store.db'}",
            '[delivery.smtp]\nhost = "127.0.0.1"\n'
            f'port = {smtp.port}\nsecurity = "none"\ntimeout = 10\n',
        )
        settings = settings.model_copy(
            update={
                "site": settings.site.model_copy(update={"base_url": base}),
                "delivery": settings.delivery.model_copy(update={"backend": "smtp"}),
            }
        )
        config = server_config(create_app(settings), "127.0.0.1", port, access_log=False)
        with running(config):
            yield settings, base, smtp


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def wait_for_mail(smtp: SMTPTestServer, count: int) -> bytes:
    """The ``count``-th message the SMTP server accepted (it is sent after the answer)."""
    deadline = time.monotonic() + 30
    while len(smtp.messages) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"the SMTP server received {len(smtp.messages)} messages, not {count}")
        time.sleep(0.05)
    return smtp.messages[count - 1].content


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def unlabelled(page: Any) -> list[str]:
    """Visible form controls that have no label (accessible name)."""
    found: list[str] = page.evaluate(
        """[...document.querySelectorAll('input, select, button')]
             .filter(e => e.type !== 'hidden' && !e.closest('[aria-hidden=true]'))
             .filter(e => !(e.labels && e.labels.length) && !e.innerText)
             .map(e => e.name || e.outerHTML)"""
    )
    return found


def test_subscribe_confirm_preferences_unsubscribe(served: Any, browser: Any) -> None:
    settings, base, smtp = served
    context = browser.new_context(java_script_enabled=False, viewport={"width": 400, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{base}/subscribe")
        page.get_by_role("link", name="The Review — Economy").click()
        assert page.locator("html").get_attribute("lang") == "en"
        assert unlabelled(page) == []
        page.get_by_label("Email address").fill("reader@example.com")
        page.get_by_label("Name (optional)").fill("Rea Der")
        page.get_by_label("A daily round-up").check()
        page.get_by_label("Business").check()
        shot(page, "subscribe-form.png")
        page.get_by_role("button", name="Subscribe").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", name="Check your inbox").is_visible(), page.content()
        assert context.cookies() == []  # no cookie is needed or set

        mail = parse(wait_for_mail(smtp, 1))
        assert smtp.messages[0].rcpt_tos == ("reader@example.com",)
        assert mail["Subject"] == "Confirm your subscription to The Review — Economy"
        html = mail.get_body(("html",))
        assert html is not None
        mail_page = context.new_page()
        mail_page.set_content(html.get_content())
        link = mail_page.get_by_role("link", name="Confirm The Review — Economy")
        url = link.get_attribute("href")
        mail_page.close()
        assert url is not None and url.startswith(f"{base}/confirm/")

        store = open_store(settings.store_url)
        people = SubscriberStore(store)
        reader = people.get("reader@example.com")
        assert reader is not None and reader.status == "pending" and not reader.subscriptions

        page.goto(url)  # what following the link in the mail does
        assert page.get_by_text("A daily round-up").is_visible()
        reader = people.get("reader@example.com")
        assert reader is not None and reader.status == "pending"  # the GET changed nothing
        shot(page, "confirm.png")
        page.get_by_role("button", name="Confirm").click()
        assert page.get_by_text("You are subscribed to The Review — Economy").is_visible()
        reader = people.get("reader@example.com")
        assert reader is not None and reader.status == "active"
        assert reader.subscriptions == (Subscription("economy", "daily", ("Business",)),)

        page.get_by_role("link", name="Change what you receive").click()
        assert page.get_by_role("heading", name="Your email preferences").is_visible()
        assert unlabelled(page) == []
        how_often = page.get_by_role("group", name="How often (The Review — Economy)")
        how_often.get_by_label("A weekly round-up").check()
        sections = page.get_by_role("group", name="Sections (The Review — Economy)")
        sections.get_by_label("Business").uncheck()
        sections.get_by_label("Economy").check()
        page.get_by_label("Time zone").select_option("Europe/Lisbon")
        shot(page, "preferences.png")
        page.get_by_role("button", name="Save").click()
        assert page.get_by_text("Your preferences are saved.").is_visible()
        reader = people.get("reader@example.com")
        assert reader is not None and reader.timezone == "Europe/Lisbon"
        assert reader.subscriptions == (Subscription("economy", "weekly", ("Economy",)),)

        # The unsubscribe link of a digest (same signer as the mail) and its button.
        token = TokenSigner(SECRET).make("unsubscribe", reader.id, "economy")
        page.goto(f"{base}/u/{token}")
        page.get_by_role("button", name="Unsubscribe").click()
        assert page.get_by_role("heading", name="Unsubscribed").is_visible()
        reader = people.get("reader@example.com")
        assert reader is not None and reader.status == "unsubscribed" and not reader.subscriptions
        assert people.is_suppressed("reader@example.com")
        assert len(smtp.messages) == 1  # nothing was sent but the one confirmation
        store.close()
    finally:
        context.close()
