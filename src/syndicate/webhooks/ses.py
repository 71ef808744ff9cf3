"""Amazon SES bounce and complaint notifications (STANDARDS PV-5), from the ``Message``
of a verified SNS notification (:mod:`syndicate.webhooks.sns`).

Both shapes SES publishes are read: identity notifications (``notificationType``) and
configuration-set event publishing (``eventType``). A ``Bounce`` with ``bounceType``
``Permanent`` is a hard bounce for each of its ``bouncedRecipients``; ``Transient`` and
``Undetermined`` are soft. A ``Complaint`` is a complaint for each of its
``complainedRecipients``. Other types (``Delivery``, ``Send``, ``Open``...) are ignored.
One notification can name several recipients: each is its own event, with the id
``<feedbackId>/<address>``, so a topic that delivers a notification twice — or two
topics that both carry it — change nothing the second time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from syndicate.errors import WebhookPayloadError
from syndicate.webhooks.events import (
    Event,
    Kind,
    Parsed,
    check_event_id,
    clean_email,
    event_id,
    parse_time,
)

PROVIDER = "ses"

BOUNCE_KINDS: Mapping[str, Kind] = {
    "Permanent": "hard-bounce",
    "Transient": "soft-bounce",
    "Undetermined": "soft-bounce",
}


def parse(message: str, sns_message_id: str, now: datetime) -> Parsed:
    """The events in an SES notification (the SNS ``Message`` string)."""
    try:
        doc = json.loads(message)
    except ValueError as err:
        raise WebhookPayloadError(
            f"ses: SNS Message is not SES JSON: {err}", provider=PROVIDER
        ) from err
    if not isinstance(doc, dict):
        raise WebhookPayloadError("ses: SNS Message is not a JSON object", provider=PROVIDER)
    kind_name = doc.get("notificationType") or doc.get("eventType")
    mail = doc.get("mail")
    message_id = mail.get("messageId") if isinstance(mail, dict) else None
    if kind_name == "Bounce":
        report = _object(doc, "bounce")
        kind = BOUNCE_KINDS.get(str(report.get("bounceType")), "soft-bounce")
        recipients = report.get("bouncedRecipients")
        keys: tuple[str, ...] = ("bounceType", "bounceSubType", "reportingMTA")
        per_recipient: tuple[str, ...] = ("status", "action", "diagnosticCode")
    elif kind_name == "Complaint":
        report = _object(doc, "complaint")
        kind = "complaint"
        recipients = report.get("complainedRecipients")
        keys = ("complaintFeedbackType", "complaintSubType", "userAgent")
        per_recipient = ()
    else:
        return Parsed(ignored=1)
    if not isinstance(recipients, list) or not recipients:
        raise WebhookPayloadError(f"ses: {kind_name} without recipients", provider=PROVIDER)
    occurred = parse_time(report.get("timestamp"), default=now)
    base = {k: report[k] for k in keys if k in report}
    events = []
    for recipient in recipients:
        email = clean_email(recipient.get("emailAddress")) if isinstance(recipient, dict) else None
        if email is None:
            raise WebhookPayloadError(
                f"ses: {kind_name} recipient without emailAddress", provider=PROVIDER
            )
        feedback = report.get("feedbackId")
        eid = f"{feedback}/{email}" if feedback else event_id(PROVIDER, sns_message_id, email)
        detail = {**base, **{k: recipient[k] for k in per_recipient if k in recipient}}
        events.append(
            Event(
                PROVIDER,
                check_event_id(PROVIDER, eid),
                kind,
                email,
                str(message_id) if message_id else None,
                occurred,
                detail,
            )
        )
    return Parsed(tuple(events))


def _object(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise WebhookPayloadError(f"ses: notification without {key!r}", provider=PROVIDER)
    return value
