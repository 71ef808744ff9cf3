"""Mailgun webhooks (STANDARDS PV-4).

The body is JSON: ``signature`` {``timestamp``, ``token``, ``signature``} and
``event-data``. The signature is the hex HMAC-SHA256 of ``timestamp + token`` under the
webhook signing key — it does not cover ``event-data``. So beside the constant-time
check, a stale timestamp is refused and each token may be used once: the token travels
with the event into the store, where it is unique, so a token seen before with another
event is refused (:mod:`syndicate.webhooks.apply`), while Mailgun retrying the same
event is a harmless duplicate.

Events: ``failed`` with ``severity`` ``permanent`` (hard bounce) or ``temporary``
(soft bounce), ``complained`` and ``unsubscribed``; any other event is recorded as
``other`` (it changes nothing, but its token is now used). The event id is
``event-data.id``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syndicate.errors import WebhookAuthError, WebhookPayloadError
from syndicate.webhooks.events import Event, Kind, Parsed, check_event_id, clean_email, parse_time
from syndicate.webhooks.verify import check_fresh

PROVIDER = "mailgun"
MAX_TOKEN = 128

EVENT_KINDS: Mapping[str, Kind] = {"complained": "complaint", "unsubscribed": "unsubscribe"}
SEVERITY_KINDS: Mapping[str, Kind] = {"permanent": "hard-bounce", "temporary": "soft-bounce"}


@dataclass(frozen=True, slots=True)
class Signed:
    """A Mailgun body split into its signature block and its event."""

    timestamp: str
    token: str
    signature: str
    event_data: Mapping[str, Any]


def read(body: bytes) -> Signed:
    """Split the body; WebhookPayloadError if it is not Mailgun's JSON shape."""
    try:
        doc = json.loads(body)
    except ValueError as err:
        raise WebhookPayloadError(
            f"mailgun: body is not JSON ({err}); legacy form-encoded webhooks are not "
            "supported, use the JSON ones with 'event-data'",
            provider=PROVIDER,
        ) from err
    sig = doc.get("signature") if isinstance(doc, dict) else None
    data = doc.get("event-data") if isinstance(doc, dict) else None
    if not isinstance(sig, dict) or not isinstance(data, dict):
        raise WebhookPayloadError(
            "mailgun: expected a JSON object with 'signature' and 'event-data' "
            "(is the webhook using the legacy form-encoded format?)",
            provider=PROVIDER,
        )
    fields = [sig.get(k) for k in ("timestamp", "token", "signature")]
    if not all(isinstance(f, str | int) and str(f) for f in fields):
        raise WebhookAuthError(
            "mailgun: signature needs timestamp, token and signature", provider=PROVIDER
        )
    timestamp, token, signature = (str(f) for f in fields)
    return Signed(timestamp, token, signature, data)


def verify(signed: Signed, signing_key: str, now: datetime, max_age: float) -> None:
    """Check the HMAC in constant time, then the timestamp; WebhookAuthError if not."""
    expected = hmac.new(
        signing_key.encode(), (signed.timestamp + signed.token).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), signed.signature.lower().encode()):
        raise WebhookAuthError("mailgun: signature does not verify", provider=PROVIDER)
    if len(signed.token) > MAX_TOKEN:
        raise WebhookAuthError("mailgun: token longer than expected", provider=PROVIDER)
    check_fresh(PROVIDER, signed.timestamp, now, max_age)


def parse(signed: Signed, now: datetime) -> Parsed:
    """The event of a verified body (kind ``other`` for events of no interest)."""
    data = signed.event_data
    name = str(data.get("event", ""))
    kind = SEVERITY_KINDS.get(str(data.get("severity"))) if name == "failed" else None
    # An event of another kind is still recorded, as ``other``: the signature does not
    # cover event-data, so its token must be remembered or it could carry a bounce.
    kind = kind or EVENT_KINDS.get(name) or "other"
    email = clean_email(data.get("recipient"))
    if email is None and kind != "other":
        raise WebhookPayloadError(f"mailgun: {name} event without recipient", provider=PROVIDER)
    message = data.get("message")
    headers = message.get("headers") if isinstance(message, dict) else None
    message_id = headers.get("message-id") if isinstance(headers, dict) else None
    status = data.get("delivery-status")
    detail: dict[str, Any] = {
        k: data[k] for k in ("event", "severity", "reason", "log-level") if k in data
    }
    if isinstance(status, dict):
        detail.update({k: status[k] for k in ("code", "message", "description") if k in status})
    event = Event(
        PROVIDER,
        check_event_id(PROVIDER, data.get("id")),
        kind,
        email or "",
        str(message_id) if message_id else None,
        parse_time(data.get("timestamp"), default=now),
        detail,
        nonce=signed.token,
    )
    return Parsed((event,))
