"""The subscriber pages over HTTP (SQLite and PostgreSQL): subscribe, confirm,
preferences. Bad tokens and bad forms are refused and change nothing in the store; the
answer to a sign-up is the same whatever the address, a limit reached included."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from syndicate.config import Settings
from syndicate.delivery.compose import signing_key
from syndicate.delivery.tokens import TokenSigner
from syndicate.models import Subscription
from syndicate.store import Store, open_store
from syndicate.store.guards import Guards
from syndicate.store.subscribers import SubscriberStore
from syndicate.subscribers import Signups
from syndicate.web import create_app
from syndicate.web.csrf import FormGuard
from syndicate.web.services import Services
from tests.deliveryhelpers import SLOT
from tests.subscribehelpers import SECRET, confirm_paths, form_token, make_instance, outbox


@dataclass
class Site:
    settings: Settings
    client: TestClient
    store: Store
    tokens: TokenSigner

    def subscribe(self, channel: str, **values: str | list[str]) -> str:
        """POST the channel's form with a fresh form token; the response text."""
        return self.post_form(f"/subscribe/{channel}", values)

    def post_form(self, path: str, values: dict[str, str | list[str]], status: int = 200) -> str:
        token = form_token(self.client.get(path).text)
        response = self.client.post(path, data={"csrf_token": token, **values})
        assert response.status_code == status, response.text
        return response.text

    def people(self) -> SubscriberStore:
        return SubscriberStore(self.store)


@pytest.fixture
def site(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    settings = make_instance(tmp_path / "instance", store_url)
    store = open_store(settings.store_url)
    with TestClient(create_app(settings)) as client:
        yield Site(settings, client, store, TokenSigner(SECRET))
    store.close()


def test_the_form_offers_the_channels_choices(site: Site) -> None:
    index = site.client.get("/subscribe")
    assert index.status_code == 200
    assert 'href="/subscribe/economy"' in index.text and 'href="/subscribe/world"' in index.text
    assert "/subscribe/quiet" not in index.text  # no digest, nothing to subscribe to
    page = site.client.get("/subscribe/economy")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "script-src" not in page.headers["content-security-policy"]
    assert "set-cookie" not in page.headers
    for needle in (
        '<form method="post" action="/subscribe/economy">',
        'type="email" id="email" name="email" required',
        '<label for="email">Email address</label>',
        'name="cadence" value="edition" checked',
        'name="cadence" value="daily"',
        'name="cadence" value="weekly"',
        'name="sections" value="Economy"',
        'name="sections" value="Business"',
    ):
        assert needle in page.text, needle
    world = site.client.get("/subscribe/world").text
    assert 'name="cadence"' not in world and 'name="sections"' not in world  # one choice each
    assert site.client.get("/subscribe/quiet").status_code == 404
    assert site.client.get("/subscribe/nope").status_code == 404
    assert site.client.post("/subscribe/nope", data={"email": "a@example.com"}).status_code == 404


def test_subscribe_mails_a_link_and_only_the_click_subscribes(site: Site) -> None:
    text = site.subscribe(
        "economy", email="Ana@Example.com", name="Ana", cadence="daily", sections=["Business"]
    )
    assert "Check your inbox" in text
    ana = site.people().get("ana@example.com")
    assert ana is not None and ana.status == "pending" and ana.subscriptions == ()
    (mail,) = outbox(site.settings)
    assert mail["To"] == "ana@example.com"
    assert mail["Subject"] == "Confirm your subscription to The Review — Economy"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert "List-Unsubscribe" not in mail  # not on any list yet
    assert "Ana" not in mail.as_string().replace("ana@example.com", "")  # SE-6: no typed text
    (path,) = confirm_paths(mail)

    # GET (what a mail scanner does) shows a button and changes nothing.
    page = site.client.get(path)
    assert page.status_code == 200
    assert f'<form method="post" action="{path}">' in page.text
    assert "A daily round-up" in page.text and "Sections: Business" in page.text
    ana = site.people().get("ana@example.com")
    assert ana is not None and ana.status == "pending" and ana.subscriptions == ()

    done = site.client.post(path, data={"csrf_token": form_token(page.text)})
    assert done.status_code == 200 and "You are subscribed to The Review — Economy" in done.text
    ana = site.people().get("ana@example.com")
    assert ana is not None and ana.status == "active"
    assert ana.subscriptions == (Subscription("economy", "daily", ("Business",)),)
    assert "/p/" in done.text  # a way to the preferences
    again = site.client.post(path, data={"csrf_token": form_token(page.text)})
    assert again.status_code == 200 and "already subscribed" in again.text
    assert len(outbox(site.settings)) == 1  # confirming sends nothing more


def test_the_answer_is_the_same_for_known_and_unknown_addresses(site: Site) -> None:
    site.people().upsert(
        "known@example.com",
        name="Known",
        status="active",
        timezone="UTC",
        subs=[Subscription("world", "weekly")],
        now=SLOT,
    )
    site.people().suppress("bounced@example.com", "bounced", source="smtp", detail="", now=SLOT)
    answers = {}
    for address in ("new@example.com", "known@example.com", "bounced@example.com"):
        token = form_token(site.client.get("/subscribe/world").text)
        response = site.client.post(
            "/subscribe/world", data={"csrf_token": token, "email": address}
        )
        assert response.status_code == 200
        answers[address] = (
            response.text.replace(address, "ADDRESS"),
            tuple(sorted(response.headers)),
        )
    assert len(set(answers.values())) == 1
    # Only the new address was mailed: the known one already has the channel.
    assert [m["To"] for m in outbox(site.settings)] == ["new@example.com"]
    known = site.people().get("known@example.com")
    assert known is not None and known.name == "Known" and known.status == "active"


def test_every_state_gets_the_same_answer_before_any_work_is_done(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/subscribers.md: the time taken must not tell the address's state, so the
    store work and the mail both happen after the answer (a background task)."""
    people = site.people()
    # Addresses of one length, so even Content-Length cannot differ.
    people.upsert(
        "actv@example.com",
        name="A",
        status="active",
        timezone="UTC",
        subs=[Subscription("world", "weekly")],
        now=SLOT,
    )
    people.upsert(
        "unsb@example.com",
        name="U",
        status="active",
        timezone="UTC",
        subs=[Subscription("world", "weekly")],
        now=SLOT,
    )
    unsub = people.get("unsb@example.com")
    assert unsub is not None
    people.unsubscribe(unsub.id, "world", source="web", now=SLOT)
    people.suppress("supp@example.com", "complained", source="smtp", detail="", now=SLOT)
    site.subscribe("world", email="pend@example.com")  # pending: asked once already
    events: list[str] = []
    real_request, real_send = Signups.request, Services.send

    def request(self: Signups, *args: Any, **kwargs: Any) -> Any:
        events.append("recorded")
        return real_request(self, *args, **kwargs)

    def send(self: Services, message: Any) -> None:
        events.append("mailed")
        real_send(self, message)

    monkeypatch.setattr(Signups, "request", request)
    monkeypatch.setattr(Services, "send", send)
    app = create_app(site.settings)

    async def noting_the_answer(scope: Any, receive: Any, send: Any) -> None:
        async def sending(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                events.append("answered")

        await app(scope, receive, sending)

    answers = {}
    with TestClient(noting_the_answer) as client:
        for address in (
            "new0@example.com",
            "pend@example.com",
            "actv@example.com",
            "unsb@example.com",
            "supp@example.com",
        ):
            token = form_token(client.get("/subscribe/world").text)
            events.clear()
            response = client.post("/subscribe/world", data={"csrf_token": token, "email": address})
            assert events[0] == "answered", (address, events)
            assert "recorded" in events, (address, events)
            answers[address] = (
                response.status_code,
                response.text.replace(address, "ADDRESS"),
                sorted((k, v) for k, v in response.headers.items() if k != "date"),
            )
    assert len(set(map(repr, answers.values()))) == 1, answers
    mailed = [m["To"] for m in outbox(site.settings)]
    # pend@ asked twice in a day: one confirmation only (docs/deliverability.md).
    assert mailed == ["pend@example.com", "new0@example.com", "unsb@example.com"]


def test_an_active_subscriber_adding_a_channel_confirms_by_mail(site: Site) -> None:
    site.people().upsert(
        "known@example.com",
        name="Known",
        status="active",
        timezone="UTC",
        subs=[Subscription("world", "weekly")],
        now=SLOT,
    )
    site.subscribe("economy", email="known@example.com", name="Someone Else")
    known = site.people().get("known@example.com")
    assert known is not None and [s.channel for s in known.subscriptions] == ["world"]
    assert known.name == "Known"
    (mail,) = outbox(site.settings)
    (path,) = confirm_paths(mail)
    page = site.client.get(path)
    site.client.post(path, data={"csrf_token": form_token(page.text)})
    known = site.people().get("known@example.com")
    assert known is not None and [s.channel for s in known.subscriptions] == ["economy", "world"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": ""}, "email"),
        ({"email": "a@example.com", "cadence": "hourly"}, "cadence"),
        ({"email": "a@example.com", "sections": ["Economy", "Sport"]}, "sections"),
        ({"email": "a@example.com", "name": "x" * 201}, "name"),
        ({"email": "a@example.com", "name": "Bad\x07Name"}, "name"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_stored(
    site: Site, values: dict[str, str | list[str]], field: str
) -> None:
    text = site.post_form("/subscribe/economy", values, status=400)
    assert "Please correct the form" in text and f"<li>{field}:" in text
    assert site.people().counts() == {}
    assert outbox(site.settings) == []


def test_forms_without_a_valid_token_are_refused(site: Site) -> None:
    path = "/subscribe/world"
    data = {"email": "a@example.com"}
    guard = FormGuard(
        signing_key(site.settings), max_age=7200, site_origin="https://review.example"
    )
    expired = FormGuard(
        signing_key(site.settings),
        max_age=7200,
        site_origin="https://review.example",
        clock=lambda: time.time() - 7300,
    ).token(path)
    other_key = FormGuard("another-key-0123456789", max_age=7200, site_origin="x").token(path)
    good = guard.token(path)
    cases = [
        {},
        {"csrf_token": ""},
        {"csrf_token": "garbage"},
        {"csrf_token": good[:-2] + ("AA" if not good.endswith("AA") else "BB")},  # tampered
        {"csrf_token": other_key},  # signed with another key
        {"csrf_token": guard.token("/subscribe/economy")},  # another form's
        {"csrf_token": expired},
    ]
    for extra in cases:
        response = site.client.post(path, data={**data, **extra})
        assert response.status_code == 403, extra
        assert "Please try again" in response.text
    for headers in (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        response = site.client.post(path, data={**data, "csrf_token": good}, headers=headers)
        assert response.status_code == 403, headers
    assert site.people().counts() == {}
    assert outbox(site.settings) == []
    # The same token from this site is accepted.
    ok = site.client.post(
        path, data={**data, "csrf_token": good}, headers={"Origin": "http://testserver"}
    )
    assert ok.status_code == 200


def test_honeypot_answers_the_same_and_stores_nothing(site: Site) -> None:
    text = site.subscribe("world", email="bot@example.com", website="http://spam.example")
    assert "Check your inbox" in text
    assert site.people().counts() == {} and outbox(site.settings) == []


def test_rate_limits_answer_as_a_success_and_send_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A limit reached looks like any accepted sign-up (issue 16: every refusal looks the
    same to the visitor) — no 429, no Retry-After — and is counted."""
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    monkeypatch.setenv("SYNDICATE_SUBSCRIBE__PER_CLIENT", "3")
    monkeypatch.setenv("SYNDICATE_SUBSCRIBE__PER_EMAIL", "2")
    settings = make_instance(tmp_path / "i", f"sqlite:///{tmp_path / 's.db'}")
    app = create_app(settings)
    # Two visitors at different addresses (uvicorn takes the address from the socket, or
    # from a trusted proxy's X-Forwarded-For; the test client sets it in the scope).
    with (
        TestClient(app, client=("192.0.2.1", 4000)) as a,
        TestClient(app, client=("192.0.2.2", 4000)) as b,
    ):

        def post(client: TestClient, address: str) -> tuple[int, str, str | None]:
            token = form_token(client.get("/subscribe/world").text)
            response = client.post("/subscribe/world", data={"csrf_token": token, "email": address})
            return response.status_code, response.text, response.headers.get("retry-after")

        accepted = post(a, "victim@example.com")
        assert accepted[0] == 200 and accepted[2] is None
        assert post(a, "victim@example.com") == accepted
        # Per address, whoever asks: the third request for one address in a day.
        assert post(b, "victim@example.com") == accepted
        first = post(a, "x1@example.com")
        assert first[0] == 200
        # Per client: a's fourth request within the hour, whatever the address.
        assert post(a, "x2@example.com") == post(b, "x2@example.com")
    # The victim's second request within the day is recorded but mails nothing; a's
    # request for x2 was refused, b's was not.
    assert sorted(m["To"] for m in outbox(settings)) == [
        "victim@example.com",
        "x1@example.com",
        "x2@example.com",
    ]
    store = open_store(settings.store_url)
    assert Guards(store).counters("signup:") == {"address": 1, "client": 1, "repeat": 1}
    store.close()


def test_bad_confirm_tokens_are_refused_and_change_nothing(site: Site) -> None:
    site.subscribe("world", email="ana@example.com")
    ana = site.people().get("ana@example.com")
    assert ana is not None
    sid = ana.id
    real = confirm_paths(outbox(site.settings)[0])[0].removeprefix("/confirm/")
    page = site.client.get(f"/confirm/{real}")
    csrf = form_token(page.text)
    bad = [
        TokenSigner("another-secret-0123456789").make("confirm", sid, "world"),  # forged
        real[:-3] + ("xyz" if not real.endswith("xyz") else "abc"),  # tampered
        site.tokens.make("unsubscribe", sid, "world"),  # wrong purpose
        site.tokens.make("preferences", sid, "world"),  # wrong purpose
        "garbage",
    ]
    for token in bad:
        assert site.client.get(f"/confirm/{token}").status_code == 400, token
        response = site.client.post(f"/confirm/{token}", data={"csrf_token": csrf})
        assert response.status_code == 400, token
    # The real link without its form token: refused too.
    assert site.client.post(f"/confirm/{real}").status_code == 403
    ana = site.people().get("ana@example.com")
    assert ana is not None and ana.status == "pending" and ana.subscriptions == ()
    # A valid token for a channel with nothing waiting is "already used".
    other = site.tokens.make("confirm", sid, "economy")
    assert site.client.get(f"/confirm/{other}").status_code == 410


def test_confirm_tokens_expire(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.subscribe("world", email="ana@example.com")
    path = confirm_paths(outbox(site.settings)[0])[0]
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 8 * 86400)
    assert site.client.get(path).status_code == 400
    monkeypatch.setattr(time, "time", real_time)
    assert site.client.get(path).status_code == 200


def subscribe_and_confirm(site: Site, channel: str, address: str, **values: str) -> int:
    site.subscribe(channel, email=address, **values)
    path = confirm_paths(outbox(site.settings)[-1])[-1]
    page = site.client.get(path)
    site.client.post(path, data={"csrf_token": form_token(page.text)})
    person = site.people().get(address)
    assert person is not None and person.status == "active"
    return person.id


def test_preferences_change_cadence_sections_timezone_and_leave(site: Site) -> None:
    sid = subscribe_and_confirm(site, "economy", "ana@example.com")
    subscribe_and_confirm(site, "world", "ana@example.com")
    path = f"/p/{site.tokens.make('preferences', sid, 'economy')}"
    page = site.client.get(path)
    assert page.status_code == 200
    assert 'name="channels" value="economy" checked' in page.text
    assert 'name="economy.cadence" value="edition" checked' in page.text
    assert "<option selected>UTC</option>" in page.text
    saved = site.post_form(
        path,
        {
            "channels": ["economy"],
            "economy.cadence": "weekly",
            "economy.sections": ["Economy"],
            "timezone": "Europe/Paris",
            "name": "Ana R",
        },
    )
    assert "Your preferences are saved." in saved
    assert "You will no longer receive: The Review — World." in saved
    ana = site.people().get_by_id(sid)
    assert ana is not None and ana.status == "active"
    assert ana.subscriptions == (Subscription("economy", "weekly", ("Economy",)),)
    assert (ana.timezone, ana.name) == ("Europe/Paris", "Ana R")
    assert not site.people().is_suppressed("ana@example.com")


def test_preferences_add_a_channel_only_after_confirming(site: Site) -> None:
    sid = subscribe_and_confirm(site, "world", "ana@example.com")
    sent_before = len(outbox(site.settings))
    path = f"/p/{site.tokens.make('preferences', sid, 'world')}"
    saved = site.post_form(
        path,
        {"channels": ["world", "economy"], "economy.cadence": "daily", "timezone": "UTC"},
    )
    assert "open the confirmation link" in saved
    ana = site.people().get_by_id(sid)
    assert ana is not None and [s.channel for s in ana.subscriptions] == ["world"]
    mails = outbox(site.settings)
    assert len(mails) == sent_before + 1 and mails[-1]["To"] == "ana@example.com"
    (link,) = confirm_paths(mails[-1])
    page = site.client.get(link)
    site.client.post(link, data={"csrf_token": form_token(page.text)})
    ana = site.people().get_by_id(sid)
    assert ana is not None
    assert ana.subscriptions == (
        Subscription("economy", "daily"),
        Subscription("world", "weekly"),
    )


def test_preferences_refuse_bad_tokens_and_bad_forms(site: Site) -> None:
    sid = subscribe_and_confirm(site, "economy", "ana@example.com")
    path = f"/p/{site.tokens.make('preferences', sid, 'economy')}"
    csrf = form_token(site.client.get(path).text)
    for token in (
        TokenSigner("another-secret-0123456789").make("preferences", sid, "economy"),
        site.tokens.make("unsubscribe", sid, "economy"),
        site.tokens.make("confirm", sid, "economy"),
        "garbage",
    ):
        assert site.client.get(f"/p/{token}").status_code == 400
        response = site.client.post(f"/p/{token}", data={"csrf_token": csrf, "channels": []})
        assert response.status_code == 400
    # The real link without its form token, and with bad fields: nothing changes.
    assert site.client.post(path, data={"channels": []}).status_code == 403
    for values in (
        {"channels": ["economy"], "timezone": "Mars/Olympus"},
        {"channels": ["economy"], "economy.cadence": "hourly"},
        {"channels": ["economy"], "economy.sections": ["Sport"]},
        {"channels": ["economy", "nope"]},
    ):
        text = site.post_form(path, values, status=400)  # type: ignore[arg-type]
        assert "Nothing was changed" in text
    ana = site.people().get_by_id(sid)
    assert ana is not None and ana.status == "active" and ana.timezone == "UTC"
    assert ana.subscriptions == (Subscription("economy", "edition"),)
    # A confirm token made for this subscriber does not open the unsubscribe page either.
    assert site.client.get(f"/u/{site.tokens.make('confirm', sid, 'economy')}").status_code == 400
