"""A subscriber's data from their preferences page, in Debian's chromium (Playwright,
JavaScript off) against a real uvicorn server, mail through the SMTP backend to a real
aiosmtpd server: download → the subscriber's JSON; erase → confirmation mail → its
link → Erase → the address is suppressed (by hash) and nothing personal is left in any
table of the store. Screenshots go to ``tests/artifacts/privacy/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from syndicate.delivery.tokens import TokenSigner
from syndicate.models import Subscription, utc_now
from syndicate.store import open_store
from syndicate.store.signups import SignupStore
from syndicate.store.subscribers import SubscriberStore
from syndicate.subscribers.privacy import export_data
from tests.importhelpers import personal_traces
from tests.subscribehelpers import SECRET, parse
from tests.test_browser_subscribe import (  # the server, browser and mail helpers
    ARTIFACTS,
    CHROMIUM,
    browser,
    served,
    unlabelled,
    wait_for_mail,
)

__all__ = ["browser", "served"]  # fixtures used by name

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)"
)
SHOTS = ARTIFACTS.parent / "privacy"
READER = "reader@example.com"
CONSENT = {
    "source": "web",
    "form": "/subscribe/economy",
    "network": "203.0.113.0/24",
    "user_agent": "Reader's browser",
}


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def test_download_then_erase(served: Any, browser: Any, tmp_path: Path) -> None:
    settings, base, smtp = served
    store = open_store(settings.store_url)
    signups = SignupStore(store)
    done = signups.request(
        READER,
        name="Rea Der",
        subscription=Subscription("economy", "daily"),
        consent=CONSENT,
        now=utc_now(),
    )
    assert done.pending is not None
    sid = done.pending.subscriber_id
    assert signups.confirm(sid, "economy", consent=CONSENT, now=utc_now()) == "confirmed"
    SubscriberStore(store).upsert(
        "other@example.com",
        name="Other",
        status="active",
        timezone="UTC",
        subs=[Subscription("economy")],
        now=utc_now(),
    )
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    page = context.new_page()
    try:
        token = TokenSigner(SECRET).make("preferences", sid, "economy")
        page.goto(f"{base}/p/{token}")
        assert page.get_by_role("heading", name="Your data").is_visible()
        assert unlabelled(page) == []
        shot(page, "preferences-your-data.png")
        with page.expect_download() as info:
            page.get_by_role("link", name="Download everything we hold about you").click()
        saved = tmp_path / "my-data.json"
        info.value.save_as(saved)
        data = json.loads(saved.read_text(encoding="utf-8"))
        assert data["email"] == READER and data["profile"]["name"] == "Rea Der"
        assert [s["channel"] for s in data["subscriptions"]] == ["economy"]
        assert [r["method"] for r in data["consent_records"]] == ["form"]
        assert info.value.suggested_filename == "my-data.json"

        page.get_by_role("button", name="Erase my data").click()
        assert page.get_by_role("heading", name="Check your inbox").is_visible(), page.content()
        assert SubscriberStore(store).get(READER) is not None  # nothing erased yet
        mail = parse(wait_for_mail(smtp, 1))
        assert smtp.messages[0].rcpt_tos == (READER,)
        assert mail["Subject"] == "Confirm: erase your data at The Review"
        html = mail.get_body(("html",))
        assert html is not None
        mail_page = context.new_page()
        mail_page.set_content(html.get_content())
        url = mail_page.get_by_role("link", name="Erase my data").get_attribute("href")
        mail_page.close()
        assert url is not None and url.startswith(f"{base}/erase/")

        page.goto(url)  # following the link changes nothing
        assert SubscriberStore(store).get(READER) is not None
        shot(page, "erase-confirm.png")
        page.get_by_role("button", name="Erase").click()
        assert page.get_by_role("heading", name="Your data is erased").is_visible()
        shot(page, "erased.png")

        people = SubscriberStore(store)
        assert people.get(READER) is None and people.is_suppressed(READER)
        assert export_data(store, READER, utc_now()) is None
        needles = (READER, "Rea Der", "203.0.113.0/24", "Reader's browser")
        assert personal_traces(store, needles, sid) == []
        assert people.get("other@example.com") is not None
        # The old preferences link now finds nobody.
        page.goto(f"{base}/p/{token}")
        assert page.get_by_role("heading", name="Not on our list").is_visible()
        assert len(smtp.messages) == 1
    finally:
        context.close()
        store.close()
