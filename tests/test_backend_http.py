"""What every HTTP API backend shares (``delivery/httpapi.py``), against a local server.

Postmark (one request per batch) and SendGrid (one request per message) stand in for the
two shapes of provider; the provider-specific answers are in ``test_backend_<name>.py``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import ValidationError

from syndicate.config import Settings
from syndicate.delivery.api import UNKNOWN_OUTCOME, APIBackend, APIBackendOptions, header_problem
from syndicate.delivery.base import BackendOptions, RateLimiter
from syndicate.delivery.httpapi import parse_retry_after
from syndicate.delivery.postmark import PostmarkBackend, PostmarkOptions
from syndicate.delivery.registry import BUILTIN, backend_class, make_backend
from syndicate.delivery.sendgrid import SendGridBackend, SendGridOptions
from syndicate.errors import BackendConfigError, ConfigError, TransportError
from syndicate.models import DeliveryResult, OutboundMessage
from tests.providers.fakes import PostmarkFake, SendGridFake
from tests.providers.messages import make_message, make_messages
from tests.providers.server import Answer, APIServer

pytest_plugins = ["tests.providers.server"]

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture
def postmark(api_server: APIServer) -> PostmarkFake:
    fake = PostmarkFake()
    api_server.handle(fake.path, fake)
    return fake


@pytest.fixture
def sendgrid(api_server: APIServer) -> SendGridFake:
    fake = SendGridFake()
    api_server.handle(fake.path, fake)
    return fake


def postmark_backend(server: APIServer, **options: object) -> PostmarkBackend:
    settings: dict[str, object] = {"base_url": server.url, "server_token": "postmark-token"}
    settings.update(options)
    return PostmarkBackend(PostmarkOptions(**settings))  # type: ignore[arg-type]


def sendgrid_backend(
    server: APIServer, limiter: RateLimiter | None = None, **options: object
) -> SendGridBackend:
    settings: dict[str, object] = {"base_url": server.url, "api_key": "SG.test-key"}
    settings.update(options)
    return SendGridBackend(SendGridOptions(**settings), limiter=limiter)  # type: ignore[arg-type]


# --- what HTTP says ----------------------------------------------------------------------


def test_429_defers_with_retry_after_seconds(api_server: APIServer, postmark: PostmarkFake) -> None:
    api_server.script(
        postmark.path,
        Answer(429, {"ErrorCode": 429, "Message": "Rate limit"}, {"Retry-After": "7"}),
    )
    with postmark_backend(api_server) as backend:
        first = backend.deliver(make_messages(3))
        second = backend.deliver(make_messages(3))
    assert {(r.status, r.retryable, r.retry_after) for r in first} == {("deferred", True, 7.0)}
    assert {r.status for r in second} == {"sent"}
    assert len(postmark.accepted) == 3


def test_429_retry_after_as_an_http_date(api_server: APIServer, postmark: PostmarkFake) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    api_server.script(postmark.path, Answer(429, b"slow down", {"Retry-After": when}))
    with postmark_backend(api_server) as backend:
        result = backend.deliver([make_message()])[0]
    assert result.status == "deferred"
    assert result.retry_after is not None and 100 < result.retry_after <= 120


def test_5xx_defers(api_server: APIServer, postmark: PostmarkFake) -> None:
    api_server.script(postmark.path, Answer(503, b"<html>Service Unavailable</html>"))
    with postmark_backend(api_server) as backend:
        results = backend.deliver(make_messages(2))
    assert {(r.status, r.retryable) for r in results} == {("deferred", True)}
    assert "HTTP 503" in (results[0].error or "")


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_stop_dispatch(api_server: APIServer, status: int) -> None:
    api_server.script("/email/batch", Answer(status, {"ErrorCode": 10, "Message": "Bad token"}))
    with (
        postmark_backend(api_server) as backend,
        pytest.raises(BackendConfigError, match=str(status)),
    ):
        backend.deliver(make_messages(2))


def test_a_redirect_is_a_configuration_error(api_server: APIServer) -> None:
    api_server.script("/email/batch", Answer(301, b"", {"Location": "https://elsewhere.example/"}))
    with (
        postmark_backend(api_server) as backend,
        pytest.raises(BackendConfigError, match="elsewhere"),
    ):
        backend.deliver([make_message()])


def test_read_timeout_is_an_unknown_outcome(api_server: APIServer, postmark: PostmarkFake) -> None:
    api_server.script(postmark.path, Answer(200, [], delay=2))
    with postmark_backend(api_server, timeout=0.3) as backend:
        result = backend.deliver([make_message()])[0]
    assert result.status == "deferred" and result.retryable
    assert UNKNOWN_OUTCOME in (result.error or "")


def test_hang_up_without_answer_is_an_unknown_outcome(
    api_server: APIServer, postmark: PostmarkFake
) -> None:
    api_server.script(postmark.path, Answer(hang_up=True))
    with postmark_backend(api_server) as backend:
        result = backend.deliver([make_message()])[0]
    assert result.status == "deferred" and UNKNOWN_OUTCOME in (result.error or "")


def test_connection_refused_is_definitely_not_sent() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = PostmarkBackend(
        PostmarkOptions(base_url=f"http://127.0.0.1:{port}", server_token="t")  # type: ignore[arg-type]
    )
    result = backend.deliver([make_message()])[0]
    assert result.status == "deferred" and "cannot reach" in (result.error or "")
    assert UNKNOWN_OUTCOME not in (result.error or "")


def test_after_a_failed_request_the_rest_of_the_batch_is_not_tried(
    api_server: APIServer, sendgrid: SendGridFake
) -> None:
    api_server.script(sendgrid.path, Answer(429, {"errors": []}, {"Retry-After": "30"}))
    with sendgrid_backend(api_server) as backend:
        results = backend.deliver(make_messages(5))
    assert {(r.status, r.retry_after) for r in results} == {("deferred", 30.0)}
    assert len(api_server.requests) == 1


# --- what we send ------------------------------------------------------------------------


def test_header_injection_fails_the_message_and_sends_the_rest(
    api_server: APIServer, postmark: PostmarkFake
) -> None:
    bad = make_message(2, headers=(("List-Id", "x\r\nBcc: victim@example.net"),))
    with postmark_backend(api_server) as backend:
        results = backend.deliver([make_message(1), bad, make_message(3)])
    assert [r.status for r in results] == ["sent", "failed", "sent"]
    assert "SE-2" in (results[1].error or "")
    assert [item["To"] for item in api_server.requests[0].json()] == [
        "Reader 1 <reader1@example.com>",
        "Reader 3 <reader3@example.com>",
    ]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"subject": "Hello\nBcc: x@example.net"}, "'Subject'"),
        ({"to_name": "Reader\r"}, "'To name'"),
        ({"from_name": "News\x00"}, "'From name'"),
        ({"headers": (("Bad Name", "v"),)}, "not a valid field name"),
        ({"subject": "Tabs\tare fine"}, None),
    ],
)
def test_header_problem(overrides: dict[str, object], problem: str | None) -> None:
    found = header_problem(make_message(**overrides))
    assert (found is None) if problem is None else (problem in (found or ""))


def test_requests_carry_a_user_agent(api_server: APIServer, postmark: PostmarkFake) -> None:
    with postmark_backend(api_server) as backend:
        backend.deliver([make_message()])
    assert api_server.requests[0].headers["user-agent"].startswith("syndicate/")


def test_large_batches_are_cut_by_size(
    api_server: APIServer, postmark: PostmarkFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PostmarkBackend, "max_request_bytes", 10_000)  # ~2 messages a call
    with postmark_backend(api_server) as backend:
        results = backend.deliver(make_messages(5))
    assert {r.status for r in results} == {"sent"}
    assert [len(r.json()) for r in api_server.requests] == [2, 2, 1]


# --- parallel requests and pacing --------------------------------------------------------


def test_parallel_requests_send_each_message_once(
    api_server: APIServer, sendgrid: SendGridFake
) -> None:
    messages = make_messages(24)
    with sendgrid_backend(api_server, connections=4) as backend:
        results = backend.deliver(messages)
    assert [r.delivery_id for r in results] == [m.delivery_id for m in messages]
    assert {r.status for r in results} == {"queued"}
    sent_to = sorted(b["personalizations"][0]["to"][0]["email"] for b in sendgrid.accepted)
    assert sent_to == sorted(m.to_email for m in messages)
    assert api_server.max_in_flight <= 4


def test_rate_limit_paces_each_request(api_server: APIServer, sendgrid: SendGridFake) -> None:
    waits: list[float] = []
    limiter = RateLimiter(4, clock=lambda: 0.0, sleep=waits.append)
    with sendgrid_backend(api_server, limiter=limiter, connections=2, rate=4) as backend:
        backend.deliver(make_messages(5))
    assert sorted(waits) == pytest.approx([0.25, 0.5, 0.75, 1.0])


# --- settling a batch of requests ----------------------------------------------------------


class ScriptedBackend(APIBackend):
    """An APIBackend whose requests answer from a script: results or an error per call."""

    name: ClassVar[str] = "scripted"
    script: ClassVar[list[str]] = []

    def call(self, chunk: Sequence[OutboundMessage]) -> list[DeliveryResult]:
        what = self.script.pop(0)
        if what == "refused":
            raise BackendConfigError("401 refused", backend=self.name)
        if what == "down":
            raise TransportError("503 down", backend=self.name, retry_after=9)
        return [DeliveryResult(m.delivery_id, "sent") for m in chunk]


def settle(script: list[str], connections: int = 2) -> list[DeliveryResult]:
    ScriptedBackend.script = list(script)
    backend = ScriptedBackend(APIBackendOptions(connections=connections))
    try:
        return backend.send_batch(make_messages(len(script)))
    finally:
        backend.close()


def test_credentials_refused_after_a_success_keep_the_success() -> None:
    # Raising would drop the "sent" result and the outbox would send it again.
    results = settle(["ok", "refused"], connections=1)
    assert [r.status for r in results] == ["sent", "deferred"]
    assert "401 refused" in (results[1].error or "")


def test_credentials_refused_with_nothing_sent_raise() -> None:
    with pytest.raises(BackendConfigError):
        settle(["refused", "refused"])


def test_refused_in_a_later_batch_keeps_the_earlier_batches() -> None:
    # Base.deliver: batch 1 went; a 401 in batch 2 must not drop batch 1's results.
    ScriptedBackend.script = ["ok", "refused", "ok"]
    backend = ScriptedBackend(APIBackendOptions())
    backend.max_batch = 1  # type: ignore[misc]
    results = backend.deliver(make_messages(3))
    assert [r.status for r in results] == ["sent", "deferred", "deferred"]
    assert "401 refused" in (results[1].error or "")
    assert ScriptedBackend.script == ["ok"]  # nothing more tried after the refusal


def test_every_request_down_raises_transport_error() -> None:
    with pytest.raises(TransportError) as caught:
        settle(["down", "down"], connections=1)
    assert caught.value.retry_after == 9


# --- small parts -------------------------------------------------------------------------


def test_parse_retry_after() -> None:
    now = time.time()
    later = format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)
    earlier = format_datetime(datetime.fromtimestamp(now - 30, UTC), usegmt=True)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(later, now=lambda: now) == pytest.approx(30, abs=1)
    assert parse_retry_after(earlier, now=lambda: now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.postmarkapp.com/", True),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:9", True),
        ("http://api.postmarkapp.com", False),
        ("ftp://example.org", False),
    ],
)
def test_base_url_must_be_https_unless_loopback(url: str, ok: bool) -> None:
    if ok:
        assert PostmarkOptions(base_url=url).base_url == url.rstrip("/")
    else:
        with pytest.raises(ValidationError, match="https"):
            PostmarkOptions(base_url=url)


def test_a_missing_key_is_a_configuration_error_naming_where_to_put_it(tmp_path: Path) -> None:
    settings = Settings(base_dir=tmp_path, delivery={"backend": "sendgrid"})
    with pytest.raises(ConfigError, match="SYNDICATE_DELIVERY__SENDGRID__API_KEY"):
        make_backend(settings)


def test_keys_are_read_from_files_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "postmark.token").write_text("from-file\n")
    settings = Settings(
        base_dir=tmp_path,
        delivery={"backend": "postmark", "postmark": {"server_token_file": "postmark.token"}},
    )
    backend = make_backend(settings)
    assert isinstance(backend, PostmarkBackend)
    assert backend.secret("server_token") == "from-file"


def test_unknown_option_names_the_key(tmp_path: Path) -> None:
    settings = Settings(
        base_dir=tmp_path, delivery={"backend": "postmark", "postmark": {"tokn": "x"}}
    )
    with pytest.raises(ConfigError, match=r"delivery\.postmark\.tokn"):
        make_backend(settings)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_backend_option_is_documented(name: str) -> None:
    text = (DOCS / "delivery.md").read_text(encoding="utf-8")
    options: type[BackendOptions] = backend_class(name).Options
    missing = [key for key in options.model_fields if f"`{key}`" not in text]
    assert not missing, f"{name}: undocumented options {missing}"
