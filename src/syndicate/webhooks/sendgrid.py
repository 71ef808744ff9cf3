"""SendGrid's Signed Event Webhook (STANDARDS PV-3).

SendGrid posts a JSON array of events and signs ``timestamp + raw body`` with ECDSA
P-256 / SHA-256; the base64 DER signature is in ``X-Twilio-Email-Event-Webhook-Signature``
and the timestamp in ``X-Twilio-Email-Event-Webhook-Timestamp``. The verification key is
shown in SendGrid's settings as base64 DER (a PEM block is accepted too). A stale
timestamp is refused, so a captured request cannot be replayed later; a replay within
the window repeats event ids (``sg_event_id``) and changes nothing.

Events kept: ``bounce`` (``type`` ``bounce`` is hard; ``blocked`` is soft), ``deferred``
(soft), ``spamreport`` (complaint), ``unsubscribe`` and ``group_unsubscribe``, and
``dropped`` when SendGrid dropped the message because the address is on one of its own
suppression lists (SU-2). Everything else (``processed``, ``delivered``, ``open``,
``click``...) is ignored. An item without an address or id is ignored: the body is
authentic, so the rest of it is still applied.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from syndicate.errors import ConfigError, WebhookAuthError, WebhookPayloadError
from syndicate.webhooks.events import MAX_EVENT_ID, Event, Kind, Parsed, clean_email, parse_time
from syndicate.webhooks.verify import check_fresh

log = logging.getLogger(__name__)

PROVIDER = "sendgrid"
SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"

EVENT_KINDS: Mapping[str, Kind] = {
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
    "deferred": "soft-bounce",
}
DROPPED_KINDS: Mapping[str, Kind] = {
    "Bounced Address": "hard-bounce",
    "Spam Reporting Address": "complaint",
    "Unsubscribed Address": "unsubscribe",
}


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key from SendGrid's base64 DER (or a PEM block); ConfigError
    naming the key if it is not a P-256 public key."""
    try:
        if "-----BEGIN" in text:
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode("".join(text.split())))
    except (ValueError, binascii.Error, TypeError) as err:
        raise ConfigError(f"webhooks.sendgrid.public_key: not a public key ({err})") from err
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ConfigError("webhooks.sendgrid.public_key: expected an ECDSA P-256 public key")
    return key


def verify(
    body: bytes,
    headers: Mapping[str, str],
    key: ec.EllipticCurvePublicKey,
    now: datetime,
    max_age: float,
) -> None:
    """Check the signature over the timestamp header and the raw body, then the
    timestamp's freshness. ``headers`` has lower-case names; WebhookAuthError if not."""
    signature = headers.get(SIGNATURE_HEADER, "")
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    if not signature or not timestamp:
        raise WebhookAuthError(
            "sendgrid: no X-Twilio-Email-Event-Webhook-Signature/-Timestamp headers "
            "(is the Signed Event Webhook on?)",
            provider=PROVIDER,
        )
    try:
        key.verify(
            base64.b64decode(signature, validate=True),
            timestamp.encode() + body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, binascii.Error, ValueError) as err:
        raise WebhookAuthError("sendgrid: signature does not verify", provider=PROVIDER) from err
    check_fresh(PROVIDER, timestamp, now, max_age)


def parse(body: bytes, now: datetime) -> Parsed:
    """The events of one verified body; WebhookPayloadError if it is not a JSON array."""
    try:
        items = json.loads(body)
    except ValueError as err:
        raise WebhookPayloadError(f"sendgrid: body is not JSON: {err}", provider=PROVIDER) from err
    if not isinstance(items, list):
        raise WebhookPayloadError("sendgrid: expected a JSON array of events", provider=PROVIDER)
    events: list[Event] = []
    ignored = 0
    for index, item in enumerate(items):
        event = _event(item, now) if isinstance(item, dict) else None
        if event is None:
            ignored += 1
            continue
        events.append(event)
        log.debug("sendgrid: item %d is %s for %s", index, event.kind, event.email)
    return Parsed(tuple(events), ignored)


def _kind(item: Mapping[str, Any]) -> Kind | None:
    name = item.get("event")
    if name == "bounce":
        return "soft-bounce" if item.get("type") == "blocked" else "hard-bounce"
    if name == "dropped":
        return DROPPED_KINDS.get(str(item.get("reason", "")))
    return EVENT_KINDS.get(str(name))


def _event(item: Mapping[str, Any], now: datetime) -> Event | None:
    kind = _kind(item)
    email = clean_email(item.get("email"))
    sg_event_id = item.get("sg_event_id")
    if kind is None or email is None:
        return None
    if not isinstance(sg_event_id, str) or not sg_event_id or len(sg_event_id) > MAX_EVENT_ID:
        log.warning("sendgrid: %s event for %s has no usable sg_event_id; ignored", kind, email)
        return None
    message_id = item.get("sg_message_id")
    detail_keys = ("event", "type", "reason", "status", "bounce_classification", "asm_group_id")
    return Event(
        PROVIDER,
        sg_event_id,
        kind,
        email,
        str(message_id) if message_id else None,
        parse_time(item.get("timestamp"), default=now),
        {k: item[k] for k in detail_keys if k in item},
    )
