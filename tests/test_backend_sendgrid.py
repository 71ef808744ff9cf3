"""SendGrid v3 mail/send, replayed by a local server with its documented shapes (PV-3)."""

from __future__ import annotations

import pytest

from syndicate.delivery.sendgrid import SendGridBackend, SendGridOptions
from syndicate.errors import BackendConfigError
from tests.providers.fakes import SendGridFake
from tests.providers.messages import make_message, make_messages
from tests.providers.server import Answer, APIServer

pytest_plugins = ["tests.providers.server"]


@pytest.fixture
def sendgrid(api_server: APIServer) -> SendGridFake:
    fake = SendGridFake()
    api_server.handle(fake.path, fake)
    return fake


def backend_for(server: APIServer, **options: object) -> SendGridBackend:
    settings: dict[str, object] = {"base_url": server.url, "api_key": "SG.test-key"}
    settings.update(options)
    return SendGridBackend(SendGridOptions(**settings))  # type: ignore[arg-type]


def test_request_shape(api_server: APIServer, sendgrid: SendGridFake) -> None:
    message = make_message(1)
    with backend_for(api_server) as backend:
        backend.deliver([message])
    seen = api_server.requests[0]
    assert (seen.method, seen.path) == ("POST", "/v3/mail/send")
    assert seen.headers["authorization"] == "Bearer SG.test-key"
    assert seen.json() == {
        "personalizations": [{"to": [{"email": "reader1@example.com", "name": "Reader 1"}]}],
        "from": {"email": "news@news.example.org", "name": "The Example News"},
        "subject": "Morning digest",
        "content": [
            {"type": "text/plain", "value": message.text},
            {"type": "text/html", "value": message.html},
        ],
        "custom_args": {"delivery_id": "1", "edition_id": "7", "channel": "morning"},
        "headers": dict(message.headers),
    }


def test_one_request_per_message_and_202_is_queued(
    api_server: APIServer, sendgrid: SendGridFake
) -> None:
    with backend_for(api_server) as backend:
        results = backend.deliver(make_messages(3))
    assert len(api_server.requests) == 3
    assert [(r.status, r.provider_message_id) for r in results] == [
        ("queued", "sg-0001"),
        ("queued", "sg-0002"),
        ("queued", "sg-0003"),
    ]


def test_a_refused_address_fails_only_its_message(
    api_server: APIServer, sendgrid: SendGridFake
) -> None:
    messages = [make_message(1), make_message(2, to="invalid2@example.com"), make_message(3)]
    with backend_for(api_server) as backend:
        results = backend.deliver(messages)
    assert [r.status for r in results] == ["queued", "failed", "queued"]
    assert "Does not contain a valid address." in (results[1].error or "")
    assert results[1].raw["errors"][0]["field"] == "personalizations.0.to.0.email"


def test_text_only_message_has_one_content_part(
    api_server: APIServer, sendgrid: SendGridFake
) -> None:
    with backend_for(api_server) as backend:
        assert backend.deliver([make_message(html="")])[0].status == "queued"
    assert api_server.requests[0].json()["content"] == [
        {"type": "text/plain", "value": "Hello reader 1."}
    ]


def test_invalid_key_stops_dispatch(api_server: APIServer, sendgrid: SendGridFake) -> None:
    with (
        backend_for(api_server, api_key="SG.wrong") as backend,
        pytest.raises(BackendConfigError, match="authorization grant is invalid"),
    ):
        backend.deliver(make_messages(2))


def test_500_defers(api_server: APIServer, sendgrid: SendGridFake) -> None:
    api_server.script(sendgrid.path, Answer(500, sendgrid.shapes["server_error"]))
    with backend_for(api_server) as backend:
        result = backend.deliver([make_message()])[0]
    assert (result.status, result.retryable) == ("deferred", True)
