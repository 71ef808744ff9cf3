"""Amazon SES v2 through boto3, against a local server speaking SES's REST-JSON (PV-5)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from syndicate.config import Settings
from syndicate.delivery.registry import make_backend
from syndicate.errors import BackendConfigError, ConfigError
from tests.providers.fakes import SESFake
from tests.providers.messages import make_message, make_messages
from tests.providers.server import APIServer

pytest.importorskip("boto3")

from syndicate.delivery.ses import SESBackend, SESOptions

pytest_plugins = ["tests.providers.server"]


@pytest.fixture
def ses(api_server: APIServer) -> SESFake:
    fake = SESFake()
    api_server.handle(fake.path, fake)
    return fake


def backend_for(server: APIServer, **options: object) -> SESBackend:
    settings: dict[str, object] = {
        "endpoint_url": server.url,
        "region": "eu-west-1",
        "access_key_id": "AKIDTEST",
        "secret_access_key": "secret",
    }
    settings.update(options)
    return SESBackend(SESOptions(**settings))  # type: ignore[arg-type]


def test_request_sends_raw_bytes_to_one_recipient(api_server: APIServer, ses: SESFake) -> None:
    message = make_message(1)
    with backend_for(api_server, configuration_set="digests") as backend:
        result = backend.deliver([message])[0]
    assert (result.status, result.provider_message_id) == ("sent", "ses-0001")
    sent = ses.accepted[0]
    assert sent["Content"]["Raw"]["Data"] == message.raw  # our bytes, our DKIM signature
    assert sent["Destination"] == {"ToAddresses": ["reader1@example.com"]}
    assert sent["FromEmailAddress"] == "news@news.example.org"
    assert sent["ConfigurationSetName"] == "digests"
    assert sent["EmailTags"] == [
        {"Name": "delivery_id", "Value": "1"},
        {"Name": "edition_id", "Value": "7"},
        {"Name": "channel", "Value": "morning"},
    ]
    assert "/eu-west-1/ses/aws4_request" in api_server.requests[0].headers["authorization"]


def test_message_rejected_fails_only_that_message(api_server: APIServer, ses: SESFake) -> None:
    messages = [make_message(1), make_message(2, to="rejected2@example.com"), make_message(3)]
    with backend_for(api_server) as backend:
        results = backend.deliver(messages)
    assert [r.status for r in results] == ["sent", "failed", "sent"]
    assert results[1].retryable is False
    assert "MessageRejected" in (results[1].error or "")
    assert "not verified" in (results[1].error or "")


@pytest.mark.parametrize(
    "code", ["TooManyRequestsException", "LimitExceededException", "InternalFailure"]
)
def test_throttling_and_outages_defer(api_server: APIServer, ses: SESFake, code: str) -> None:
    ses.account_error = code
    with backend_for(api_server) as backend:
        results = backend.deliver(make_messages(3))
    assert {(r.status, r.retryable) for r in results} == {("deferred", True)}
    assert len(api_server.requests) == 1  # the rest of the batch is not tried
    assert ses.accepted == []


@pytest.mark.parametrize("code", ["AccountSuspendedException", "SendingPausedException"])
def test_a_suspended_account_pauses_the_channel(
    api_server: APIServer, ses: SESFake, code: str
) -> None:
    ses.account_error = code
    with backend_for(api_server) as backend:
        results = backend.deliver(make_messages(2))
    assert {(r.status, r.policy, r.retryable) for r in results} == {("failed", True, True)}


def test_refused_credentials_stop_dispatch(api_server: APIServer, ses: SESFake) -> None:
    with (
        backend_for(api_server, access_key_id="AKIDWRONG") as backend,
        pytest.raises(BackendConfigError, match="UnrecognizedClientException"),
    ):
        backend.deliver(make_messages(2))


def test_unverified_mail_from_domain_stops_dispatch(api_server: APIServer, ses: SESFake) -> None:
    ses.account_error = "MailFromDomainNotVerifiedException"
    with backend_for(api_server) as backend, pytest.raises(BackendConfigError):
        backend.deliver([make_message()])


def test_parallel_calls_send_each_message_once(api_server: APIServer, ses: SESFake) -> None:
    messages = make_messages(12)
    with backend_for(api_server, connections=3) as backend:
        results = backend.deliver(messages)
    assert {r.status for r in results} == {"sent"}
    assert sorted(a["Destination"]["ToAddresses"][0] for a in ses.accepted) == sorted(
        m.to_email for m in messages
    )
    assert api_server.max_in_flight <= 3


def test_secret_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "aws-secret").write_text("from-file\n")
    delivery = {
        "backend": "ses",
        "ses": {"access_key_id": "AKIDTEST", "secret_access_key_file": "aws-secret"},
    }
    backend = make_backend(Settings(base_dir=tmp_path, delivery=delivery))
    assert isinstance(backend, SESBackend) and backend.options.secret_access_key is not None
    assert backend.options.secret_access_key.get_secret_value() == "from-file"


def test_without_boto3_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes "import boto3" fail
    with pytest.raises(ConfigError, match=r"syndicate\[ses\]"):
        SESBackend(SESOptions())
