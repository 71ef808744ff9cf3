""" "Less often" instead of leaving (issue 17 item 4), without a browser: the unsubscribe
page offers slower cadences and single sections above its button and changes nothing;
one signed, form-token POST switches; the one-click POST still unsubscribes at once;
the preferences page says how many mails a week the current choice means."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from syndicate.config import load_channels
from syndicate.delivery.tokens import TokenSigner
from syndicate.models import Subscription
from syndicate.store import Store, open_store
from syndicate.store.editions import NewEdition, save_edition
from syndicate.store.subscribers import SubscriberStore
from syndicate.subscribers.frequency import PerWeek, less_often, mails_per_week
from syndicate.web import create_app
from tests.subscribehelpers import SECRET, make_instance

LESS_TOKEN = re.compile(
    r'action="(/u/[^"]+/less)">\s*<input type="hidden" name="csrf_token" value="([^"]+)"'
)
MONDAY = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def reader(store: Store, sub: Subscription) -> int:
    SubscriberStore(store).upsert(
        "reader@example.com", name="Rea", status="active", timezone="UTC", subs=[sub], now=MONDAY
    )
    found = SubscriberStore(store).get("reader@example.com")
    assert found is not None
    return found.id


def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, Store]:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    settings = make_instance(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    return TestClient(create_app(settings)), open_store(settings.store_url)


def current(store: Store) -> tuple[str, tuple[Subscription, ...]]:
    found = SubscriberStore(store).get("reader@example.com")
    assert found is not None
    return found.status, found.subscriptions


def test_the_page_offers_slower_cadences_and_single_sections_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, store = site(tmp_path, monkeypatch)
    sid = reader(store, Subscription("economy", "edition", ()))
    token = TokenSigner(SECRET).make("unsubscribe", sid, "economy")
    page = client.get(f"/u/{token}")
    assert page.status_code == 200
    buttons = re.findall(r'<button type="submit" name="choice" value="([^"]+)">', page.text)
    assert buttons == ["cadence:daily", "cadence:weekly", "section:Economy", "section:Business"]
    assert "A weekly round-up instead (about 1 email a week)" in page.text
    assert "A daily round-up instead (about 7 emails a week)" in page.text
    # The unsubscribe button is still there, after the offers.
    assert page.text.index("/less") < page.text.index(f'<form method="post" action="/u/{token}">')
    assert current(store) == ("active", (Subscription("economy", "edition", ()),))


def test_weekly_instead_keeps_the_subscription_at_the_new_cadence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, store = site(tmp_path, monkeypatch)
    sid = reader(store, Subscription("economy", "daily", ("Business",)))
    token = TokenSigner(SECRET).make("unsubscribe", sid, "economy")
    found = LESS_TOKEN.search(client.get(f"/u/{token}").text)
    assert found is not None
    action, csrf = found.groups()
    # Without its form token the POST is refused and changes nothing.
    refused = client.post(action, data={"choice": "cadence:weekly"})
    assert refused.status_code == 403
    assert current(store)[1] == (Subscription("economy", "daily", ("Business",)),)
    # A choice that is not slower is not on offer.
    faster = client.post(action, data={"choice": "cadence:edition", "csrf_token": csrf})
    assert faster.status_code == 409
    done = client.post(action, data={"choice": "cadence:weekly", "csrf_token": csrf})
    assert done.status_code == 200, done.text
    assert "You are still subscribed" in done.text
    assert "at most 1 email a week" in done.text  # sections chosen: at most
    assert current(store) == ("active", (Subscription("economy", "weekly", ("Business",)),))
    assert not SubscriberStore(store).is_suppressed("reader@example.com")
    # Now weekly: nothing slower is offered, and one section leaves no narrower choice.
    assert 'name="choice"' not in client.get(f"/u/{token}").text


def test_only_one_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client, store = site(tmp_path, monkeypatch)
    sid = reader(store, Subscription("economy", "weekly", ()))
    token = TokenSigner(SECRET).make("unsubscribe", sid, "economy")
    found = LESS_TOKEN.search(client.get(f"/u/{token}").text)
    assert found is not None
    action, csrf = found.groups()
    client.post(action, data={"choice": "section:Economy", "csrf_token": csrf})
    assert current(store) == ("active", (Subscription("economy", "weekly", ("Economy",)),))


def test_the_one_click_post_still_unsubscribes_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, store = site(tmp_path, monkeypatch)
    sid = reader(store, Subscription("economy", "edition", ()))
    token = TokenSigner(SECRET).make("unsubscribe", sid, "economy")
    done = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert current(store) == ("unsubscribed", ())
    # Nothing is offered to someone no longer subscribed.
    assert 'name="choice"' not in client.get(f"/u/{token}").text


def test_preferences_page_says_how_many_mails_a_week(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, store = site(tmp_path, monkeypatch)
    sid = reader(store, Subscription("world", "weekly", ()))
    token = TokenSigner(SECRET).make("preferences", sid, "world")
    page = client.get(f"/p/{token}")
    assert page.status_code == 200
    assert "Your current choice: about 1 email a week." in page.text


def test_mails_per_week(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    settings = make_instance(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    store = open_store(settings.store_url)
    channels = {c.name: c for c in load_channels(settings)}
    world, economy = channels["world"], channels["economy"]
    assert mails_per_week(store, world, Subscription("world", "weekly"), MONDAY) == PerWeek(1)
    daily = Subscription("economy", "daily", ("Economy",))
    assert mails_per_week(store, economy, daily, MONDAY) == PerWeek(7, at_most=True)
    # on_new: as many as the channel's editions of the last seven days.
    for days in (1, 2, 3, 9):
        slot = MONDAY - timedelta(days=days)
        save_edition(store, NewEdition("economy", slot, (), (), "s", "", "h", "t", slot))
    own = mails_per_week(store, economy, Subscription("economy", "edition"), MONDAY)
    assert own == PerWeek(3, measured=True)
    assert own.describe() == "about 3 emails a week (as many as last week)"
    # A weekly channel offers nothing slower than weekly.
    assert less_often(store, world, Subscription("world", "weekly"), MONDAY) == []


def test_every_edition_of_a_weekly_channel_is_already_weekly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    settings = make_instance(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    store = open_store(settings.store_url)
    world = {c.name: c for c in load_channels(settings)}["world"]
    assert less_often(store, world, Subscription("world", "edition"), MONDAY) == []
