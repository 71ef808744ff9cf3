"""Postmark's batch API, replayed by a local server with its documented shapes (PV-2)."""

from __future__ import annotations

import pytest

from syndicate.delivery.postmark import PostmarkBackend, PostmarkOptions
from syndicate.errors import BackendConfigError
from tests.providers.fakes import PostmarkFake
from tests.providers.messages import make_message, make_messages
from tests.providers.server import Answer, APIServer

pytest_plugins = ["tests.providers.server"]


@pytest.fixture
def postmark(api_server: APIServer) -> PostmarkFake:
    fake = PostmarkFake()
    api_server.handle(fake.path, fake)
    return fake


def backend_for(server: APIServer, **options: object) -> PostmarkBackend:
    settings: dict[str, object] = {"base_url": server.url, "server_token": "postmark-token"}
    settings.update(options)
    return PostmarkBackend(PostmarkOptions(**settings))  # type: ignore[arg-type]


def test_request_shape(api_server: APIServer, postmark: PostmarkFake) -> None:
    message = make_message(1)
    with backend_for(api_server) as backend:
        backend.deliver([message])
    seen = api_server.requests[0]
    assert (seen.method, seen.path) == ("POST", "/email/batch")
    assert seen.headers["x-postmark-server-token"] == "postmark-token"
    assert seen.headers["accept"] == "application/json"
    assert seen.json() == [
        {
            "From": "The Example News <news@news.example.org>",
            "To": "Reader 1 <reader1@example.com>",
            "Subject": "Morning digest",
            "Tag": "morning",
            "MessageStream": "broadcast",
            "Metadata": {"delivery_id": "1", "edition_id": "7", "channel": "morning"},
            "HtmlBody": message.html,
            "TextBody": message.text,
            "Headers": [{"Name": n, "Value": v} for n, v in message.headers],
        }
    ]


def test_message_stream_option(api_server: APIServer, postmark: PostmarkFake) -> None:
    with backend_for(api_server, message_stream="digests") as backend:
        backend.deliver([make_message()])
    assert api_server.requests[0].json()[0]["MessageStream"] == "digests"


def test_partial_success_gives_per_message_results(
    api_server: APIServer, postmark: PostmarkFake
) -> None:
    messages = [
        make_message(1),
        make_message(2, to="inactive2@example.com"),
        make_message(3, to="invalid3@example.com"),
        make_message(4),
    ]
    with backend_for(api_server) as backend:
        results = backend.deliver(messages)

    assert [r.status for r in results] == ["sent", "rejected", "failed", "sent"]
    assert [r.provider_message_id for r in results] == ["pm-0001", None, None, "pm-0002"]
    assert results[1].retryable is False and "406" in (results[1].error or "")
    assert results[2].retryable is False and "300" in (results[2].error or "")
    assert results[1].raw["ErrorCode"] == 406  # the provider's answer is kept
    assert len(postmark.accepted) == 2


def test_more_than_500_messages_take_two_calls(
    api_server: APIServer, postmark: PostmarkFake
) -> None:
    with backend_for(api_server) as backend:
        results = backend.deliver(make_messages(501))
    assert [len(r.json()) for r in api_server.requests] == [500, 1]
    assert len(results) == 501 and {r.status for r in results} == {"sent"}


def test_account_that_may_not_send_pauses_the_channel(api_server: APIServer) -> None:
    shape = PostmarkFake().shapes["not_allowed"]
    api_server.script("/email/batch", Answer(422, shape))
    with backend_for(api_server) as backend:
        results = backend.deliver(make_messages(2))
    assert {(r.status, r.policy, r.retryable) for r in results} == {("failed", True, True)}


def test_unknown_sender_signature_stops_dispatch(api_server: APIServer) -> None:
    shape = PostmarkFake().shapes["sender_not_found"]
    api_server.script("/email/batch", Answer(422, shape))
    with backend_for(api_server) as backend, pytest.raises(BackendConfigError, match="400"):
        backend.deliver(make_messages(2))


def test_invalid_token_stops_dispatch(api_server: APIServer, postmark: PostmarkFake) -> None:
    with (
        backend_for(api_server, server_token="wrong") as backend,
        pytest.raises(BackendConfigError, match="401"),
    ):
        backend.deliver(make_messages(2))
    assert postmark.accepted == []


def test_rate_limit_code_in_a_422_defers(api_server: APIServer) -> None:
    api_server.script("/email/batch", Answer(422, PostmarkFake().shapes["rate_limited"]))
    with backend_for(api_server) as backend:
        results = backend.deliver(make_messages(2))
    assert {(r.status, r.retryable) for r in results} == {("deferred", True)}


def test_an_answer_that_does_not_match_the_batch_is_an_unknown_outcome(
    api_server: APIServer,
) -> None:
    api_server.script("/email/batch", Answer(200, [{"ErrorCode": 0, "Message": "OK"}]))
    with backend_for(api_server) as backend:
        results = backend.deliver(make_messages(2))
    assert {r.status for r in results} == {"deferred"}
    assert "possible duplicate" in (results[0].error or "")


def test_delivery_may_be_delayed_is_queued(api_server: APIServer) -> None:
    delayed = {"ErrorCode": 0, "Message": "Message accepted, but delivery may be delayed.",
               "MessageID": "pm-x", "To": "reader1@example.com"}  # fmt: skip
    api_server.script("/email/batch", Answer(200, [delayed]))
    with backend_for(api_server) as backend:
        result = backend.deliver([make_message()])[0]
    assert (result.status, result.provider_message_id) == ("queued", "pm-x")
