"""The subscriber pages with the store locked by another process (a real SQLite file held
with ``BEGIN EXCLUSIVE``): every form answers 503 with ``Retry-After``, never 500, and a
one-click unsubscribe (RFC 8058) is kept on disk and lands once the store is back, even
across a restart."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from syndicate.config import Settings
from syndicate.delivery.compose import signing_key
from syndicate.delivery.tokens import TokenSigner
from syndicate.store import Store, open_store
from syndicate.store.subscribers import SubscriberStore
from syndicate.web import create_app, services, unsubscribe
from syndicate.web.csrf import FormGuard
from tests.deliveryhelpers import add_subscribers
from tests.subscribehelpers import SECRET, confirm_paths, form_token, make_instance, outbox

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@dataclass
class Site:
    settings: Settings
    db: Path
    store: Store
    client: TestClient
    tokens: TokenSigner
    guard: FormGuard
    reader: int  # reader00001's id: active, subscribed to "world"

    def status(self) -> tuple[str, list[str]]:
        person = SubscriberStore(self.store).get("reader00001@example.com")
        assert person is not None
        return person.status, [s.channel for s in person.subscriptions]

    def queued(self) -> list[Path]:
        return sorted(self.settings.resolve(unsubscribe.QUEUE_DIR).glob("*.json"))


class Lock:
    """Another process's exclusive lock on the SQLite file, released on demand."""

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(db, isolation_level=None)
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    # Give up on a locked store at once rather than after the default wait.
    monkeypatch.setattr(services, "STORE_WAIT_SECONDS", 0.1, raising=False)
    monkeypatch.setattr(unsubscribe, "RETRY_SECONDS", 0.05, raising=False)
    db = tmp_path / "store.db"
    settings = make_instance(tmp_path / "instance", f"sqlite:///{db}")
    store = open_store(settings.store_url)
    add_subscribers(store, 2)
    reader = SubscriberStore(store).get("reader00001@example.com")
    assert reader is not None
    guard = FormGuard(signing_key(settings), max_age=7200, site_origin="https://review.example")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Site(settings, db, store, client, TokenSigner(SECRET), guard, reader.id)
    store.close()


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting for {what}")
        time.sleep(0.05)


def test_every_form_answers_503_with_retry_after_while_the_store_is_locked(site: Site) -> None:
    # A pending request to confirm, made while the store is fine.
    start = site.client.get("/subscribe/economy")
    site.client.post(
        "/subscribe/economy", data={"csrf_token": form_token(start.text), "email": "a@example.com"}
    )
    (confirm,) = confirm_paths(outbox(site.settings)[0])
    prefs = f"/p/{site.tokens.make('preferences', site.reader, 'world')}"
    unsub = f"/u/{site.tokens.make('unsubscribe', site.reader, 'world')}"
    forms = {
        "/subscribe/world": {"email": "new@example.com"},
        confirm: {},
        prefs: {"channels": "world", "world.cadence": "weekly", "timezone": "UTC"},
        unsub: {},
    }
    lock = Lock(site.db)
    try:
        for path, values in forms.items():
            answer = site.client.post(path, data={"csrf_token": site.guard.token(path), **values})
            assert answer.status_code == 503, (path, answer.status_code, answer.text)
            assert int(answer.headers["retry-after"]) > 0
            assert "try again" in answer.text
            assert answer.headers["cache-control"] == "no-store"
    finally:
        lock.release()
    assert site.status() == ("active", ["world"])
    # Once the store is back, the same forms work.
    for path, values in forms.items():
        answer = site.client.post(path, data={"csrf_token": site.guard.token(path), **values})
        assert answer.status_code == 200, (path, answer.text)
    assert site.status()[0] == "unsubscribed"


def test_a_one_click_unsubscribe_while_locked_lands_when_the_store_is_back(site: Site) -> None:
    path = f"/u/{site.tokens.make('unsubscribe', site.reader, 'world')}"
    lock = Lock(site.db)
    try:
        answer = site.client.post(path, data=ONE_CLICK)
        assert answer.status_code == 202, answer.text  # RFC 8058: a 2xx, no redirect
        assert "location" not in answer.headers
        assert len(site.queued()) == 1  # kept on disk, not in memory
        assert site.status() == ("active", ["world"])  # readers still read under WAL
    finally:
        lock.release()
    wait_for(lambda: site.status() == ("unsubscribed", []), "the queued unsubscribe")
    wait_for(lambda: site.queued() == [], "the queue to empty")
    people = SubscriberStore(site.store)
    assert people.is_suppressed("reader00001@example.com")


def test_a_queued_unsubscribe_survives_a_restart(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unsubscribe, "RETRY_SECONDS", 3600, raising=False)  # no retry here
    path = f"/u/{site.tokens.make('unsubscribe', site.reader, 'world')}"
    lock = Lock(site.db)
    try:
        assert site.client.post(path, data=ONE_CLICK).status_code == 202
    finally:
        lock.release()
    assert len(site.queued()) == 1
    assert site.status() == ("active", ["world"])
    # The process is replaced (a crash, a deploy): the new one applies what was queued.
    with TestClient(create_app(site.settings)):
        wait_for(lambda: site.status() == ("unsubscribed", []), "the queued unsubscribe")
    wait_for(lambda: site.queued() == [], "the queue to empty")
