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

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes
from itsdangerous.timed import TimestampSigner

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
        # Making a token is on the fan-out's per-message path (two per message), and
        # itsdangerous builds a signer, derives the key and tries zlib on every token
        # (zlib's set-up alone costs more than the rest). Its own signer, key and HMAC
        # are taken once here and make tokens it verifies (see ``make``).
        self._signers: dict[Purpose, tuple[TimestampSigner, bytes]] = {}
        for purpose, serializer in self._serializers.items():
            signer = serializer.make_signer()
            assert isinstance(signer, TimestampSigner)
            self._signers[purpose] = (signer, signer.derive_key())
        self._stamp = (-1, b"")
        self._channels: dict[str, str] = {}

    def make(self, purpose: Purpose, subscriber_id: int, channel: str) -> str:
        """A URL-safe token for ``purpose`` bound to the subscriber and channel.

        The format is ``URLSafeTimedSerializer.dumps([subscriber_id, channel])``'s:
        compact JSON in URL-safe base64, the timestamp, the HMAC of the signer's derived
        key. The payload is never compressed (itsdangerous compresses only when that is
        shorter, which a short id list seldom is, and reads either form).
        """
        signer, key = self._signers[purpose]
        quoted = self._channels.get(channel)
        if quoted is None:
            if len(self._channels) >= 256:
                self._channels.clear()
            quoted = self._channels[channel] = json.dumps(channel, ensure_ascii=False)
        payload = f"[{int(subscriber_id)},{quoted}]".encode()
        now = signer.get_timestamp()
        if self._stamp[0] != now:
            self._stamp = (now, base64_encode(int_to_bytes(now)))
        value = base64_encode(payload) + b"." + self._stamp[1]
        signature = base64_encode(signer.algorithm.get_signature(key, value))
        return (value + b"." + signature).decode("ascii")

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
