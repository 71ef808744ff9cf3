"""Every form route under abuse (SE-7 for forms): a body over the cap is a 413 before
anything is parsed, however its size is announced (honestly, falsely, or not at all,
chunked); a POST another site's page made is refused before its body is read; a bad
form token is refused before any other field is read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from syndicate.delivery.compose import signing_key
from syndicate.delivery.tokens import TokenSigner
from syndicate.store import Store, open_store
from syndicate.store.subscribers import SubscriberStore
from syndicate.web import create_app
from syndicate.web.csrf import FormGuard
from syndicate.web.limits import FORM_MAX_BYTES
from tests.deliveryhelpers import add_subscribers
from tests.subscribehelpers import SECRET, make_instance, outbox

BIG = 64 * 1024


@dataclass
class Site:
    client: TestClient
    store: Store
    paths: dict[str, str]  # route name -> a path with a genuine link token
    guard: FormGuard

    def form_token(self, route: str) -> str:
        """A genuine form token for the route's path (as its page would carry)."""
        return self.guard.token(self.paths[route])

    def snapshot(self) -> object:
        people = SubscriberStore(self.store)
        return people.counts(), people.get("reader00001@example.com")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    settings = make_instance(tmp_path / "i", f"sqlite:///{tmp_path / 's.db'}")
    store = open_store(settings.store_url)
    add_subscribers(store, 2)
    reader = SubscriberStore(store).get("reader00001@example.com")
    assert reader is not None
    tokens = TokenSigner(SECRET)
    paths = {
        "subscribe": "/subscribe/world",
        "confirm": f"/confirm/{tokens.make('confirm', reader.id, 'world')}",
        "preferences": f"/p/{tokens.make('preferences', reader.id, 'world')}",
        "unsubscribe": f"/u/{tokens.make('unsubscribe', reader.id, 'world')}",
    }
    guard = FormGuard(signing_key(settings), max_age=7200, site_origin="https://review.example")
    with TestClient(create_app(settings)) as client:
        yield Site(client, store, paths, guard)
    assert outbox(settings) == []
    store.close()


ROUTES = ["subscribe", "confirm", "preferences", "unsubscribe"]


def big_form(token: str) -> bytes:
    """A well-formed form with a valid token, padded past the cap."""
    body = urlencode({"csrf_token": token, "email": "a@example.com", "pad": "x" * BIG})
    assert len(body) > BIG > FORM_MAX_BYTES
    return body.encode()


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("framing", ["honest", "lying", "chunked"])
def test_a_large_body_is_refused_with_413(site: Site, route: str, framing: str) -> None:
    path = site.paths[route]
    body = big_form(site.form_token(route))
    before = site.snapshot()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if framing == "honest":
        answer = site.client.post(path, content=body, headers=headers)
    elif framing == "lying":  # announces a small body, sends a large one
        answer = site.client.post(path, content=body, headers={**headers, "Content-Length": "40"})
    else:

        def chunks() -> Iterator[bytes]:  # no Content-Length at all
            for start in range(0, len(body), 4096):
                yield body[start : start + 4096]

        answer = site.client.post(path, content=chunks(), headers=headers)
    assert answer.status_code == 413, answer.text
    assert "too large" in answer.text
    assert site.snapshot() == before


def test_a_one_click_unsubscribe_padded_past_the_cap_is_refused(site: Site) -> None:
    body = b"List-Unsubscribe=One-Click&pad=" + b"x" * BIG
    answer = site.client.post(
        site.paths["unsubscribe"],
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413
    person = SubscriberStore(site.store).get("reader00001@example.com")
    assert person is not None and person.status == "active"


@pytest.mark.parametrize("route", ["subscribe", "confirm", "preferences"])
@pytest.mark.parametrize(
    "headers", [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}]
)
def test_a_post_from_another_site_is_refused_before_its_body_is_read(
    site: Site, route: str, headers: dict[str, str]
) -> None:
    path = site.paths[route]
    token = site.form_token(route)
    read = []

    def body() -> Iterator[bytes]:
        read.append(True)
        yield urlencode({"csrf_token": token, "email": "a@example.com"}).encode()

    before = site.snapshot()
    answer = site.client.post(
        path,
        content=body(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    assert answer.status_code == 403 and "another site" in answer.text
    assert read == []  # refused on its headers alone
    assert site.snapshot() == before


@pytest.mark.parametrize("route", ROUTES)
def test_a_bad_form_token_is_refused_before_the_fields_are_read(site: Site, route: str) -> None:
    # Fields that would each be a 400 (or a change) if they were read: the 403 comes first.
    fields = {
        "email": "not an address",
        "name": "\x00" * 300,
        "cadence": "hourly",
        "sections": "Nope",
        "channels": "nope",
        "timezone": "Mars/Olympus",
    }
    before = site.snapshot()
    other_form = site.guard.token("/subscribe/economy")
    for token in ("", "garbage", other_form):
        answer = site.client.post(site.paths[route], data={"csrf_token": token, **fields})
        assert answer.status_code == 403, (route, token, answer.text)
        assert "Please try again" in answer.text
    assert site.snapshot() == before
