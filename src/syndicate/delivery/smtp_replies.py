"""What an SMTP server's replies mean for a message: refusals classified into results.

:func:`classify` turns a refusal (a reply code, an enhanced status code, the stage it
answered) into a :class:`DeliveryResult` as the table in :mod:`syndicate.delivery.smtp`
says; :func:`queue_id` finds the server's queue id in a 2xx reply to DATA.

"Replies" is RFC 5321's word (§4.2) for what this module reads. It is apart from
:mod:`syndicate.delivery.smtp` because it needs no connection: a reply's meaning is
decided, and tested, on the reply alone.
"""

from __future__ import annotations

import re
from typing import Any

from syndicate.models import DeliveryResult, OutboundMessage

UNKNOWN_AFTER_DATA = "outcome unknown after DATA (possible duplicate on retry)"
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")
# "250 2.0.0 Ok: queued as 4Xy1Z2" (Postfix), "250 Ok 0100018f..." (Amazon SES).
_QUEUE_ID = re.compile(
    r"queued as\s+<?([^\s>]+)|^(?:2\.\d+\.\d+\s+)?ok[:\s]+([\w.@-]{8,})", re.IGNORECASE
)


def classify(message: OutboundMessage, stage: str, code: int, text: str) -> DeliveryResult:
    """The result of a refusal ``code text`` at ``stage`` (the table in the smtp module)."""
    raw = {"stage": stage, "code": code, "reply": text}
    error = f"{stage}: {code} {text}"
    enhanced = _ENHANCED.match(text)
    # An enhanced code whose class contradicts the reply code is ignored.
    valid = enhanced is not None and enhanced.group(1) == str(code)[0]
    subject, detail = (enhanced.group(2), enhanced.group(3)) if enhanced and valid else ("", "")
    if 400 <= code < 500:
        return error_result(message, "deferred", error, retryable=True, raw=raw)
    if not 500 <= code < 600:
        return error_result(
            message, "deferred", f"unexpected reply {error}", retryable=True, raw=raw
        )
    if subject == "7":
        return error_result(message, "failed", error, retryable=True, policy=True, raw=raw)
    if (subject, detail) == ("2", "2"):
        return error_result(message, "deferred", error, retryable=True, raw=raw)
    if subject == "1" or (subject, detail) == ("2", "1") or (stage == "RCPT" and code == 550):
        return error_result(message, "rejected", error, raw=raw)
    return error_result(message, "failed", error, raw=raw)


def queue_id(text: str) -> str | None:
    """The queue id a 2xx reply to DATA names (Postfix, Amazon SES), or ``None``."""
    found = _QUEUE_ID.search(text)
    return (found.group(1) or found.group(2)) if found else None


def error_result(
    message: OutboundMessage,
    status: str,
    error: str,
    *,
    retryable: bool = False,
    policy: bool = False,
    raw: dict[str, Any] | None = None,
) -> DeliveryResult:
    """``message``'s result when it was not (or not surely) sent: ``status`` and why."""
    return DeliveryResult(
        message.delivery_id, status, retryable=retryable, error=error, policy=policy, raw=raw
    )


def reply_text(reply: bytes | str) -> str:
    """A reply's text on one line, for results and error messages."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())
