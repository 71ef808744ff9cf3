"""``POST /webhooks/<provider>`` through the app, on SQLite and PostgreSQL: each
provider's documented payload, signed the way the provider signs it, suppresses the
address; a bad signature or credential is refused and changes nothing; the same
request again changes nothing; SNS subscription confirmation is followed."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from syndicate.config import Settings, load_settings
from syndicate.store import Store, open_store
from syndicate.store.subscribers import SubscriberStore
from syndicate.web import create_app
from tests.deliveryhelpers import add_subscribers
from tests.httpserver import LocalServer
from tests.webhookhelpers import (
    TOPIC,
    fixture,
    fixture_bytes,
    mailgun_body,
    self_signed,
    sendgrid_headers,
    sendgrid_key,
    sendgrid_public,
    snapshot,
    sns_notification,
    sns_sign,
)

pytest_plugins = ["tests.httpserver"]

MAILGUN_KEY = "key-0123456789abcdef0123456789abcdef"
SENDGRID = sendgrid_key()


class App:
    """The app on an instance whose store has ten subscribers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: Store = open_store(settings.store_url)
        add_subscribers(self.store, 10)
        self.client = TestClient(create_app(settings))

    def post(self, provider: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(f"/webhooks/{provider}", content=body, headers=headers or {})

    def status(self, n: int) -> str:
        sub = SubscriberStore(self.store).get(f"reader{n:05d}@example.com")
        assert sub is not None
        return sub.status


def write_config(folder: Path, store_url: str, extra: str = "") -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "syndicate.toml").write_text(
        f'[store]\nurl = "{store_url}"\n{extra}', encoding="utf-8"
    )
    return load_settings(folder / "syndicate.toml")


@pytest.fixture
def app(
    tmp_path: Path, store_url: str, http_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "pm-password").write_text("pm-s3cret\n", encoding="utf-8")
    monkeypatch.setenv("SYNDICATE_WEBHOOKS__MAILGUN__SIGNING_KEY", MAILGUN_KEY)
    config = f"""
[webhooks.postmark]
username = "postmark"
password_file = "pm-password"

[webhooks.sendgrid]
public_key = "{sendgrid_public(SENDGRID)}"

[webhooks.ses]
topic_arns = ["{TOPIC}"]
cert_scheme = "http"
cert_host_pattern = '127\\.0\\.0\\.1'
"""
    running = App(write_config(tmp_path / "instance", store_url, config))
    yield running
    running.client.close()
    running.store.close()


def postmark_auth(user: str = "postmark", password: str = "pm-s3cret") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# --- Postmark --------------------------------------------------------------------------


def test_postmark(app: App) -> None:
    body = fixture_bytes("postmark-bounce.json")
    before = snapshot(app.store)
    for headers in ({}, postmark_auth(password="guess"), postmark_auth(user="someone")):
        refused = app.post("postmark", body, headers)
        assert refused.status_code == 403, refused.text
        assert snapshot(app.store) == before
    done = app.post("postmark", body, postmark_auth())
    assert done.status_code == 200
    assert done.json() == {"provider": "postmark", "ignored": 0, "suppressed": 1}
    assert app.status(1) == "bounced"
    after = snapshot(app.store)
    again = app.post("postmark", body, postmark_auth())
    assert again.status_code == 200 and again.json()["duplicate"] == 1
    assert snapshot(app.store) == after
    complaint = app.post("postmark", fixture_bytes("postmark-spam-complaint.json"), postmark_auth())
    assert complaint.json()["suppressed"] == 1 and app.status(3) == "complained"
    soft = app.post("postmark", fixture_bytes("postmark-soft-bounce.json"), postmark_auth())
    assert soft.json()["recorded"] == 1 and app.status(2) == "active"
    delivery = app.post("postmark", fixture_bytes("postmark-delivery.json"), postmark_auth())
    assert delivery.json() == {"provider": "postmark", "ignored": 1}
    junk = app.post("postmark", b"not json", postmark_auth())
    assert junk.status_code == 400 and "not JSON" in junk.json()["error"]


# --- SendGrid --------------------------------------------------------------------------


def test_sendgrid(app: App) -> None:
    body = fixture_bytes("sendgrid-events.json")
    now = datetime.now(UTC)
    before = snapshot(app.store)
    forged = app.post("sendgrid", body, sendgrid_headers(sendgrid_key(), body, now))
    assert forged.status_code == 403 and "does not verify" in forged.json()["error"]
    altered = app.post(
        "sendgrid", body.replace(b"00001", b"00009"), sendgrid_headers(SENDGRID, body, now)
    )
    assert altered.status_code == 403
    assert app.post("sendgrid", body).status_code == 403  # unsigned
    assert snapshot(app.store) == before
    headers = sendgrid_headers(SENDGRID, body, now)
    done = app.post("sendgrid", body, headers)
    assert done.status_code == 200
    assert done.json() == {"provider": "sendgrid", "ignored": 4, "suppressed": 4, "recorded": 2}
    assert [app.status(n) for n in range(7)] == [
        "active",
        "bounced",
        "active",  # blocked: a soft bounce
        "complained",
        "unsubscribed",
        "bounced",  # dropped as a bounced address
        "active",  # deferred
    ]
    after = snapshot(app.store)
    # SendGrid delivering the same batch again (here: the very same signed request).
    again = app.post("sendgrid", body, headers)
    assert again.status_code == 200 and again.json()["duplicate"] == 6
    assert snapshot(app.store) == after


# --- Mailgun ---------------------------------------------------------------------------


def test_mailgun(app: App) -> None:
    now = datetime.now(UTC)
    before = snapshot(app.store)
    wrong_key = mailgun_body("mailgun-permanent-fail.json", "not-the-key", now)
    assert app.post("mailgun", wrong_key).status_code == 403
    documented = app.post("mailgun", fixture_bytes("mailgun-permanent-fail.json"))
    assert documented.status_code == 403  # signed in 2018 with another key
    assert snapshot(app.store) == before
    body = mailgun_body("mailgun-permanent-fail.json", MAILGUN_KEY, now)
    done = app.post("mailgun", body)
    assert done.status_code == 200 and done.json()["suppressed"] == 1
    assert app.status(1) == "bounced"
    after = snapshot(app.store)
    again = app.post("mailgun", body)
    assert again.status_code == 200 and again.json()["duplicate"] == 1
    # The signature does not cover event-data: a captured signature block with another
    # event in it is refused because its token was used.
    forged = json.loads(body)
    forged["event-data"] = fixture("mailgun-complained.json")["event-data"]
    replay = app.post("mailgun", json.dumps(forged).encode())
    assert replay.status_code == 403 and "already used" in replay.json()["error"]
    assert snapshot(app.store) == after
    assert app.status(3) == "active"
    temporary = app.post("mailgun", mailgun_body("mailgun-temporary-fail.json", MAILGUN_KEY, now))
    assert temporary.json()["recorded"] == 1 and app.status(2) == "active"


def test_mailgun_token_of_an_uninteresting_event_cannot_carry_a_bounce(app: App) -> None:
    delivered = mailgun_body("mailgun-delivered.json", MAILGUN_KEY, datetime.now(UTC))
    assert app.post("mailgun", delivered).json()["recorded"] == 1
    before = snapshot(app.store)
    forged = json.loads(delivered)
    forged["event-data"] = fixture("mailgun-permanent-fail.json")["event-data"]
    answer = app.post("mailgun", json.dumps(forged).encode())
    assert answer.status_code == 403
    assert snapshot(app.store) == before and app.status(1) == "active"


# --- SES through SNS -------------------------------------------------------------------


def test_ses_subscription_confirmation(app: App, http_server: LocalServer) -> None:
    key, pem = self_signed(datetime.now(UTC))
    http_server.route("/SimpleNotificationService-1.pem", body=pem)
    http_server.route(
        "/?Action=ConfirmSubscription&Token=2336", body=b"<ConfirmSubscriptionResponse/>"
    )
    message = fixture("sns-subscription-confirmation.json")
    message.update(
        SigningCertURL=http_server.url("/SimpleNotificationService-1.pem"),
        SubscribeURL=http_server.url("/?Action=ConfirmSubscription&Token=2336"),
        Timestamp=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    )
    sns_sign(message, key)
    forged = {**message, "SubscribeURL": http_server.url("/?Action=ConfirmSubscription&Token=x")}
    assert app.post("ses", json.dumps(forged).encode()).status_code == 403
    assert http_server.requests_to("/?Action=ConfirmSubscription&Token=x") == []
    done = app.post("ses", json.dumps(message).encode())
    assert done.status_code == 200 and "confirmed" in done.json()["note"]
    assert len(http_server.requests_to("/?Action=ConfirmSubscription&Token=2336")) == 1


def test_ses_notifications(app: App, http_server: LocalServer) -> None:
    now = datetime.now(UTC)
    key, pem = self_signed(now)
    http_server.route("/SimpleNotificationService-1.pem", body=pem)
    url = http_server.url("/SimpleNotificationService-1.pem")
    before = snapshot(app.store)
    other_key, _ = self_signed(now)
    forged = sns_notification("ses-bounce.json", other_key, url, now)
    assert app.post("ses", json.dumps(forged).encode()).status_code == 403
    assert snapshot(app.store) == before
    bounce = json.dumps(sns_notification("ses-bounce.json", key, url, now, "2")).encode()
    done = app.post("ses", bounce)
    assert done.status_code == 200 and done.json()["suppressed"] == 2
    assert (app.status(1), app.status(2)) == ("bounced", "bounced")
    after = snapshot(app.store)
    assert app.post("ses", bounce).json()["duplicate"] == 2
    assert snapshot(app.store) == after
    complaint = sns_notification("ses-complaint.json", key, url, now)
    assert app.post("ses", json.dumps(complaint).encode()).json()["suppressed"] == 1
    assert app.status(4) == "complained"
    soft = sns_notification("ses-transient-bounce.json", key, url, now)
    assert app.post("ses", json.dumps(soft).encode()).json()["recorded"] == 1
    assert app.status(3) == "active"
    assert len(http_server.requests_to("/SimpleNotificationService-1.pem")) == 1  # cached


# --- configuration and limits ----------------------------------------------------------


def test_unconfigured_providers_accept_nothing(tmp_path: Path, store_url: str) -> None:
    bare = App(write_config(tmp_path / "bare", store_url))
    before = snapshot(bare.store)
    for provider, name in [
        ("postmark", "postmark-bounce.json"),
        ("sendgrid", "sendgrid-events.json"),
        ("mailgun", "mailgun-permanent-fail.json"),
        ("ses", "sns-notification.json"),
        ("sparkpost", "postmark-bounce.json"),
    ]:
        answer = bare.post(provider, fixture_bytes(name))
        assert answer.status_code == 404, provider
    assert "[webhooks.sendgrid]" in bare.post("sendgrid", b"[]").json()["error"]
    assert snapshot(bare.store) == before
    assert bare.client.get("/webhooks/postmark").status_code == 405
    bare.client.close()
    bare.store.close()


def test_a_body_over_the_limit_is_refused(tmp_path: Path, store_url: str) -> None:
    small = App(
        write_config(
            tmp_path / "small",
            store_url,
            '[webhooks]\nmax_body_bytes = 100\n[webhooks.postmark]\ntoken = "t0ken"\n',
        )
    )
    body = fixture_bytes("postmark-bounce.json")
    answer = small.post("postmark", body, {"X-Webhook-Token": "t0ken"})
    assert answer.status_code == 413 and "max_body_bytes" in answer.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap holds while reading
        yield body[:60]
        yield body[60:]

    streamed = small.client.post(
        "/webhooks/postmark", content=chunks(), headers={"X-Webhook-Token": "t0ken"}
    )
    assert streamed.status_code == 413
    assert SubscriberStore(small.store).is_suppressed("reader00001@example.com") is False
    small.client.close()
    small.store.close()


def test_an_unreachable_store_answers_503_so_the_provider_retries(tmp_path: Path) -> None:
    settings = write_config(
        tmp_path / "down",
        "postgresql+psycopg://nobody@127.0.0.1:1/none",  # nothing listens on port 1
        '[webhooks.postmark]\ntoken = "t0ken"\n',
    )
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/webhooks/postmark",
            content=fixture_bytes("postmark-bounce.json"),
            headers={"X-Webhook-Token": "t0ken"},
        )
    assert answer.status_code == 503 and "deliver again later" in answer.json()["error"]


# --- hostile bodies --------------------------------------------------------------------

BOMB = b"[" * 100_000 + b"]" * 100_000
NESTED_OBJECTS = b'{"a":' * 50_000 + b"1" + b"}" * 50_000


def signed_like(app: App, provider: str, body: bytes) -> dict[str, str]:
    """The headers that authenticate ``body`` where the provider signs outside it."""
    if provider == "postmark":
        return postmark_auth()
    if provider == "sendgrid":
        return sendgrid_headers(SENDGRID, body, datetime.now(UTC))
    return {"Content-Type": "application/json"}  # Mailgun and SNS sign inside the body


@pytest.mark.parametrize("provider", ["postmark", "sendgrid", "mailgun", "ses"])
@pytest.mark.parametrize("body", [BOMB, NESTED_OBJECTS], ids=["arrays", "objects"])
def test_deeply_nested_json_is_a_400(app: App, provider: str, body: bytes) -> None:
    before = snapshot(app.store)
    answer = app.post(provider, body, signed_like(app, provider, body))
    assert answer.status_code == 400, answer.text
    assert "nested" in answer.json()["error"]
    assert snapshot(app.store) == before


MALFORMED = [
    b"",
    b"null",
    b"[]",
    b"{}",
    b'"text"',
    b"1e999999",
    b"\xff\xfe{}",
    b'{"a":',
    b"[" * 500 + b"]" * 499,
    b'{"RecordType": ["Bounce"], "Email": {"a": 1}}',
    b'[{"event": ["bounce"], "email": 7, "timestamp": "x"}]',
    b'{"signature": [], "event-data": 3}',
    b'{"Type": "Notification", "Signature": 5}',
]


@pytest.mark.parametrize("provider", ["postmark", "sendgrid", "mailgun", "ses"])
def test_malformed_json_is_never_a_server_error(app: App, provider: str) -> None:
    before = snapshot(app.store)
    for body in MALFORMED:
        answer = app.post(provider, body, signed_like(app, provider, body))
        assert answer.status_code in (200, 400, 403), (body[:40], answer.text)
    assert snapshot(app.store) == before


def test_an_ses_notification_whose_signed_message_is_a_bomb_is_a_400(
    app: App, http_server: LocalServer
) -> None:
    now = datetime.now(UTC)
    key, pem = self_signed(now)
    http_server.route("/SimpleNotificationService-1.pem", body=pem)
    url = http_server.url("/SimpleNotificationService-1.pem")
    message = sns_notification("ses-bounce.json", key, url, now)
    message["Message"] = BOMB.decode()
    sns_sign(message, key)
    before = snapshot(app.store)
    answer = app.post("ses", json.dumps(message).encode())
    assert answer.status_code == 400, answer.text
    assert snapshot(app.store) == before
