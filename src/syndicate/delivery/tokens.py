"""Signed tokens for subscriber links (STANDARDS SE-1).

A token is bound to its purpose (``unsubscribe``, ``preferences``, ``confirm``,
``erase``), the subscriber and the channel, and signed with HMAC-SHA256 by itsdangerous with a
per-purpose salt, so a confirmation token can never unsubscribe anyone and a token for
one subscriber or channel cannot be reused for another. Tokens carry ids only: no email
address or other personal data appears in a URL.

Unsubscribe and preference tokens do not expire (mail is read months later and the
opt-out must keep working, CAN-SPAM ≥ 30 days); confirmation and erasure tokens expire
after ``CONFIRM_MAX_AGE``. Keys rotate: sign with the newest secret, verify with any of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from syndicate.errors import SyndicateError

Purpose = Literal["unsubscribe", "preferences", "confirm", "erase"]
PURPOSES: tuple[Purpose, ...] = ("unsubscribe", "preferences", "confirm", "erase")
# Tokens that expire: a confirmation, and the erasure a subscriber asked for by mail.
EXPIRING: frozenset[Purpose] = frozenset({"confirm", "erase"})
CONFIRM_MAX_AGE = 7 * 24 * 3600

# ``syndicate doctor``'s one-click probe: a genuinely signed unsubscribe token for no one.
# Subscriber ids start at 1 and channel names cannot start with "_" (config NAME_PATTERN),
# so these claims match no real subscription; the web app answers them without touching
# the store (docs/deliverability.md).
PROBE_SUBSCRIBER_ID = 0
PROBE_CHANNEL = "_doctor"


class BadToken(SyndicateError):
    """A token that is forged, for another purpose, malformed, or expired."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says: whose link it is, and for which channel."""

    purpose: Purpose
    subscriber_id: int
    channel: str

    @property
    def is_probe(self) -> bool:
        """Whether this is doctor's probe token, which must change nothing."""
        return self.subscriber_id == PROBE_SUBSCRIBER_ID and self.channel == PROBE_CHANNEL


class TokenSigner:
    """Makes and checks tokens. ``secrets`` lists keys oldest first; the last one signs."""

    def __init__(self, secrets: str | Sequence[str]) -> None:
        keys = [secrets] if isinstance(secrets, str) else list(secrets)
        if not keys or any(len(k) < 16 for k in keys):
            raise ValueError("token secrets must be at least 16 characters")
        self._serializers = {
            purpose: URLSafeTimedSerializer(keys, salt=f"syndicate.{purpose}.v1")
            for purpose in PURPOSES
        }

    def make(self, purpose: Purpose, subscriber_id: int, channel: str) -> str:
        """A URL-safe token for ``purpose`` bound to the subscriber and channel."""
        return str(self._serializers[purpose].dumps([subscriber_id, channel]))

    def verify(self, token: str, purpose: Purpose) -> TokenClaims:
        """The claims of ``token`` if it is genuine and meant for ``purpose``.

        Raises :class:`BadToken` otherwise; confirmation tokens also expire.
        """
        max_age = CONFIRM_MAX_AGE if purpose in EXPIRING else None
        try:
            payload = self._serializers[purpose].loads(token, max_age=max_age)
        except SignatureExpired as err:
            raise BadToken("this link has expired") from err
        except BadSignature as err:
            raise BadToken("this link is not valid") from err
        if (
            not isinstance(payload, list)
            or len(payload) != 2
            or not isinstance(payload[0], int)
            or not isinstance(payload[1], str)
        ):
            raise BadToken("this link is not valid")
        return TokenClaims(purpose, payload[0], payload[1])
