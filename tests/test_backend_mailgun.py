"""Mailgun messages.mime, replayed by a local server with its documented shapes (PV-4)."""

from __future__ import annotations

import pytest

from syndicate.delivery.mailgun import MailgunBackend, MailgunOptions
from syndicate.errors import BackendConfigError
from tests.providers.fakes import MailgunFake
from tests.providers.messages import make_message, make_messages
from tests.providers.server import Answer, APIServer

pytest_plugins = ["tests.providers.server"]


@pytest.fixture
def mailgun(api_server: APIServer) -> MailgunFake:
    fake = MailgunFake()
    api_server.handle(fake.path, fake)
    return fake


def backend_for(server: APIServer, **options: object) -> MailgunBackend:
    settings: dict[str, object] = {
        "base_url": server.url,
        "api_key": "key-test",
        "domain": "mg.example.com",
    }
    settings.update(options)
    return MailgunBackend(MailgunOptions(**settings))  # type: ignore[arg-type]


def test_request_sends_our_raw_mime(api_server: APIServer, mailgun: MailgunFake) -> None:
    message = make_message(1)
    with backend_for(api_server) as backend:
        result = backend.deliver([message])[0]
    seen = api_server.requests[0]
    assert (seen.method, seen.path) == ("POST", "/v3/mg.example.com/messages.mime")
    fields, files = seen.form()
    assert fields == {
        "to": ["reader1@example.com"],
        "v:delivery_id": ["1"],
        "v:edition_id": ["7"],
        "v:channel": ["morning"],
        "o:tag": ["morning"],
    }
    assert files["message"] == ("message.eml", "message/rfc822", message.raw)  # exact bytes
    assert (result.status, result.provider_message_id) == ("queued", "0001.test@mg.example.com")


def test_a_refused_address_fails_only_its_message(
    api_server: APIServer, mailgun: MailgunFake
) -> None:
    messages = [make_message(1), make_message(2, to="invalid2@example.com")]
    with backend_for(api_server) as backend:
        results = backend.deliver(messages)
    assert [r.status for r in results] == ["queued", "failed"]
    assert "not a valid address" in (results[1].error or "")


def test_wrong_key_stops_dispatch(api_server: APIServer, mailgun: MailgunFake) -> None:
    with (
        backend_for(api_server, api_key="key-wrong") as backend,
        pytest.raises(BackendConfigError, match="Forbidden"),
    ):
        backend.deliver(make_messages(2))


def test_unknown_domain_stops_dispatch(api_server: APIServer, mailgun: MailgunFake) -> None:
    api_server.handle("/v3/other.example.com/messages.mime", mailgun.not_found)
    with (
        backend_for(api_server, domain="other.example.com") as backend,
        pytest.raises(BackendConfigError, match="Domain not found"),
    ):
        backend.deliver([make_message()])


def test_429_defers_with_retry_after(api_server: APIServer, mailgun: MailgunFake) -> None:
    api_server.script(
        mailgun.path, Answer(429, mailgun.shapes["rate_limited"], {"Retry-After": "60"})
    )
    with backend_for(api_server) as backend:
        result = backend.deliver([make_message()])[0]
    assert (result.status, result.retry_after) == ("deferred", 60.0)


@pytest.mark.parametrize(
    ("region", "url"), [("us", "https://api.mailgun.net"), ("eu", "https://api.eu.mailgun.net")]
)
def test_region_picks_the_api_address(region: str, url: str) -> None:
    options = MailgunOptions(domain="mg.example.com", api_key="k", region=region)  # type: ignore[arg-type]
    assert MailgunBackend(options).base_url == url
