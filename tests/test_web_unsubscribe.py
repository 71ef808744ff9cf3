"""Unsubscribing from the link in a digest: GET never changes anything, POST (the page's
button or the RFC 8058 one-click request) unsubscribes at once, with no redirect or
cookie (the button's POST needs its form token, the one-click POST none); forged or
wrong-purpose tokens are refused; queued mail is not sent after."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from httpx import Response
from starlette.testclient import TestClient

from syndicate.config import Settings, load_settings
from syndicate.delivery.dispatch import enqueue_edition
from syndicate.delivery.tokens import TokenSigner
from syndicate.store import open_store
from syndicate.store.outbox import Outbox
from syndicate.store.subscribers import SubscriberStore
from syndicate.web import create_app
from tests.deliveryhelpers import SLOT, add_subscribers, channel, dispatcher, edition

SECRET = "web-test-secret-0123456789"
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(page: Response) -> str:
    """The form token of the page's form."""
    found = FORM_TOKEN.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Settings, TestClient, TokenSigner]:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    (tmp_path / "var").mkdir()  # the default store's folder: the web app creates no store
    (tmp_path / "syndicate.toml").write_text(
        '[site]\nname = "The Review"\nbase_url = "https://review.example"\n'
    )
    settings = load_settings(tmp_path / "syndicate.toml")
    return settings, TestClient(create_app(settings)), TokenSigner(SECRET)


def test_get_shows_a_button_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, client, signer = setup(tmp_path, monkeypatch)
    store = open_store(settings.store_url)
    add_subscribers(store, 1)
    token = signer.make("unsubscribe", 1, "world")
    page = client.get(f"/u/{token}")
    assert page.status_code == 200
    assert f'<form method="post" action="/u/{token}">' in page.text
    sub = SubscriberStore(store).get("reader00000@example.com")
    assert sub is not None and sub.status == "active" and sub.subscriptions


def test_one_click_post_unsubscribes_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, client, signer = setup(tmp_path, monkeypatch)
    store = open_store(settings.store_url)
    add_subscribers(store, 3)
    enqueue_edition(store, channel(), edition(store), SLOT)
    token = signer.make("unsubscribe", 2, "world")
    # What Gmail sends (RFC 8058 §3.2): a form POST, 26-byte body, no cookies.
    done = client.post(
        f"/u/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert done.status_code == 200
    assert "set-cookie" not in done.headers
    subs = SubscriberStore(store)
    reader = subs.get("reader00001@example.com")
    assert reader is not None and reader.status == "unsubscribed" and not reader.subscriptions
    assert subs.is_suppressed("reader00001@example.com")
    again = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200  # idempotent
    # The edition was queued before: the unsubscribed reader does not get it.
    d, backend = dispatcher(store)
    assert d.run().counts == Counter(sent=2, suppressed=1)
    assert "reader00001@example.com" not in backend.recipients()
    assert Outbox(store).status_counts() == {"sent": 2, "suppressed": 1}


def test_unsubscribing_one_channel_keeps_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, client, signer = setup(tmp_path, monkeypatch)
    store = open_store(settings.store_url)
    add_subscribers(store, 1)
    add_subscribers(store, 1, channel_name="economy")  # same address, second channel
    token = signer.make("unsubscribe", 1, "world")
    done = client.post(f"/u/{token}", data={"csrf_token": form_token(client.get(f"/u/{token}"))})
    assert done.status_code == 200
    reader = SubscriberStore(store).get("reader00000@example.com")
    assert reader is not None and reader.status == "active"
    assert [s.channel for s in reader.subscriptions] == ["economy"]


def test_forged_and_wrong_purpose_tokens_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, client, signer = setup(tmp_path, monkeypatch)
    store = open_store(settings.store_url)
    add_subscribers(store, 1)
    forged = TokenSigner("another-secret-0123456789").make("unsubscribe", 1, "world")
    confirm = signer.make("confirm", 1, "world")
    for token in (forged, confirm, "garbage"):
        assert client.get(f"/u/{token}").status_code == 400
        assert client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    reader = SubscriberStore(store).get("reader00000@example.com")
    assert reader is not None and reader.status == "active"


def test_the_button_post_needs_its_form_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, client, signer = setup(tmp_path, monkeypatch)
    store = open_store(settings.store_url)
    add_subscribers(store, 1)
    token = signer.make("unsubscribe", 1, "world")
    other = form_token(client.get(f"/u/{signer.make('unsubscribe', 1, 'economy')}"))
    good = form_token(client.get(f"/u/{token}"))
    refused = [
        client.post(f"/u/{token}"),  # no token: not a one-click request either
        client.post(f"/u/{token}", data={"csrf_token": "forged"}),
        client.post(f"/u/{token}", data={"csrf_token": other}),  # another page's form
        client.post(  # a real token, but the form was posted from another site
            f"/u/{token}",
            data={"csrf_token": good},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        ),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert "set-cookie" not in refused[0].headers
    reader = SubscriberStore(store).get("reader00000@example.com")
    assert reader is not None and reader.status == "active" and reader.subscriptions
