"""Checks shared by the providers: constant-time comparison and timestamp freshness."""

from __future__ import annotations

import hmac
from datetime import datetime

from syndicate.errors import WebhookAuthError


def same_secret(given: str, expected: str) -> bool:
    """True if the two strings are equal, compared in constant time (SE-1)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def check_fresh(provider: str, timestamp: object, now: datetime, max_age: float) -> float:
    """The signed Unix ``timestamp`` as a float if it is within ``max_age`` seconds of
    ``now`` (either side, for clock skew); WebhookAuthError if absent, bad or stale."""
    try:
        value = float(str(timestamp))
    except ValueError as err:
        raise WebhookAuthError(
            f"{provider}: signed timestamp {timestamp!r} is not a Unix time", provider=provider
        ) from err
    age = now.timestamp() - value
    if not abs(age) <= max_age:  # also catches NaN
        raise WebhookAuthError(
            f"{provider}: signed timestamp is {age:.0f} s from now, more than the "
            f"{max_age:.0f} s allowed (max_age_seconds): a replay, or a wrong clock",
            provider=provider,
        )
    return value
