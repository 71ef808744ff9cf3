"""Each provider's documented payloads normalised into events, and each verification
(signature, shared secret, freshness) accepting what the provider signs and refusing
anything else. No store here: see test_webhooks_store.py and test_web_webhooks.py."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from syndicate.config import SESWebhookSettings, load_settings
from syndicate.errors import ConfigError, WebhookAuthError, WebhookPayloadError
from syndicate.webhooks import mailgun, postmark, sendgrid, ses, sns
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
    sns_notification,
    sns_sign,
)

pytest_plugins = ["tests.httpserver"]

NOW = datetime.now(UTC)
KEY = "mailgun-signing-key-0123456789"


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def kinds(parsed: object) -> list[tuple[str, str]]:
    return [(e.email, e.kind) for e in parsed.events]  # type: ignore[attr-defined]


# --- Postmark --------------------------------------------------------------------------


def test_postmark_hard_bounce() -> None:
    parsed = postmark.parse(fixture_bytes("postmark-bounce.json"), NOW)
    (event,) = parsed.events
    assert (event.provider, event.event_id, event.kind) == (
        "postmark",
        "4323372036854775807",
        "hard-bounce",
    )
    assert event.email == "reader00001@example.com"  # normalised like subscribers
    assert event.provider_message_id == "883953f4-6105-42a2-a16a-77a8eac79483"
    assert event.occurred_at == datetime(2019, 11, 5, 16, 33, 54, 907025, tzinfo=UTC)
    assert event.detail["Type"] == "HardBounce" and "Content" not in event.detail
    assert event.suppresses == "bounced"


@pytest.mark.parametrize(
    ("name", "kind", "suppresses"),
    [
        ("postmark-soft-bounce.json", "soft-bounce", None),
        ("postmark-spam-complaint.json", "complaint", "complained"),
        ("postmark-subscription-change.json", "hard-bounce", "bounced"),
    ],
)
def test_postmark_other_records(name: str, kind: str, suppresses: str | None) -> None:
    (event,) = postmark.parse(fixture_bytes(name), NOW).events
    assert event.kind == kind and event.suppresses == suppresses


def test_postmark_subscription_change_id_is_stable_and_reactivation_ignored() -> None:
    body = fixture_bytes("postmark-subscription-change.json")
    first = postmark.parse(body, NOW).events[0]
    assert postmark.parse(body, NOW + timedelta(hours=1)).events[0].event_id == first.event_id
    later = fixture("postmark-subscription-change.json")
    later["ChangedAt"] = "2020-03-01T10:00:00Z"
    assert postmark.parse(json.dumps(later).encode(), NOW).events[0].event_id != first.event_id
    later["SuppressSending"] = False  # Postmark reactivated the address: never un-suppress
    assert postmark.parse(json.dumps(later).encode(), NOW).ignored == 1


def test_postmark_delivery_is_ignored_and_junk_is_refused() -> None:
    parsed = postmark.parse(fixture_bytes("postmark-delivery.json"), NOW)
    assert parsed.events == () and parsed.ignored == 1
    with pytest.raises(WebhookPayloadError, match="not JSON"):
        postmark.parse(b"<html>", NOW)
    with pytest.raises(WebhookPayloadError, match="RecordType"):
        postmark.parse(b"[]", NOW)
    no_email = fixture("postmark-bounce.json")
    del no_email["Email"]
    with pytest.raises(WebhookPayloadError, match="without Email"):
        postmark.parse(json.dumps(no_email).encode(), NOW)


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_postmark_basic_auth_and_token() -> None:
    postmark.verify(basic("pm", "s3cret"), username="pm", password="s3cret", token=None)
    with pytest.raises(WebhookAuthError, match="wrong basic-auth"):
        postmark.verify(basic("pm", "guess"), username="pm", password="s3cret", token=None)
    with pytest.raises(WebhookAuthError, match="wrong basic-auth"):
        postmark.verify(basic("other", "s3cret"), username="pm", password="s3cret", token=None)
    with pytest.raises(WebhookAuthError, match="no HTTP basic-auth"):
        postmark.verify({}, username="pm", password="s3cret", token=None)
    with pytest.raises(WebhookAuthError, match="no HTTP basic-auth"):
        postmark.verify(
            {"authorization": "Basic %%%"}, username="pm", password="s3cret", token=None
        )
    postmark.verify({"x-webhook-token": "tok"}, username="", password=None, token="tok")
    with pytest.raises(WebhookAuthError, match="X-Webhook-Token"):
        postmark.verify({"x-webhook-token": "to"}, username="", password=None, token="tok")
    # Both configured: both needed.
    with pytest.raises(WebhookAuthError, match="X-Webhook-Token"):
        postmark.verify(basic("pm", "s3cret"), username="pm", password="s3cret", token="tok")


# --- SendGrid --------------------------------------------------------------------------


def test_sendgrid_verifies_its_own_published_test_vector() -> None:
    vector = fixture("sendgrid-vector.json")
    key = sendgrid.load_public_key(vector["public_key"])
    headers = {
        "x-twilio-email-event-webhook-signature": vector["signature"],
        "x-twilio-email-event-webhook-timestamp": vector["timestamp"],
    }
    signed_at = datetime.fromtimestamp(int(vector["timestamp"]), UTC)
    sendgrid.verify(vector["payload"].encode(), headers, key, signed_at, 600)
    with pytest.raises(WebhookAuthError, match="does not verify"):
        sendgrid.verify(vector["payload"].encode() + b" ", headers, key, signed_at, 600)
    with pytest.raises(WebhookAuthError, match="does not verify"):
        later = {**headers, "x-twilio-email-event-webhook-timestamp": "1588788368"}
        sendgrid.verify(vector["payload"].encode(), later, key, signed_at, 600)
    with pytest.raises(WebhookAuthError, match="from now"):  # authentic, but years old
        sendgrid.verify(vector["payload"].encode(), headers, key, NOW, 600)


def test_sendgrid_signature_with_a_generated_key() -> None:
    private = sendgrid_key()
    key = sendgrid.load_public_key(sendgrid_public(private))
    body = fixture_bytes("sendgrid-events.json")
    headers = lower(sendgrid_headers(private, body, NOW))
    sendgrid.verify(body, headers, key, NOW, 600)
    other = sendgrid.load_public_key(sendgrid_public(sendgrid_key()))
    with pytest.raises(WebhookAuthError, match="does not verify"):
        sendgrid.verify(body, headers, other, NOW, 600)
    with pytest.raises(WebhookAuthError, match="Signed Event Webhook"):
        sendgrid.verify(body, {}, key, NOW, 600)
    stale = lower(sendgrid_headers(private, body, NOW - timedelta(hours=2)))
    with pytest.raises(WebhookAuthError, match="max_age_seconds"):
        sendgrid.verify(body, stale, key, NOW, 600)


def test_sendgrid_public_key_forms() -> None:
    private = sendgrid_key()
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert sendgrid.load_public_key(pem).public_numbers() == private.public_key().public_numbers()
    with pytest.raises(ConfigError, match="not a public key"):
        sendgrid.load_public_key("not base64 at all!")
    rsa_der = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigError, match="P-256"):
        sendgrid.load_public_key(base64.b64encode(rsa_der).decode())


def test_sendgrid_events_normalised() -> None:
    parsed = sendgrid.parse(fixture_bytes("sendgrid-events.json"), NOW)
    assert kinds(parsed) == [
        ("reader00001@example.com", "hard-bounce"),
        ("reader00002@example.com", "soft-bounce"),  # type "blocked"
        ("reader00003@example.com", "complaint"),
        ("reader00004@example.com", "unsubscribe"),
        ("reader00005@example.com", "hard-bounce"),  # dropped: "Bounced Address"
        ("reader00006@example.com", "soft-bounce"),  # deferred
    ]
    assert parsed.ignored == 4  # processed, delivered, open, click
    bounce = parsed.events[0]
    assert bounce.event_id == "6g4ZI7SA-xmRDv57GoPIPw=="
    assert bounce.occurred_at == datetime.fromtimestamp(1513299569, UTC)
    assert bounce.detail["reason"] == "500 unknown recipient"
    with pytest.raises(WebhookPayloadError, match="array"):
        sendgrid.parse(b'{"event": "bounce"}', NOW)


# --- Mailgun ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("mailgun-permanent-fail.json", "hard-bounce"),
        ("mailgun-temporary-fail.json", "soft-bounce"),
        ("mailgun-complained.json", "complaint"),
    ],
)
def test_mailgun_events(name: str, kind: str) -> None:
    signed = mailgun.read(mailgun_body(name, KEY, NOW))
    mailgun.verify(signed, KEY, NOW, 600)
    (event,) = mailgun.parse(signed, NOW).events
    assert event.kind == kind
    assert event.event_id == fixture(name)["event-data"]["id"]
    assert event.nonce == signed.token


def test_mailgun_delivered_is_kept_only_for_its_token() -> None:
    signed = mailgun.read(mailgun_body("mailgun-delivered.json", KEY, NOW))
    (event,) = mailgun.parse(signed, NOW).events
    assert (event.kind, event.suppresses, event.nonce) == ("other", None, signed.token)


def test_mailgun_refuses_bad_signatures_and_stale_timestamps() -> None:
    good = mailgun.read(mailgun_body("mailgun-permanent-fail.json", KEY, NOW))
    with pytest.raises(WebhookAuthError, match="does not verify"):
        mailgun.verify(good, "another-key", NOW, 600)
    # The documented sample's own signature was made with a key we do not have.
    with pytest.raises(WebhookAuthError, match="does not verify"):
        mailgun.verify(mailgun.read(fixture_bytes("mailgun-permanent-fail.json")), KEY, NOW, 600)
    stale = mailgun.read(mailgun_body("mailgun-permanent-fail.json", KEY, NOW - timedelta(hours=1)))
    with pytest.raises(WebhookAuthError, match="from now"):
        mailgun.verify(stale, KEY, NOW, 600)
    with pytest.raises(WebhookPayloadError, match="event-data"):
        mailgun.read(b"signature=abc&token=def")
    missing = fixture("mailgun-complained.json")
    missing["signature"].pop("token")
    with pytest.raises(WebhookAuthError, match="token"):
        mailgun.read(json.dumps(missing).encode())


# --- SES through SNS -------------------------------------------------------------------


def test_ses_bounce_names_every_recipient() -> None:
    parsed = ses.parse(json.dumps(fixture("ses-bounce.json")), "sns-1", NOW)
    assert kinds(parsed) == [
        ("reader00001@example.com", "hard-bounce"),
        ("reader00002@example.com", "hard-bounce"),
    ]
    first = parsed.events[0]
    assert first.event_id == (
        "0100017ba56a0c38-6a9a1a5b-8b1e-4a1b-a31c-0f3a6f3e0f5a-000000/reader00001@example.com"
    )
    assert first.provider_message_id == (
        "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000"
    )
    assert first.detail["diagnosticCode"] == "smtp; 550 5.1.1 user unknown"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ses-transient-bounce.json", [("reader00003@example.com", "soft-bounce")]),
        ("ses-complaint.json", [("reader00004@example.com", "complaint")]),
        ("ses-delivery.json", []),
    ],
)
def test_ses_other_notifications(name: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(ses.parse(json.dumps(fixture(name)), "sns-1", NOW)) == expected


def test_ses_refuses_a_message_that_is_not_ses_json() -> None:
    with pytest.raises(WebhookPayloadError, match="not SES JSON"):
        ses.parse("hello", "sns-1", NOW)
    with pytest.raises(WebhookPayloadError, match="without recipients"):
        ses.parse(json.dumps({"notificationType": "Bounce", "bounce": {}}), "sns-1", NOW)


def sns_settings(**changes: object) -> SESWebhookSettings:
    values: dict[str, object] = {
        "topic_arns": (TOPIC,),
        "cert_scheme": "http",
        "cert_host_pattern": r"127\.0\.0\.1",
        **changes,
    }
    return SESWebhookSettings.model_validate(values)


@pytest.mark.parametrize("version", ["1", "2"])
def test_sns_signature_versions(http_server: LocalServer, version: str) -> None:
    key, pem = self_signed(NOW)
    http_server.route("/SimpleNotificationService-test.pem", body=pem)
    url = http_server.url("/SimpleNotificationService-test.pem")
    verifier = sns.SNSVerifier(sns_settings())
    message = sns_notification("ses-bounce.json", key, url, NOW, version)
    verifier.verify(message, NOW)
    tampered = {**message, "Message": message["Message"].replace("00001", "00009")}
    with pytest.raises(WebhookAuthError, match="does not verify"):
        verifier.verify(tampered, NOW)
    # A second message is checked against the cached certificate: one fetch in all.
    verifier.verify(sns_notification("ses-complaint.json", key, url, NOW, version), NOW)
    assert len(http_server.requests_to("/SimpleNotificationService-test.pem")) == 1


def test_sns_refuses_certificates_from_elsewhere(http_server: LocalServer) -> None:
    key, pem = self_signed(NOW)
    http_server.route("/cert.pem", body=pem)
    message = sns_notification("ses-bounce.json", key, http_server.url("/cert.pem"), NOW)
    with pytest.raises(WebhookAuthError, match="not https://"):
        sns.SNSVerifier(sns_settings(cert_scheme="https")).verify(message, NOW)
    with pytest.raises(WebhookAuthError, match="not http://"):
        sns.SNSVerifier(sns_settings(cert_host_pattern=r"sns\.example")).verify(message, NOW)
    assert http_server.requests == []  # never fetched
    # The default policy: https on sns.<region>.amazonaws.com only.
    default = sns.SNSVerifier(SESWebhookSettings(topic_arns=(TOPIC,)))
    default.check_url("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-a.pem", "x")
    for bad in (
        "http://sns.eu-west-1.amazonaws.com/x.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.example/x.pem",
        "https://evil.example/sns.eu-west-1.amazonaws.com/x.pem",
    ):
        with pytest.raises(WebhookAuthError):
            default.check_url(bad, "SigningCertURL")
    # Plain http is for loopback tests only, whatever the pattern says.
    with pytest.raises(WebhookAuthError, match="loopback"):
        sns.SNSVerifier(sns_settings(cert_host_pattern=r".*")).check_url(
            "http://sns.eu-west-1.amazonaws.com/x.pem", "SigningCertURL"
        )


def test_sns_refuses_other_topics_old_messages_and_expired_certificates(
    http_server: LocalServer,
) -> None:
    key, pem = self_signed(NOW)
    http_server.route("/cert.pem", body=pem)
    url = http_server.url("/cert.pem")
    verifier = sns.SNSVerifier(sns_settings())
    other = fixture("sns-notification.json")
    other.update(TopicArn="arn:aws:sns:us-west-2:999999999999:Theirs", SigningCertURL=url)
    other["Timestamp"] = NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    sns_sign(other, key)
    with pytest.raises(WebhookAuthError, match="topic_arns"):
        verifier.verify(other, NOW)
    old = sns_notification("ses-bounce.json", key, url, NOW - timedelta(days=2))
    with pytest.raises(WebhookAuthError, match="max_age_seconds"):
        verifier.verify(old, NOW)
    expired_key, expired_pem = self_signed(NOW - timedelta(days=60), days=10)
    http_server.route("/expired.pem", body=expired_pem)
    message = sns_notification("ses-bounce.json", expired_key, http_server.url("/expired.pem"), NOW)
    with pytest.raises(WebhookAuthError, match="not valid now"):
        verifier.verify(message, NOW)
    with pytest.raises(WebhookPayloadError, match="raw message delivery"):
        sns.read(json.dumps(fixture("ses-bounce.json")).encode())


def test_sns_string_to_sign_leaves_out_an_absent_subject() -> None:
    message = fixture("sns-notification.json")
    del message["Subject"]
    text = sns.string_to_sign(message).decode()
    assert text.startswith("Message\nfilled in by the test\nMessageId\n")
    assert "Subject" not in text and text.endswith("Type\nNotification\n")


def test_webhook_settings_errors_name_the_key(tmp_path: Path) -> None:
    config = tmp_path / "syndicate.toml"
    config.write_text(
        "[webhooks.ses]\ncert_host_pattern = 'sns\\.(unclosed'\n"
        '[webhooks.postmark]\npasword = "typo"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    problems = "\n".join(caught.value.problems)
    assert "key 'webhooks.ses.cert_host_pattern': expected a regular expression" in problems
    assert "key 'webhooks.postmark.pasword': unknown key" in problems
