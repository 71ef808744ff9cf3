"""SMTP delivery with smtplib: reused connections, parallel sessions, exact bytes.

Each message is one transaction with one recipient (STANDARDS SM-5): ``MAIL FROM``
(``return_path``, else the From address), ``RCPT TO``, ``DATA``, then ``raw`` exactly as
built. ``raw`` already ends lines in CRLF and may be DKIM-signed, so it is only
dot-stuffed (RFC 5321 §4.5.2), never re-encoded; a ``raw`` with a bare CR or LF is
refused rather than silently "fixed" (which would break the signature).

``connections`` threads each hold one SMTP session from a shared pool; a session is
reused for up to ``max_messages_per_connection`` messages and ``max_connection_age``
seconds (Postfix's reuse limits). ``rate`` is enforced per message across all threads.
TLS is ``starttls`` (587) or implicit ``ssl`` (465) with a verifying context
(SM-6); ``ca_file`` adds a private CA, and there is no way to turn verification off.

Replies map to results (SM-1, SM-2):

=================================  ======================================================
reply                              result
=================================  ======================================================
2xx after DATA                     sent (the queue id, when the reply names one)
421, or connection lost before     reconnect and retry the message once, then deferred
the end of DATA
4xx                                deferred
5.7.x                              failed, policy, retryable (the channel pauses)
5.2.2 (mailbox full)               deferred
5.1.x, 5.2.1, 550 to RCPT          rejected (a hard bounce)
other 5xx                          failed
connection lost after DATA         deferred: the outcome is unknown (possible duplicate)
AUTH refused (535), 530, bad cert  BackendConfigError: dispatch stops
=================================  ======================================================
"""

from __future__ import annotations

import logging
import queue
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from syndicate.config import read_secret
from syndicate.delivery.base import Backend, BackendOptions, Pacer, RateLimiter
from syndicate.errors import BackendConfigError, ConfigError
from syndicate.models import DeliveryResult, OutboundMessage

log = logging.getLogger(__name__)

UNKNOWN_AFTER_DATA = "outcome unknown after DATA (possible duplicate on retry)"
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")
# "250 2.0.0 Ok: queued as 4Xy1Z2" (Postfix), "250 Ok 0100018f..." (Amazon SES).
_QUEUE_ID = re.compile(
    r"queued as\s+<?([^\s>]+)|^(?:2\.\d+\.\d+\s+)?ok[:\s]+([\w.@-]{8,})", re.IGNORECASE
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SMTPOptions(BackendOptions):
    """``[delivery.smtp]``."""

    host: str = Field("localhost", description="SMTP server (submission or relay).")
    port: int = Field(587, ge=1, le=65535, description="587 for starttls, 465 for ssl.")
    security: Literal["starttls", "ssl", "none"] = Field("starttls", description="TLS mode.")
    username: str | None = Field(None, description="AUTH user; no AUTH when unset.")
    password: SecretStr | None = Field(None, description="AUTH password.")
    password_file: Path | None = Field(None, description="File holding the password.")
    ca_file: Path | None = Field(None, description="PEM CA bundle to trust instead.")
    timeout: float = Field(120.0, gt=0, description="Seconds to wait for each reply.")
    connections: int = Field(1, ge=1, le=64, description="Parallel SMTP sessions.")
    max_messages_per_connection: int = Field(100, ge=1, description="Then reconnect.")
    max_connection_age: float = Field(300.0, gt=0, description="Seconds; then reconnect.")
    helo: str | None = Field(None, description="EHLO name; default this host's FQDN.")
    return_path: str | None = Field(None, description="Envelope sender; default From.")

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> SMTPOptions:
        if self.security == "none" and self.username:
            raise ValueError("AUTH needs security = 'starttls' or 'ssl' (no password in clear)")
        return self


class _Reconnect(Exception):
    """The session ended (421, lost connection) before the message was handed over."""


class _Unavailable(Exception):
    """No session could be opened (refused, timeout, 4xx greeting): defer the rest."""


@dataclass(eq=False)
class _Session:
    smtp: smtplib.SMTP
    opened_at: float
    sent: int = 0


@dataclass(eq=False)
class _Batch:
    """One ``send_batch`` call, shared by its threads."""

    todo: queue.SimpleQueue[tuple[int, OutboundMessage]]
    results: list[DeliveryResult | None]
    halted: Exception | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def halt(self, err: Exception) -> None:
        with self.lock:
            self.halted = self.halted or err


class SMTPBackend(Backend):
    """Sends raw messages over SMTP with a pool of ``connections`` sessions.

    ``limiter`` paces messages (default ``RateLimiter(rate)``) and ``clock`` measures
    session age; both are injectable for tests. Call :meth:`open` (or use ``with``)
    before sending and :meth:`close` after: it ends every session with QUIT.
    """

    name: ClassVar[str] = "smtp"
    Options: ClassVar[type[BackendOptions]] = SMTPOptions
    options: SMTPOptions
    max_batch: ClassVar[int] = 100

    def __init__(
        self,
        options: BackendOptions,
        *,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(options, SMTPOptions):
            raise TypeError("SMTPBackend takes SMTPOptions")
        super().__init__(options)
        # Pacing is per message in the sending threads, so it holds across connections;
        # the base's per-batch pacing is turned off.
        self.message_limiter: Pacer = limiter or RateLimiter(options.rate)
        self.limiter = RateLimiter(0)
        self.clock = clock
        self.tls = _tls_context(options.ca_file)
        self._idle: list[_Session] = []
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def use_limiter(self, limiter: Pacer) -> None:
        """Pace each message with ``limiter`` (it holds across the sending threads)."""
        self.message_limiter = limiter

    @classmethod
    def from_settings(cls, options: BackendOptions, settings: Any) -> Backend:
        """Read the password from the option, the environment or ``password_file``."""
        if not isinstance(options, SMTPOptions):
            raise TypeError("SMTPBackend takes SMTPOptions")
        password = read_secret(options.password, options.password_file, settings)
        update: dict[str, Any] = {"password": SecretStr(password) if password else None}
        if options.ca_file:
            update["ca_file"] = settings.resolve(options.ca_file)
        return cls(options.model_copy(update=update))

    def open(self) -> None:
        """Start the sending threads (sessions open on first use)."""
        if self._pool is None and self.options.connections > 1:
            self._pool = ThreadPoolExecutor(
                self.options.connections, thread_name_prefix="syndicate-smtp"
            )

    def close(self) -> None:
        """Stop the threads and QUIT every idle session."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        with self._lock:
            idle, self._idle = self._idle, []
        for session in idle:
            _quit(session)

    def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryResult]:
        """Send ``messages`` on up to ``connections`` sessions; one result each, in order.

        Raises BackendConfigError (credentials, TLS trust, 530) only when no message of
        the batch was accepted; otherwise the unsent ones are deferred with that error.
        """
        batch = _Batch(queue.SimpleQueue(), [None] * len(messages))
        for item in enumerate(messages):
            batch.todo.put(item)
        workers = min(self.options.connections, len(messages))
        if workers <= 1:
            self._work(batch)
        else:
            self.open()
            assert self._pool is not None
            for future in [self._pool.submit(self._work, batch) for _ in range(workers)]:
                future.result()
        return self._settle(messages, batch)

    def _settle(self, messages: Sequence[OutboundMessage], batch: _Batch) -> list[DeliveryResult]:
        halted = batch.halted
        went = any(r is not None and r.status == "sent" for r in batch.results)
        # Raising drops the results: only when none says "sent", or we would send twice.
        if isinstance(halted, BackendConfigError) and not went:
            raise halted
        reason = f"not sent: {halted}" if halted else "not sent"
        return [
            result or _result(message, "deferred", reason, retryable=True)
            for message, result in zip(messages, batch.results, strict=True)
        ]

    def _work(self, batch: _Batch) -> None:
        # One thread's loop: take the next message until none is left. After a failure
        # that would repeat for every message (server down, credentials refused) the
        # rest are left unsent for _settle to defer.
        while True:
            try:
                index, message = batch.todo.get_nowait()
            except queue.Empty:
                return
            if batch.halted is not None:
                continue
            try:
                batch.results[index] = self._send_one(message)
            except (BackendConfigError, _Unavailable) as err:
                batch.halt(err)
            except Exception as err:  # a bug: keep the message, report it
                log.exception("smtp: unexpected error sending delivery %s", message.delivery_id)
                error = f"unexpected {type(err).__name__}: {err}"
                batch.results[index] = _result(message, "deferred", error, retryable=True)

    def _send_one(self, message: OutboundMessage) -> DeliveryResult:
        problem = _problem(message, self.options.return_path)
        if problem:
            return _result(message, "failed", problem)
        self.message_limiter.acquire()
        for attempt in (1, 2):
            session = self._checkout()
            try:
                result = self._transaction(session, message)
            except _Reconnect as err:
                _quit(session)
                if attempt == 2:
                    return _result(message, "deferred", f"{err} (twice)", retryable=True)
                log.info("smtp: %s; reconnecting once", err)
                continue
            except BaseException:
                _quit(session)
                raise
            self._checkin(session)
            return result
        raise AssertionError("unreachable")

    def _transaction(self, session: _Session, message: OutboundMessage) -> DeliveryResult:
        smtp = session.smtp
        sender = self.options.return_path or message.from_email
        options: list[str] = []
        if not message.raw.isascii() and smtp.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        if not (sender.isascii() and message.to_email.isascii()):
            if not smtp.has_extn("smtputf8"):
                return _result(message, "failed", "non-ASCII address; server lacks SMTPUTF8")
            options.append("SMTPUTF8")
        try:
            if not options and smtp.has_extn("pipelining"):
                stage = "MAIL/RCPT/DATA (pipelined)"
                stage, code, reply = self._pipelined(smtp, sender, message.to_email)
            else:
                stage, (code, reply) = "MAIL", smtp.mail(sender, options)
                if code == 250:
                    stage, (code, reply) = "RCPT", smtp.rcpt(message.to_email)
                if stage == "RCPT" and code in (250, 251):
                    stage, (code, reply) = "DATA", smtp.docmd("DATA")
            if stage == "DATA" and code == 354:
                # The body is sent whole or the connection is closed without the final
                # dot, and without the dot the server drops the transaction: retry is safe.
                smtp.send(dot_stuff(message.raw))
                stage = "end of DATA"
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            raise _Reconnect(f"connection lost at {stage}: {err}") from err
        finally:
            smtp.command_encoding = "ascii"  # mail() switches it for SMTPUTF8
        if stage == "end of DATA":
            return self._final_reply(session, message)
        return self._refused(session, message, stage, code, _text(reply))

    @staticmethod
    def _pipelined(smtp: smtplib.SMTP, sender: str, recipient: str) -> tuple[str, int, bytes]:
        """MAIL, RCPT and DATA in one write (RFC 2920): one round trip instead of three.

        Returns the stage that answered last (``DATA`` with 354 when all went well) and
        its reply. Every command's reply is read, in order, whatever the earlier ones
        said, so the session stays in step.
        """
        smtp.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n")
        replies = [("MAIL", *smtp.getreply()), ("RCPT", *smtp.getreply())]
        data_code, data_reply = smtp.getreply()
        for stage, code, reply in replies:
            if code not in (250, 251):
                if data_code == 354:  # a server that accepted DATA anyway: end it empty
                    smtp.send(".\r\n")
                    smtp.getreply()
                return stage, code, reply
        return "DATA", data_code, data_reply

    def _final_reply(self, session: _Session, message: OutboundMessage) -> DeliveryResult:
        try:
            code, reply = session.smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            session.sent = self.options.max_messages_per_connection  # retire it
            return _result(message, "deferred", f"{UNKNOWN_AFTER_DATA}: {err}", retryable=True)
        text = _text(reply)
        session.sent += 1
        if 200 <= code < 300:
            found = _QUEUE_ID.search(text)
            queue_id = (found.group(1) or found.group(2)) if found else None
            raw = {"stage": "end of DATA", "code": code, "reply": text}
            return DeliveryResult(
                message.delivery_id, "sent", provider_message_id=queue_id, raw=raw
            )
        return self._refused(session, message, "end of DATA", code, text)

    def _refused(
        self, session: _Session, message: OutboundMessage, stage: str, code: int, text: str
    ) -> DeliveryResult:
        if code == 421:
            raise _Reconnect(f"{stage}: 421 {text}")
        if code == 530:
            raise BackendConfigError(f"smtp: {stage}: 530 {text}", backend=self.name)
        try:  # clear the transaction so the session can carry the next message
            session.smtp.rset()
        except (smtplib.SMTPException, OSError):
            session.sent = self.options.max_messages_per_connection
        return classify(message, stage, code, text)

    def _checkout(self) -> _Session:
        stale: list[_Session] = []
        found: _Session | None = None
        with self._lock:
            while self._idle and found is None:
                session = self._idle.pop()
                if self._worn(session):
                    stale.append(session)
                else:
                    found = session
        for session in stale:
            _quit(session)
        if found is not None:
            return found
        try:
            return self._connect()
        except _Unavailable as err:  # e.g. a 421 greeting: one more try, then defer
            log.info("smtp: %s; trying once more", err)
            return self._connect()

    def _checkin(self, session: _Session) -> None:
        if self._worn(session) or session.smtp.sock is None:
            _quit(session)
            return
        with self._lock:
            self._idle.append(session)

    def _worn(self, session: _Session) -> bool:
        age = self.clock() - session.opened_at
        limit = self.options.max_messages_per_connection
        return session.sent >= limit or age >= self.options.max_connection_age

    def _connect(self) -> _Session:
        opts = self.options
        where = f"{opts.host}:{opts.port}"
        smtp: smtplib.SMTP | None = None
        try:
            if opts.security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    opts.host, opts.port, opts.helo, timeout=opts.timeout, context=self.tls
                )
            else:
                smtp = smtplib.SMTP(opts.host, opts.port, opts.helo, timeout=opts.timeout)
            smtp.ehlo_or_helo_if_needed()
            if opts.security == "starttls":
                self._starttls(smtp, where)
            if opts.username:
                self._login(smtp, where)
        except BackendConfigError:
            _close(smtp)
            raise
        except ssl.SSLCertVerificationError as err:
            _close(smtp)
            raise BackendConfigError(
                f"smtp: {where}: TLS certificate not trusted ({err.verify_message}); "
                "set ca_file if the server uses a private CA",
                backend=self.name,
            ) from err
        except smtplib.SMTPConnectError as err:  # the greeting was not 220
            _close(smtp)
            text = f"smtp: {where} greeted {err.smtp_code} {_text(err.smtp_error)}"
            if err.smtp_code >= 500:
                raise BackendConfigError(text, backend=self.name) from err
            raise _Unavailable(text) from err
        except OSError as err:  # includes every smtplib error, refusals, timeouts, TLS
            _close(smtp)
            raise _Unavailable(f"smtp: cannot open a session with {where}: {err}") from err
        log.debug("smtp: session opened with %s", where)
        return _Session(smtp, self.clock())

    def _starttls(self, smtp: smtplib.SMTP, where: str) -> None:
        # smtplib.starttls() returns quietly without TLS on a non-220 answer: check.
        if not smtp.has_extn("starttls"):
            raise BackendConfigError(f"smtp: {where} does not offer STARTTLS", backend=self.name)
        code, reply = smtp.starttls(context=self.tls)
        if code != 220:
            text = f"smtp: {where} answered STARTTLS with {code} {_text(reply)}"
            if code >= 500:
                raise BackendConfigError(text, backend=self.name)
            raise _Unavailable(text)
        smtp.ehlo()

    def _login(self, smtp: smtplib.SMTP, where: str) -> None:
        password = self.options.password.get_secret_value() if self.options.password else ""
        try:
            smtp.login(self.options.username or "", password)
        except smtplib.SMTPAuthenticationError as err:
            text = f"smtp: {where} refused AUTH: {err.smtp_code} {_text(err.smtp_error)}"
            if 400 <= err.smtp_code < 500:
                raise _Unavailable(text) from err
            raise BackendConfigError(text, backend=self.name) from err
        except smtplib.SMTPNotSupportedError as err:
            text = f"smtp: {where} does not offer AUTH"
            raise BackendConfigError(text, backend=self.name) from err
        except smtplib.SMTPException as err:  # "No suitable authentication method found."
            raise BackendConfigError(f"smtp: {where}: AUTH: {err}", backend=self.name) from err


def classify(message: OutboundMessage, stage: str, code: int, text: str) -> DeliveryResult:
    """The result of a refusal ``code text`` at ``stage`` (the table in the module doc)."""
    raw = {"stage": stage, "code": code, "reply": text}
    error = f"{stage}: {code} {text}"
    enhanced = _ENHANCED.match(text)
    # An enhanced code whose class contradicts the reply code is ignored.
    valid = enhanced is not None and enhanced.group(1) == str(code)[0]
    subject, detail = (enhanced.group(2), enhanced.group(3)) if enhanced and valid else ("", "")
    if 400 <= code < 500:
        return _result(message, "deferred", error, retryable=True, raw=raw)
    if not 500 <= code < 600:
        return _result(message, "deferred", f"unexpected reply {error}", retryable=True, raw=raw)
    if subject == "7":
        return _result(message, "failed", error, retryable=True, policy=True, raw=raw)
    if (subject, detail) == ("2", "2"):
        return _result(message, "deferred", error, retryable=True, raw=raw)
    if subject == "1" or (subject, detail) == ("2", "1") or (stage == "RCPT" and code == 550):
        return _result(message, "rejected", error, raw=raw)
    return _result(message, "failed", error, raw=raw)


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    # Verifying, with hostname checks (SM-6); ca_file replaces the system trust store.
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(f"[delivery.smtp] ca_file {ca_file}: {err}") from err


def dot_stuff(raw: bytes) -> bytes:
    """``raw`` ready for DATA: a dot doubled at each line start, then ``CRLF.CRLF``."""
    data = raw.replace(b"\r\n.", b"\r\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _problem(message: OutboundMessage, return_path: str | None) -> str | None:
    sender = return_path or message.from_email
    for label, address in (("To", message.to_email), ("sender", sender)):
        if not address or _CONTROL.search(address):
            return f"{label} address {address!r} is empty or holds a control character (SE-2)"
    raw = message.raw
    crlf = raw.count(b"\r\n")
    if raw.count(b"\n") != crlf or raw.count(b"\r") != crlf:
        return "raw message has a bare CR or LF; SMTP needs CRLF line ends (RFC 5321 §2.3.8)"
    return None


def _result(
    message: OutboundMessage,
    status: str,
    error: str,
    *,
    retryable: bool = False,
    policy: bool = False,
    raw: dict[str, Any] | None = None,
) -> DeliveryResult:
    return DeliveryResult(
        message.delivery_id, status, retryable=retryable, error=error, policy=policy, raw=raw
    )


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _quit(session: _Session) -> None:
    try:
        session.smtp.quit()
    except (smtplib.SMTPException, OSError):
        session.smtp.close()


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        smtp.close()
