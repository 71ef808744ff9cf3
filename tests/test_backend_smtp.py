"""The SMTP backend against a real aiosmtpd server that is told how to fail (TE-5).

Every fault case ends with each recipient accepted by the server exactly once, or with a
result that says why not (deferred, rejected, failed): nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from syndicate.config import load_settings
from syndicate.delivery.base import RateLimiter
from syndicate.delivery.registry import make_backend
from syndicate.delivery.smtp import SMTPBackend, SMTPOptions
from syndicate.delivery.smtp_replies import UNKNOWN_AFTER_DATA, classify
from syndicate.errors import BackendConfigError
from syndicate.models import DeliveryResult
from tests.providers.messages import make_message, make_messages
from tests.smtpserver import LocalCA, SMTPTestServer

pytest_plugins = ["tests.smtpserver"]


@pytest.fixture
def open_backends() -> Iterator[list[SMTPBackend]]:
    made: list[SMTPBackend] = []
    yield made
    for backend in made:
        backend.close()


Connect = Callable[..., SMTPBackend]


@pytest.fixture
def connect(open_backends: list[SMTPBackend]) -> Connect:
    """Build an opened SMTPBackend for a test server; closed after the test."""

    def build(server: SMTPTestServer, **options: object) -> SMTPBackend:
        settings = {"host": "127.0.0.1", "port": server.port, "security": "none", "timeout": 5}
        settings.update(options)
        extras = _extras(settings)
        backend = SMTPBackend(SMTPOptions(**settings), **extras)  # type: ignore[arg-type]
        backend.open()
        open_backends.append(backend)
        return backend

    return build


def _extras(settings: dict[str, object]) -> dict[str, object]:
    # Constructor arguments that are not options.
    return {k: settings.pop(k) for k in ("limiter", "clock") if k in settings}


def by_id(results: list[DeliveryResult]) -> dict[int, DeliveryResult]:
    return {r.delivery_id: r for r in results}


# --- the happy path ----------------------------------------------------------------------


def test_server_receives_raw_bytes_exactly(smtp_server: SMTPTestServer, connect: Connect) -> None:
    messages = make_messages(3)
    results = connect(smtp_server).deliver(messages)

    assert [r.status for r in results] == ["sent"] * 3
    assert [r.provider_message_id for r in results] == ["Q000001", "Q000002", "Q000003"]
    for message, received in zip(messages, smtp_server.messages, strict=True):
        # CRLF kept, dot-stuffing undone: what DKIM signed is what arrived.
        assert received.content == message.raw
        assert received.rcpt_tos == (message.to_email,)
        assert received.mail_from == message.from_email


def test_return_path_is_the_envelope_sender(smtp_server: SMTPTestServer, connect: Connect) -> None:
    connect(smtp_server, return_path="bounces+7@news.example.org").deliver([make_message()])
    assert smtp_server.messages[0].mail_from == "bounces+7@news.example.org"


def test_one_session_carries_many_messages(smtp_server: SMTPTestServer, connect: Connect) -> None:
    connect(smtp_server).deliver(make_messages(5))
    assert smtp_server.sessions == 1
    assert len(smtp_server.messages) == 5


def test_reconnects_after_max_messages_per_connection(
    smtp_server: SMTPTestServer, connect: Connect
) -> None:
    connect(smtp_server, max_messages_per_connection=3).deliver(make_messages(10))
    assert smtp_server.sessions == 4
    assert set(smtp_server.counts().values()) == {1}


def test_reconnects_after_max_connection_age(smtp_server: SMTPTestServer, connect: Connect) -> None:
    now = [1000.0]
    backend = connect(smtp_server, max_connection_age=300, clock=lambda: now[0])
    backend.deliver([make_message(1)])
    now[0] += 299
    backend.deliver([make_message(2)])
    assert smtp_server.sessions == 1
    now[0] += 2
    backend.deliver([make_message(3)])
    assert smtp_server.sessions == 2


def test_non_ascii_recipient_uses_smtputf8(smtp_server: SMTPTestServer, connect: Connect) -> None:
    results = connect(smtp_server).deliver([make_message(1, to="zoë@example.com")])
    assert results[0].status == "sent"
    assert smtp_server.messages[0].rcpt_tos == ("zoë@example.com",)


# --- faults ------------------------------------------------------------------------------


def test_421_greeting_once_reconnects_and_sends(
    smtp_server: SMTPTestServer, connect: Connect
) -> None:
    smtp_server.fail("connect", "421 4.3.2 Too busy, try later", times=1)
    results = connect(smtp_server).deliver(make_messages(3))
    assert [r.status for r in results] == ["sent"] * 3
    assert smtp_server.counts() == {f"reader{n}@example.com": 1 for n in (1, 2, 3)}
    assert smtp_server.sessions == 2


def test_421_greeting_always_defers_the_batch(
    smtp_server: SMTPTestServer, connect: Connect
) -> None:
    smtp_server.fail("connect", "421 4.3.2 Too busy, try later")
    results = connect(smtp_server).deliver(make_messages(4))
    assert {r.status for r in results} == {"deferred"}
    assert all(r.retryable and "421" in (r.error or "") for r in results)
    assert smtp_server.messages == []
    # One retry, then the rest of the batch is not tried against a server that is down.
    assert smtp_server.sessions == 2


def test_451_at_rcpt_defers_and_a_retry_sends_once(
    smtp_server: SMTPTestServer, connect: Connect
) -> None:
    backend = connect(smtp_server)
    smtp_server.fail("rcpt", "451 4.3.0 Try again later", address="reader2@example.com", times=1)
    results = by_id(backend.deliver(make_messages(3)))
    assert results[2].status == "deferred" and results[2].retryable
    assert results[2].raw == {"stage": "RCPT", "code": 451, "reply": "4.3.0 Try again later"}
    assert results[1].status == results[3].status == "sent"

    assert backend.deliver([make_message(2)])[0].status == "sent"  # the outbox's retry
    assert set(smtp_server.counts().values()) == {1} and len(smtp_server.counts()) == 3


@pytest.mark.parametrize(
    ("stage", "reply", "status", "retryable", "policy"),
    [
        ("rcpt", "550 5.1.1 No such user here", "rejected", False, False),
        ("rcpt", "550 No such user here", "rejected", False, False),
        ("rcpt", "552 5.2.2 Mailbox full", "deferred", True, False),
        ("rcpt", "550 5.7.1 Rejected by policy", "failed", True, True),
        ("data", "550 5.7.1 Message refused as spam", "failed", True, True),
        ("data", "552 5.3.4 Message too big for system", "failed", False, False),
        ("data", "554 Transaction failed", "failed", False, False),
        ("mail", "451 4.4.5 Insufficient system storage", "deferred", True, False),
    ],
)
def test_refusals_map_to_results(
    smtp_server: SMTPTestServer,
    connect: Connect,
    stage: str,
    reply: str,
    status: str,
    retryable: bool,
    policy: bool,
) -> None:
    # A MAIL fault has no recipient to match: it hits the first message.
    refused = 1 if stage == "mail" else 2
    address = None if stage == "mail" else "reader2@example.com"
    smtp_server.fail(stage, reply, address=address, times=1)
    results = by_id(connect(smtp_server).deliver(make_messages(3)))

    got = results.pop(refused)
    assert (got.status, got.retryable, got.policy) == (status, retryable, policy)
    assert reply.split(" ", 1)[1] in (got.error or "")
    # The session goes on (RSET) for the others; the refused one was not accepted.
    assert {r.status for r in results.values()} == {"sent"}
    assert smtp_server.count(f"reader{refused}@example.com") == 0
    assert smtp_server.sessions == 1


def test_421_mid_session_reconnects_and_retries_once(
    smtp_server: SMTPTestServer, connect: Connect
) -> None:
    smtp_server.fail("rcpt", "421 4.7.0 Closing connection", address="reader2@example.com", times=1)
    results = connect(smtp_server).deliver(make_messages(3))
    assert [r.status for r in results] == ["sent"] * 3
    assert set(smtp_server.counts().values()) == {1} and len(smtp_server.counts()) == 3
    assert smtp_server.sessions == 2


def test_421_twice_defers_that_message(smtp_server: SMTPTestServer, connect: Connect) -> None:
    smtp_server.fail("rcpt", "421 4.7.0 Closing connection", address="reader2@example.com", times=2)
    results = by_id(connect(smtp_server).deliver(make_messages(3)))
    assert results[2].status == "deferred" and "twice" in (results[2].error or "")
    assert results[1].status == results[3].status == "sent"
    assert smtp_server.count("reader2@example.com") == 0


def test_connection_dropped_before_data_is_retried(
    smtp_server: SMTPTestServer, connect: Connect
) -> None:
    smtp_server.fail("rcpt", address="reader2@example.com", drop=True, times=1)
    results = connect(smtp_server).deliver(make_messages(3))
    assert [r.status for r in results] == ["sent"] * 3
    assert set(smtp_server.counts().values()) == {1} and len(smtp_server.counts()) == 3


def test_connection_dropped_after_data_is_outcome_unknown(
    smtp_server: SMTPTestServer, connect: Connect
) -> None:
    smtp_server.fail("data", address="reader2@example.com", drop=True, times=1)
    results = by_id(connect(smtp_server).deliver(make_messages(3)))

    assert results[2].status == "deferred" and results[2].retryable
    assert UNKNOWN_AFTER_DATA in (results[2].error or "")
    # Not retried by the backend: the server may have kept it (here it read it whole).
    assert [m.rcpt_tos for m in smtp_server.unanswered] == [("reader2@example.com",)]
    assert results[1].status == results[3].status == "sent"
    assert smtp_server.counts() == {"reader1@example.com": 1, "reader3@example.com": 1}


def test_every_fault_at_once_loses_nothing(smtp_server: SMTPTestServer, connect: Connect) -> None:
    smtp_server.fail("rcpt", "421 4.7.0 Bye", address="reader2@example.com", times=1)
    smtp_server.fail("rcpt", "451 4.3.0 Later", address="reader3@example.com", times=1)
    smtp_server.fail("rcpt", "550 5.1.1 Unknown", address="reader4@example.com")
    smtp_server.fail("data", "552 5.3.4 Too big", address="reader5@example.com")
    smtp_server.fail("data", address="reader6@example.com", drop=True, times=1)
    messages = make_messages(8)
    results = by_id(connect(smtp_server, connections=2).deliver(messages))

    assert sorted(results) == [m.delivery_id for m in messages]
    expected = {2: "sent", 3: "deferred", 4: "rejected", 5: "failed", 6: "deferred"}
    for delivery_id, result in results.items():
        assert result.status == expected.get(delivery_id, "sent"), result
    counts = smtp_server.counts()
    assert all(counts[m.to_email] == (results[m.delivery_id].status == "sent") for m in messages)


# --- TLS and AUTH ------------------------------------------------------------------------


def test_starttls_and_auth(test_ca: LocalCA, connect: Connect) -> None:
    with SMTPTestServer(ca=test_ca, tls=True, users={"mailer": "s3cret"}) as server:
        backend = connect(
            server,
            security="starttls",
            ca_file=test_ca.ca_file,
            username="mailer",
            password="s3cret",
        )
        results = backend.deliver(make_messages(2))
    assert [r.status for r in results] == ["sent", "sent"]
    assert all(m.tls and m.login == "mailer" for m in server.messages)


def test_implicit_tls_and_auth(test_ca: LocalCA, connect: Connect) -> None:
    with SMTPTestServer(ca=test_ca, implicit_tls=True, users={"mailer": "s3cret"}) as server:
        backend = connect(
            server, security="ssl", ca_file=test_ca.ca_file, username="mailer", password="s3cret"
        )
        assert backend.deliver([make_message()])[0].status == "sent"
    assert server.messages[0].login == "mailer"


def test_wrong_password_is_a_configuration_error(test_ca: LocalCA, connect: Connect) -> None:
    with SMTPTestServer(ca=test_ca, tls=True, users={"mailer": "s3cret"}) as server:
        backend = connect(
            server, security="starttls", ca_file=test_ca.ca_file, username="mailer", password="no"
        )
        with pytest.raises(BackendConfigError, match="535"):
            backend.deliver(make_messages(2))
    assert server.messages == []


def test_certificate_is_verified(test_ca: LocalCA, connect: Connect) -> None:
    # Without the test CA the self-made certificate is not trusted: no silent fallback.
    with (
        SMTPTestServer(ca=test_ca, tls=True) as server,
        pytest.raises(BackendConfigError, match="ca_file"),
    ):
        connect(server, security="starttls").deliver([make_message()])
    assert server.messages == []


def test_server_without_starttls_is_a_configuration_error(
    smtp_server: SMTPTestServer, connect: Connect
) -> None:
    with pytest.raises(BackendConfigError, match="STARTTLS"):
        connect(smtp_server, security="starttls").deliver([make_message()])
    assert smtp_server.messages == []


def test_server_requiring_starttls_refuses_plain_mail(test_ca: LocalCA, connect: Connect) -> None:
    with (
        SMTPTestServer(ca=test_ca, tls=True) as server,
        pytest.raises(BackendConfigError, match="530"),
    ):
        connect(server).deliver([make_message()])


def test_no_password_over_a_clear_connection() -> None:
    with pytest.raises(ValidationError, match="no password in clear"):
        SMTPOptions(security="none", username="mailer", password="s3cret")


# --- connections and pacing --------------------------------------------------------------


def test_parallel_connections_deliver_each_once(
    smtp_server: SMTPTestServer, connect: Connect
) -> None:
    messages = make_messages(40)
    results = connect(smtp_server, connections=4).deliver(messages)
    assert [r.delivery_id for r in results] == [m.delivery_id for m in messages]
    assert {r.status for r in results} == {"sent"}
    assert smtp_server.counts() == {m.to_email: 1 for m in messages}
    assert 1 <= smtp_server.sessions <= 4
    assert smtp_server.max_concurrent <= 4


def test_rate_limit_holds_across_connections(smtp_server: SMTPTestServer, connect: Connect) -> None:
    waits: list[float] = []
    limiter = RateLimiter(10, clock=lambda: 0.0, sleep=waits.append)  # time stands still
    connect(smtp_server, connections=3, rate=10, limiter=limiter).deliver(make_messages(6))
    # One message every 0.1 s across all threads: the n-th waits n × 0.1 s.
    assert sorted(waits) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert len(smtp_server.messages) == 6


# --- messages that must not go -----------------------------------------------------------


def test_bare_line_feed_is_refused(smtp_server: SMTPTestServer, connect: Connect) -> None:
    bad = make_message(1, raw=b"Subject: x\r\n\r\nbare\nline feed\r\n")
    results = connect(smtp_server).deliver([bad, make_message(2)])
    assert results[0].status == "failed" and "bare CR or LF" in (results[0].error or "")
    assert results[1].status == "sent"
    assert [m.rcpt_tos for m in smtp_server.messages] == [("reader2@example.com",)]


def test_line_break_in_an_address_is_refused(smtp_server: SMTPTestServer, connect: Connect) -> None:
    bad = make_message(1, to="reader1@example.com\r\nRCPT TO:<victim@example.net>")
    results = connect(smtp_server).deliver([bad])
    assert results[0].status == "failed" and "SE-2" in (results[0].error or "")
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("code", "text", "status"),
    [
        (452, "4.2.2 Mailbox full", "deferred"),
        (550, "5.2.1 Mailbox disabled", "rejected"),
        (553, "5.1.3 Bad address syntax", "rejected"),
        (550, "4.1.1 Contradictory enhanced code", "rejected"),
        (554, "5.6.0 Bad content", "failed"),
        (354, "unexpected", "deferred"),
    ],
)
def test_classify(code: int, text: str, status: str) -> None:
    assert classify(make_message(), "RCPT", code, text).status == status


# --- configuration -----------------------------------------------------------------------


def test_make_backend_reads_the_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_ca: LocalCA
) -> None:
    (tmp_path / "ca.pem").write_bytes(test_ca.ca_file.read_bytes())
    (tmp_path / "syndicate.toml").write_text(
        '[delivery]\nbackend = "smtp"\n\n[delivery.smtp]\nhost = "mail.example.org"\n'
        'username = "mailer"\nconnections = 3\nca_file = "ca.pem"\n'
    )
    monkeypatch.setenv("SYNDICATE_DELIVERY__SMTP__PASSWORD", "from-env")
    backend = make_backend(load_settings(tmp_path / "syndicate.toml"))
    assert isinstance(backend, SMTPBackend)
    assert backend.options.password is not None
    assert backend.options.password.get_secret_value() == "from-env"
    assert backend.options.connections == 3
    assert backend.options.ca_file == tmp_path / "ca.pem"


def test_make_backend_reads_the_password_file(tmp_path: Path) -> None:
    (tmp_path / "smtp-password").write_text("from-file\n")
    (tmp_path / "syndicate.toml").write_text(
        '[delivery]\nbackend = "smtp"\n\n[delivery.smtp]\nusername = "mailer"\n'
        'password_file = "smtp-password"\n'
    )
    backend = make_backend(load_settings(tmp_path / "syndicate.toml"))
    assert isinstance(backend, SMTPBackend) and backend.options.password is not None
    assert backend.options.password.get_secret_value() == "from-file"
