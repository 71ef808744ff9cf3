"""A real SMTP server in the test process (aiosmtpd), told how to fail (STYLE 9, TE-5).

:class:`SMTPTestServer` runs an aiosmtpd ``Controller`` on 127.0.0.1 at an ephemeral
port and records every message it accepts (envelope and the exact bytes after
dot-unstuffing). Faults are programmed per stage, per recipient and "the first N times
only":

- ``connect``: answer the greeting with e.g. ``421`` and close;
- ``mail`` / ``rcpt`` / ``data``: answer that command (``data`` = the reply after the
  final dot) with the given reply, optionally closing the connection after it (421);
- ``drop=True`` at ``data``: read the whole message, then drop the connection without
  any reply (the "outcome unknown" case; such messages are kept in ``unanswered``).

``tls=True`` requires STARTTLS with a certificate from :func:`make_test_ca`;
``users={"name": "password"}`` requires AUTH (LOGIN and PLAIN). ``implicit_tls=True``
serves SMTPS (TLS from the first byte). Sessions are counted, and the most at once.

Use the ``smtp_server`` fixture or ``SMTPTestServer(...)`` as a context manager; test
modules pull the fixtures in with ``pytest_plugins = ["tests.smtpserver"]``.
(PYTEST_DONT_REWRITE: test modules import this module before pytest could rewrite it.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

STAGES = ("connect", "mail", "rcpt", "data")


@dataclass
class Fault:
    """How the server misbehaves at ``stage`` for ``address`` (any when ``None``).

    ``times`` limits it to the first N matching occasions (``None``: always).
    """

    stage: str
    reply: str = ""
    address: str | None = None
    times: int | None = None
    close: bool = False
    drop: bool = False
    hits: int = 0


@dataclass(frozen=True)
class Received:
    """One message the server accepted (or, in ``unanswered``, read and never answered)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    session: int
    tls: bool
    login: str | None


@dataclass(frozen=True)
class LocalCA:
    """A CA and a server certificate for 127.0.0.1/localhost, as PEM files."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """The server side's TLS context."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_test_ca(folder: Path) -> LocalCA:
    """Write a fresh CA and a server certificate signed by it into ``folder``."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "syndicate test CA")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        _builder(name, ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca = LocalCA(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca.ca_file.write_bytes(ca_cert.public_bytes(pem))
    ca.cert_file.write_bytes(cert.public_bytes(pem))
    ca.key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: Any, now: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
    )


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


class _Handler:
    """aiosmtpd hooks: apply faults, record what was accepted."""

    def __init__(self, server: SMTPTestServer) -> None:
        self.server = server

    async def handle_EHLO(
        self,
        smtp: _FaultySMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.server.pipelining:  # aiosmtpd reads commands in order, so it can
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self,
        smtp: _FaultySMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        fault = self.server.take("mail", None)
        if fault:
            return smtp.answer(fault)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self,
        smtp: _FaultySMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        fault = self.server.take("rcpt", address)
        if fault:
            return smtp.answer(fault)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, smtp: _FaultySMTP, session: Session, envelope: Envelope) -> str:
        if self.server.data_delay:
            await asyncio.sleep(self.server.data_delay)
        fault = next(
            (f for a in envelope.rcpt_tos if (f := self.server.take("data", a))), None
        ) or self.server.take("data", None)
        received = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            content=bytes(envelope.original_content or b""),
            session=smtp.number,
            tls=session.ssl is not None,
            login=_login(session),
        )
        if fault and fault.drop:
            self.server.record(received, answered=False)
            return smtp.answer(fault)
        if fault:
            return smtp.answer(fault)
        queue_id = self.server.record(received, answered=True)
        return f"250 2.0.0 Ok: queued as Q{queue_id:06d}"


def _login(session: Session) -> str | None:
    data = session.auth_data
    return data.login.decode() if isinstance(data, LoginPassword) else None


class _FaultySMTP(SMTP):
    """aiosmtpd's SMTP with a faulty greeting, close-after-reply and drop-instead-of-reply."""

    def __init__(self, server: SMTPTestServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.test_server = server
        self.number = 0
        self._after_reply: str | None = None

    def answer(self, fault: Fault) -> str:
        self._after_reply = "drop" if fault.drop else ("close" if fault.close else None)
        return fault.reply or "250 OK"

    def connection_made(self, transport: Any) -> None:
        if self._original_transport is None:  # not the second call after STARTTLS
            self.number = self.test_server.opened()
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.test_server.closed()
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        fault = self.test_server.take("connect", None)
        if fault:
            await super().push(fault.reply or "421 4.3.2 Service not available")
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()

    async def push(self, status: Any) -> None:
        after, self._after_reply = self._after_reply, None
        if after == "drop":
            assert self.transport is not None
            self.transport.abort()
            return
        await super().push(status)
        if after == "close" and self.transport is not None:
            self.transport.close()


class _Controller(Controller):
    def __init__(self, server: SMTPTestServer, **kwargs: Any) -> None:
        super().__init__(_Handler(server), hostname="127.0.0.1", port=0, **kwargs)
        self.test_server = server

    def factory(self) -> SMTP:
        with warnings.catch_warnings():  # "AUTH without TLS" is wrong under implicit TLS
            warnings.simplefilter("ignore")
            return _FaultySMTP(self.test_server, self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # Bound to port 0: learn the real port before the base class connects to it.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SMTPTestServer:
    """A running aiosmtpd server with programmable faults; see the module doc."""

    def __init__(
        self,
        *,
        ca: LocalCA | None = None,
        tls: bool = False,
        implicit_tls: bool = False,
        users: dict[str, str] | None = None,
        pipelining: bool = False,
    ) -> None:
        self.pipelining = pipelining
        # Seconds to sit on each message before answering DATA: a slow server, so that a
        # test can stop a sender while a batch is in flight.
        self.data_delay = 0.0
        self.messages: list[Received] = []
        self.arrivals: list[float] = []  # time.monotonic() of each accepted message
        self.unanswered: list[Received] = []
        self.faults: list[Fault] = []
        self.sessions = 0
        self.max_concurrent = 0
        self._open = 0
        self._lock = threading.Lock()
        self.users = users or {}
        kwargs: dict[str, Any] = {"server_hostname": "localhost", "ident": "syndicate-test"}
        if (tls or implicit_tls) and ca is None:
            raise ValueError("TLS needs a LocalCA")
        if tls and ca:
            kwargs.update(tls_context=ca.server_context(), require_starttls=True)
        if implicit_tls and ca:
            # aiosmtpd sees only STARTTLS as TLS; the session is encrypted from the start.
            kwargs.update(ssl_context=ca.server_context(), auth_require_tls=False)
        if users:
            kwargs.update(auth_required=True, authenticator=self._authenticate)
        self._controller = _Controller(self, **kwargs)

    def __enter__(self) -> SMTPTestServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Serve, then forget the probe connection the Controller makes at start."""
        self._controller.start()
        deadline = time.monotonic() + 5
        while self._open and time.monotonic() < deadline:  # the probe is closing
            time.sleep(0.01)
        with self._lock:
            self.sessions = self.max_concurrent = 0

    def stop(self) -> None:
        """Stop serving."""
        self._controller.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._controller.port)

    def fail(
        self,
        stage: str,
        reply: str = "",
        *,
        address: str | None = None,
        times: int | None = None,
        close: bool = False,
        drop: bool = False,
    ) -> Fault:
        """Program a fault (see :class:`Fault`); a ``421`` reply closes the connection."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}")
        fault = Fault(stage, reply, address, times, close or reply.startswith("421"), drop)
        with self._lock:
            self.faults.append(fault)
        return fault

    def take(self, stage: str, address: str | None) -> Fault | None:
        """The fault that applies now, counting its use."""
        with self._lock:
            for fault in self.faults:
                if fault.stage != stage or fault.address != address:
                    continue
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                fault.hits += 1
                return fault
        return None

    def record(self, received: Received, *, answered: bool) -> int:
        """Keep ``received``; its number among the accepted messages."""
        with self._lock:
            (self.messages if answered else self.unanswered).append(received)
            if answered:
                self.arrivals.append(time.monotonic())
            return len(self.messages)

    def opened(self) -> int:
        """Count a new session; its number."""
        with self._lock:
            self.sessions += 1
            self._open += 1
            self.max_concurrent = max(self.max_concurrent, self._open)
            return self.sessions

    def closed(self) -> None:
        """Count a session's end."""
        with self._lock:
            self._open -= 1

    def count(self, address: str) -> int:
        """How many accepted messages were addressed to ``address``."""
        with self._lock:
            return sum(address in m.rcpt_tos for m in self.messages)

    def counts(self) -> Counter[str]:
        """Accepted messages per recipient."""
        with self._lock:
            return Counter(a for m in self.messages for a in m.rcpt_tos)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            user, password = data.login.decode(), data.password.decode()
            if self.users.get(user) == password:
                return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    """A CA and server certificate for 127.0.0.1, made once per test run."""
    return make_test_ca(tmp_path_factory.mktemp("smtp-ca"))


@pytest.fixture(params=[False, True], ids=["one-by-one", "pipelining"])
def smtp_server(request: pytest.FixtureRequest) -> Iterator[SMTPTestServer]:
    """A plain SMTP server (no TLS, no AUTH) on 127.0.0.1, with and without PIPELINING
    advertised, so every fault is met by both ways of sending a transaction."""
    with SMTPTestServer(pipelining=request.param) as server:
        yield server
