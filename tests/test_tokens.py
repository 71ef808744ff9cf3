"""Signed subscriber tokens: purpose-bound, tamper-evident, rotating keys."""

from __future__ import annotations

import pytest

from syndicate.delivery.tokens import BadToken, TokenSigner

KEY = "k" * 32


def test_round_trip_and_no_personal_data_in_the_token() -> None:
    signer = TokenSigner(KEY)
    token = signer.make("unsubscribe", 42, "world")
    claims = signer.verify(token, "unsubscribe")
    assert (claims.subscriber_id, claims.channel, claims.purpose) == (42, "world", "unsubscribe")
    assert "@" not in token


def test_purpose_binding_and_tampering() -> None:
    signer = TokenSigner(KEY)
    confirm = signer.make("confirm", 1, "world")
    with pytest.raises(BadToken):
        signer.verify(confirm, "unsubscribe")
    unsub = signer.make("unsubscribe", 1, "world")
    with pytest.raises(BadToken):
        signer.verify(unsub[:-2] + ("AA" if not unsub.endswith("AA") else "BB"), "unsubscribe")
    with pytest.raises(BadToken):
        TokenSigner("x" * 32).verify(unsub, "unsubscribe")


def test_key_rotation_verifies_old_tokens() -> None:
    old = TokenSigner("old-key-0123456789abcdef").make("unsubscribe", 7, "all")
    rotated = TokenSigner(["old-key-0123456789abcdef", "new-key-0123456789abcdef"])
    assert rotated.verify(old, "unsubscribe").subscriber_id == 7


def test_confirm_tokens_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    import itsdangerous.timed as timed

    signer = TokenSigner(KEY)
    token = signer.make("confirm", 3, "world")
    real = timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(
        timed.TimestampSigner, "get_timestamp", lambda self: real(self) + 8 * 24 * 3600
    )
    with pytest.raises(BadToken, match="expired"):
        signer.verify(token, "confirm")
    unsub = TokenSigner(KEY)
    assert unsub.verify(unsub.make("unsubscribe", 3, "world"), "unsubscribe").subscriber_id == 3


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        TokenSigner("short")
