"""Signing webhook requests the way each provider does, with keys the tests generate.

The signing here is written from the providers' documentation, independently of
``syndicate.webhooks`` (which verifies), so a shared misreading cannot make both agree.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from syndicate.store import Store
from syndicate.store.delivery_schema import subscribers, suppressions
from syndicate.store.webhook_schema import webhook_events

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "webhooks"
TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"


def fixture(name: str) -> Any:
    """A payload from tests/fixtures/webhooks, parsed (a fresh copy each time)."""
    return copy.deepcopy(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


def fixture_bytes(name: str) -> bytes:
    """A payload file's bytes exactly as stored."""
    return (FIXTURES / name).read_bytes()


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row webhooks could touch, in a stable order."""
    with store.engine.connect() as conn:
        return {
            "subscribers": [
                tuple(r)
                for r in conn.execute(
                    select(
                        subscribers.c.email,
                        subscribers.c.status,
                        subscribers.c.updated_at,
                        subscribers.c.unsubscribed_at,
                    ).order_by(subscribers.c.email)
                )
            ],
            "suppressions": [
                tuple(r) for r in conn.execute(select(suppressions).order_by(suppressions.c.email))
            ],
            "events": [
                tuple(r) for r in conn.execute(select(webhook_events).order_by(webhook_events.c.id))
            ],
        }


# --- SendGrid ---------------------------------------------------------------------------


def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def sendgrid_public(key: ec.EllipticCurvePrivateKey) -> str:
    """The verification key as SendGrid's settings page shows it: base64 DER."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def sendgrid_headers(
    key: ec.EllipticCurvePrivateKey, body: bytes, when: datetime
) -> dict[str, str]:
    timestamp = str(int(when.timestamp()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


# --- Mailgun ----------------------------------------------------------------------------


def mailgun_body(name: str, key: str, when: datetime, token: str | None = None) -> bytes:
    """Fixture ``name`` with a signature block made now with ``key``."""
    doc = fixture(name)
    timestamp = str(int(when.timestamp()))
    token = token or hashlib.sha256(f"{name}{timestamp}".encode()).hexdigest()[:50]
    digest = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    doc["signature"] = {"timestamp": timestamp, "token": token, "signature": digest}
    return json.dumps(doc).encode()


# --- SNS --------------------------------------------------------------------------------


def self_signed(now: datetime, *, days: int = 30) -> tuple[rsa.RSAPrivateKey, bytes]:
    """An RSA key and a self-signed certificate (PEM) valid around ``now``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.us-west-2.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


# From "Verifying the signatures of Amazon SNS messages": the fields, in this order.
_NOTIFICATION = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
_CONFIRMATION = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]


def sns_sign(message: dict[str, Any], key: rsa.RSAPrivateKey, version: str = "1") -> None:
    """Set ``SignatureVersion`` and ``Signature`` of ``message`` in place."""
    names = _NOTIFICATION if message["Type"] == "Notification" else _CONFIRMATION
    text = "".join(f"{n}\n{message[n]}\n" for n in names if n in message)
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    message["SignatureVersion"] = version
    signature = key.sign(text.encode(), padding.PKCS1v15(), digest)
    message["Signature"] = base64.b64encode(signature).decode()


def sns_notification(
    ses_fixture: str, key: rsa.RSAPrivateKey, cert_url: str, when: datetime, version: str = "1"
) -> dict[str, Any]:
    """A signed SNS Notification carrying an SES fixture as its Message."""
    message = fixture("sns-notification.json")
    message["Message"] = json.dumps(fixture(ses_fixture))
    message["MessageId"] = hashlib.sha256(ses_fixture.encode()).hexdigest()[:36]
    message["Timestamp"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    message["SigningCertURL"] = cert_url
    sns_sign(message, key, version)
    return message
