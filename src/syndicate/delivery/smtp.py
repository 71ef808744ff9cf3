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

This module runs the transactions; :mod:`.smtp_replies` classifies refusals and
:mod:`.smtp_sessions` opens, reuses and ends the sessions.
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
from syndicate.delivery.smtp_replies import (
    UNKNOWN_AFTER_DATA,
    classify,
    error_result,
    queue_id,
    reply_text,
)
from syndicate.delivery.smtp_sessions import Session, SessionPool, Unavailable, tls_context
from syndicate.errors import BackendConfigError
from syndicate.models import DeliveryResult, OutboundMessage

log = logging.getLogger(__name__)

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
    raw_only: ClassVar[bool] = True

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
        self.tls = tls_context(options.ca_file)
        self._sessions = SessionPool(options, self.tls, clock, backend=self.name)
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
        self._sessions.close()

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
            result or error_result(message, "deferred", reason, retryable=True)
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
            except (BackendConfigError, Unavailable) as err:
                batch.halt(err)
            except Exception as err:  # a bug: keep the message, report it
                log.exception("smtp: unexpected error sending delivery %s", message.delivery_id)
                error = f"unexpected {type(err).__name__}: {err}"
                batch.results[index] = error_result(message, "deferred", error, retryable=True)

    def _send_one(self, message: OutboundMessage) -> DeliveryResult:
        problem = _problem(message, self.options.return_path)
        if problem:
            return error_result(message, "failed", problem)
        self.message_limiter.acquire()
        for attempt in (1, 2):
            session = self._sessions.checkout()
            try:
                result = self._transaction(session, message)
            except _Reconnect as err:
                session.quit()
                if attempt == 2:
                    return error_result(message, "deferred", f"{err} (twice)", retryable=True)
                log.info("smtp: %s; reconnecting once", err)
                continue
            except BaseException:
                session.quit()
                raise
            self._sessions.checkin(session)
            return result
        raise AssertionError("unreachable")

    def _transaction(self, session: Session, message: OutboundMessage) -> DeliveryResult:
        smtp = session.smtp
        sender = self.options.return_path or message.from_email
        options: list[str] = []
        if not message.raw.isascii() and smtp.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        if not (sender.isascii() and message.to_email.isascii()):
            if not smtp.has_extn("smtputf8"):
                return error_result(message, "failed", "non-ASCII address; server lacks SMTPUTF8")
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
                send_data(smtp, message.raw)
                stage = "end of DATA"
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            raise _Reconnect(f"connection lost at {stage}: {err}") from err
        finally:
            smtp.command_encoding = "ascii"  # mail() switches it for SMTPUTF8
        if stage == "end of DATA":
            return self._final_reply(session, message)
        return self._refused(session, message, stage, code, reply_text(reply))

    @staticmethod
    def _pipelined(smtp: smtplib.SMTP, sender: str, recipient: str) -> tuple[str, int, bytes]:
        """MAIL, RCPT and DATA in one write (RFC 2920): one round trip instead of three.

        Returns the stage that answered last (``DATA`` with 354 when all went well) and
        its reply. Every command's reply is read, in order, whatever the earlier ones
        said, so the session stays in step.
        """
        smtp.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n")
        replies: list[tuple[str, int, bytes]] = []
        for stage in ("MAIL", "RCPT"):
            code, reply = smtp.getreply()
            if code == 421:  # the server closes now: no further reply will come
                return stage, code, reply
            replies.append((stage, code, reply))
        data_code, data_reply = smtp.getreply()
        for stage, code, reply in replies:
            if code not in (250, 251):
                if data_code == 354:  # a server that accepted DATA anyway: end it empty
                    smtp.send(".\r\n")
                    smtp.getreply()
                return stage, code, reply
        return "DATA", data_code, data_reply

    def _final_reply(self, session: Session, message: OutboundMessage) -> DeliveryResult:
        try:
            code, reply = session.smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            session.sent = self.options.max_messages_per_connection  # retire it
            return error_result(message, "deferred", f"{UNKNOWN_AFTER_DATA}: {err}", retryable=True)
        text = reply_text(reply)
        session.sent += 1
        if 200 <= code < 300:
            raw = {"stage": "end of DATA", "code": code, "reply": text}
            return DeliveryResult(
                message.delivery_id, "sent", provider_message_id=queue_id(text), raw=raw
            )
        return self._refused(session, message, "end of DATA", code, text)

    def _refused(
        self, session: Session, message: OutboundMessage, stage: str, code: int, text: str
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


_IOV_MAX = 512  # buffers per sendmsg call, well within every system's IOV_MAX


def send_data(smtp: smtplib.SMTP, raw: bytes) -> None:
    """Send ``raw`` as DATA's content: dot-stuffed and ended with ``CRLF.CRLF``.

    On a plain socket the message is not copied: the stretches between the dots to
    double go out with one ``sendmsg`` (scatter/gather) call, where building the stuffed
    copy of a 70 KB message cost more than the rest of a transaction's own work. TLS
    sockets have no ``sendmsg``: they get :func:`dot_stuff`'s copy.
    """
    sock = smtp.sock
    if sock is None:
        raise smtplib.SMTPServerDisconnected("please run connect() first")
    if isinstance(sock, ssl.SSLSocket) or not hasattr(sock, "sendmsg"):
        smtp.send(dot_stuff(raw))
        return
    pending: list[bytes | memoryview] = _stuffed_pieces(raw)
    while pending:
        chunk = pending[:_IOV_MAX]
        sent = sock.sendmsg(chunk)
        while sent and chunk:  # drop what went; a partial write resumes mid-buffer
            size = len(chunk[0])
            if sent >= size:
                sent -= size
                chunk.pop(0)
                pending.pop(0)
            else:
                pending[0] = memoryview(pending[0])[sent:]
                sent = 0


def _stuffed_pieces(raw: bytes) -> list[bytes | memoryview]:
    """:func:`dot_stuff`'s result as pieces of ``raw`` (views, not copies) and the added
    dots and end; joined, they are exactly ``dot_stuff(raw)``."""
    view = memoryview(raw)
    pieces: list[bytes | memoryview] = [b"."] if raw.startswith(b".") else []
    start = 0
    found = raw.find(b"\r\n.")
    while found >= 0:
        pieces += [view[start : found + 2], b"."]
        start = found + 2
        found = raw.find(b"\r\n.", start)
    pieces.append(view[start:])
    pieces.append(b".\r\n" if raw.endswith(b"\r\n") else b"\r\n.\r\n")
    return pieces


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
    if message.crlf_only:  # guaranteed by its builder: no need to scan every message
        return None
    raw = message.raw
    crlf = raw.count(b"\r\n")
    if raw.count(b"\n") != crlf or raw.count(b"\r") != crlf:
        return "raw message has a bare CR or LF; SMTP needs CRLF line ends (RFC 5321 §2.3.8)"
    return None
