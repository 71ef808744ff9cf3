"""Signed subscriber tokens: purpose-bound, tamper-evident, rotating keys."""

from __future__ import annotations

import json

import pytest
from itsdangerous import URLSafeTimedSerializer

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


@pytest.mark.parametrize(
    ("subscriber_id", "channel"),
    [(1, "world"), (123456789, "all"), (7, 'é"\\ quoted'), (9, "ab" * 30), (111111, "x" * 40)],
)
def test_tokens_are_itsdangerous_tokens(subscriber_id: int, channel: str) -> None:
    """The fast path makes itsdangerous's format with the newest key: the serializer
    itself verifies the token, and where it would not compress the payload the bytes are
    its own."""
    import zlib

    signer = TokenSigner(["o" * 20, KEY])
    for purpose in ("unsubscribe", "preferences", "confirm"):
        token = signer.make(purpose, subscriber_id, channel)
        serializer = URLSafeTimedSerializer(KEY, salt=f"syndicate.{purpose}.v1")
        assert serializer.loads(token) == [subscriber_id, channel]
        payload = json.dumps([subscriber_id, channel], ensure_ascii=False, separators=(",", ":"))
        data = payload.encode()
        if len(zlib.compress(data)) >= len(data) - 1:  # itsdangerous would not compress
            expected = serializer.dumps([subscriber_id, channel])
            if expected.split(".")[1] == token.split(".")[1]:  # the same second
                assert token == expected
        claims = signer.verify(token, purpose)
        assert (claims.subscriber_id, claims.channel) == (subscriber_id, channel)
