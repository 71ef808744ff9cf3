"""Postmark bounce, spam-complaint and subscription-change webhooks (STANDARDS PV-2).

Postmark signs nothing. Its webhook settings take HTTP basic-auth credentials and
custom headers, so we check what we configured there: the basic-auth user and
password, and/or a shared secret in ``X-Webhook-Token``, each compared in constant time.
At least one must be configured, or the endpoint accepts nothing.

One request carries one record (``RecordType``):

* ``Bounce``: ``Type`` says which; ``HardBounce``, ``BadEmailAddress`` and
  ``ManuallyDeactivated`` are hard, ``SpamComplaint`` a complaint, ``Unsubscribe`` an
  unsubscribe; the transient kinds are soft bounces; auto-replies and the like are
  ignored. Its ``ID`` is the event id.
* ``SpamComplaint``: a complaint, with an ``ID``.
* ``SubscriptionChange`` with ``SuppressSending: true``: Postmark suppressed the
  recipient (hard bounce, complaint, or by hand). It has no id of its own, so one is
  derived from message, recipient and time. A reactivation (``false``) is ignored:
  only a fresh opt-in brings an address back.
* ``Delivery``, ``Open``, ``Click`` and anything else: ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from syndicate.errors import WebhookAuthError, WebhookPayloadError
from syndicate.webhooks.events import (
    Event,
    Kind,
    Parsed,
    check_event_id,
    clean_email,
    event_id,
    parse_time,
)
from syndicate.webhooks.verify import same_secret

PROVIDER = "postmark"
TOKEN_HEADER = "x-webhook-token"

BOUNCE_KINDS: Mapping[str, Kind] = {
    "HardBounce": "hard-bounce",
    "BadEmailAddress": "hard-bounce",
    "ManuallyDeactivated": "hard-bounce",
    "SpamComplaint": "complaint",
    "Unsubscribe": "unsubscribe",
    "SoftBounce": "soft-bounce",
    "Transient": "soft-bounce",
    "DnsError": "soft-bounce",
    "Blocked": "soft-bounce",
    "Unknown": "soft-bounce",
    "SMTPApiError": "soft-bounce",
    "DMARCPolicy": "soft-bounce",
}
CHANGE_KINDS: Mapping[str, Kind] = {
    "HardBounce": "hard-bounce",
    "SpamComplaint": "complaint",
    "ManualSuppression": "unsubscribe",
}


def verify(
    headers: Mapping[str, str],
    *,
    username: str,
    password: str | None,
    token: str | None,
) -> None:
    """Check the request's credentials against every configured one.

    ``headers`` has lower-case names. Raises WebhookAuthError naming what failed.
    """
    if username or password:
        given = _basic_auth(headers.get("authorization", ""))
        if given is None:
            raise WebhookAuthError("postmark: no HTTP basic-auth credentials", provider=PROVIDER)
        # Both compared, always, so the time taken does not say which one was wrong.
        user_ok = same_secret(given[0], username)
        password_ok = same_secret(given[1], password or "")
        if not (user_ok and password_ok):
            raise WebhookAuthError("postmark: wrong basic-auth credentials", provider=PROVIDER)
    if token and not same_secret(headers.get(TOKEN_HEADER, ""), token):
        raise WebhookAuthError(
            "postmark: missing or wrong X-Webhook-Token header", provider=PROVIDER
        )


def _basic_auth(value: str) -> tuple[str, str] | None:
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        user, sep, password = (
            base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def parse(body: bytes, now: datetime) -> Parsed:
    """The event in one Postmark webhook body; WebhookPayloadError if it is not one."""
    try:
        record = json.loads(body)
    except ValueError as err:
        raise WebhookPayloadError(f"postmark: body is not JSON: {err}", provider=PROVIDER) from err
    if not isinstance(record, dict) or not isinstance(record.get("RecordType"), str):
        raise WebhookPayloadError("postmark: expected a record with RecordType", provider=PROVIDER)
    event = _event(record, now)
    return Parsed((event,)) if event is not None else Parsed(ignored=1)


def _event(record: dict[str, Any], now: datetime) -> Event | None:
    record_type = record["RecordType"]
    if record_type in ("Bounce", "SpamComplaint"):
        kind = (
            "complaint"
            if record_type == "SpamComplaint"
            else BOUNCE_KINDS.get(record.get("Type", ""))
        )
        if kind is None:
            return None
        email = clean_email(record.get("Email"))
        if email is None:
            raise WebhookPayloadError(f"postmark: {record_type} without Email", provider=PROVIDER)
        return Event(
            PROVIDER,
            check_event_id(PROVIDER, record.get("ID")),
            kind,
            email,
            _text(record.get("MessageID")),
            parse_time(record.get("BouncedAt"), default=now),
            _detail(record, "Type", "TypeCode", "Description", "Details", "Inactive", "Tag"),
        )
    if record_type == "SubscriptionChange":
        change = CHANGE_KINDS.get(record.get("SuppressionReason", ""))
        if record.get("SuppressSending") is not True or change is None:
            return None
        email = clean_email(record.get("Recipient"))
        if email is None:
            raise WebhookPayloadError(
                "postmark: SubscriptionChange without Recipient", provider=PROVIDER
            )
        changed_at = record.get("ChangedAt", "")
        return Event(
            PROVIDER,
            event_id(PROVIDER, "SubscriptionChange", record.get("MessageID"), email, changed_at),
            change,
            email,
            _text(record.get("MessageID")),
            parse_time(changed_at, default=now),
            _detail(record, "RecordType", "SuppressionReason", "Origin", "Tag"),
        )
    return None


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _detail(record: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: record[k] for k in keys if k in record}
