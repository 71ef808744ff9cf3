"""The provider-neutral event every webhook is normalised into, and what it does.

Each provider module turns its verified payload into :class:`Event` values; only the
kinds below are kept (deliveries, opens and clicks are ignored). What an event does to
the store is decided here, in one table: a hard bounce, a complaint or an unsubscribe
suppresses the address (STANDARDS SU-1); a soft bounce is recorded and suppresses
nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from syndicate.errors import WebhookPayloadError

# ``other`` is an event of no interest kept only for its one-use signing token (Mailgun).
Kind = Literal["hard-bounce", "soft-bounce", "complaint", "unsubscribe", "other"]
KINDS: tuple[Kind, ...] = ("hard-bounce", "soft-bounce", "complaint", "unsubscribe", "other")

# The suppression reason (``suppressions.reason``, a subscriber status) of each kind,
# or None when the kind is only recorded.
SUPPRESSES: Mapping[Kind, str | None] = {
    "hard-bounce": "bounced",
    "complaint": "complained",
    "unsubscribe": "unsubscribed",
    "soft-bounce": None,
    "other": None,
}

MAX_EVENT_ID = 512


@dataclass(frozen=True, slots=True)
class Event:
    """One bounce, complaint or unsubscribe, as the provider reported it.

    ``event_id`` is unique per provider and stable when the provider sends the same
    event again (its own event id where it has one); ``email`` is normalised the way
    subscribers' addresses are; ``detail`` keeps the provider's own fields (type,
    diagnostic, reason) for the operator.
    """

    provider: str
    event_id: str
    kind: Kind
    email: str
    provider_message_id: str | None
    occurred_at: datetime
    detail: dict[str, Any] = field(default_factory=dict)
    nonce: str | None = None  # a one-use token the request was signed with (Mailgun)

    @property
    def suppresses(self) -> str | None:
        """The suppression reason this event applies, or None (recorded only)."""
        return SUPPRESSES[self.kind]


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a verified request held: the events to apply and how many were ignored."""

    events: tuple[Event, ...] = ()
    ignored: int = 0


def event_id(provider: str, *parts: object) -> str:
    """A stable id from ``parts`` when the provider gives none (or one per recipient)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"{provider}:{digest[:40]}"


def check_event_id(provider: str, value: object) -> str:
    """``value`` as an event id; WebhookPayloadError if it is missing or too long."""
    text = str(value).strip() if value is not None else ""
    if not text or len(text) > MAX_EVENT_ID:
        raise WebhookPayloadError(
            f"{provider}: event id missing or longer than {MAX_EVENT_ID} characters",
            provider=provider,
        )
    return text


def clean_email(value: object) -> str | None:
    """The address as subscribers are stored (validated, lower-cased), or None if empty.

    An address email-validator refuses cannot be a subscriber's, but it is still kept
    (lower-cased) so that the suppression holds if it is ever added.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    from syndicate.subscribers import InvalidRow, normalise_email

    try:
        return normalise_email(value)
    except InvalidRow:
        return value.strip().lower()


def parse_time(value: object, *, default: datetime) -> datetime:
    """An ISO 8601 string or a Unix time as aware UTC; ``default`` when absent or bad."""
    found = to_utc(value)
    return default if found is None else found


def to_utc(value: object) -> datetime | None:
    """An ISO 8601 string or a Unix time as aware UTC, or None when absent or bad."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str) and value:
            text = value.strip().replace("Z", "+00:00")
            # Postmark writes seven fractional digits; fromisoformat takes at most six.
            head, dot, rest = text.partition(".")
            if dot:
                digits = "".join(c for c in rest if c.isdigit())
                text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
            parsed = datetime.fromisoformat(text)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return None
