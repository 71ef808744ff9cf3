"""What `syndicate serve` adds to uvicorn: a deadline for request heads, and access logs
without link tokens.

uvicorn bounds how long an idle keep-alive connection stays open (and, with h11 only,
the size of a request head), but not how long a client may take to send its request
line and headers: a client that drips a header line every few seconds, or connects and
sends nothing, holds its connection for ever (slowloris). The protocol made by
:func:`guarded_protocol` — uvicorn's httptools protocol, the fast one, when httptools is
installed — closes a connection whose request head has not fully arrived within
``header_timeout`` seconds of the connection opening, or of the previous response
ending, and answers 431 to a head over ``MAX_HEAD_BYTES``. The body is not under this
deadline: the routes cap what they read.

The paths ``/confirm/<token>``, ``/u/<token>`` and ``/p/<token>`` are capabilities: whoever
reads one from a log can confirm, unsubscribe or change preferences. :class:`RedactTokens`
replaces the token with ``[token]`` in every record it sees.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from syndicate.web.fastlane import FastLane
from syndicate.web.lean import LeanFiles

HEADER_TIMEOUT = 10.0
"""Seconds a client has to send a whole request head."""
MAX_HEAD_BYTES = 16 * 1024
"""The largest request line and headers accepted (h11 answers 400 past it)."""
KEEP_ALIVE_TIMEOUT = 5
"""Seconds an idle keep-alive connection stays open (uvicorn's default)."""

_TOKEN_PATH = re.compile(
    r"""((?:^|(?<=[\s"'(=]))(?:https?://[^/\s"']+)?/(?:confirm|erase|u|p)/)[^/?#\s"']+"""
)


def redact(text: str) -> str:
    """``text`` with the token of every confirm, erase, unsubscribe and preferences path
    hidden."""
    return _TOKEN_PATH.sub(r"\1[token]", text)


class RedactTokens(logging.Filter):
    """Hides link tokens in a record's message and arguments (e.g. uvicorn's access
    log, whose path is an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Arguments first, keeping their shape (uvicorn's formatters unpack them)...
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        # ...then the whole message, for a token put together by the format itself.
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a broken record: logging reports it as usual
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def redact_logger(logger: logging.Logger | logging.Handler) -> None:
    """Add :class:`RedactTokens` to ``logger`` (or a handler), once."""
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())


def redact_handlers(logger: logging.Logger | None = None) -> None:
    """Add :class:`RedactTokens` to every handler of ``logger`` (the root logger), so
    that no record reaching them — the app's own included — shows a link token."""
    for handler in (logger or logging.getLogger()).handlers:
        redact_logger(handler)


class HeadDeadline:
    """A deadline and a size cap on each request head, for a uvicorn HTTP protocol.

    Mixed into uvicorn's httptools protocol (the fast one, used when httptools is
    installed, as it is with ``uvicorn[standard]``) or its h11 protocol. Both set
    ``self.cycle`` when a request head is complete, which is how a head's arrival is seen.
    """

    header_timeout = HEADER_TIMEOUT
    max_head_bytes = MAX_HEAD_BYTES
    # Provided by the uvicorn protocol this is mixed into.
    cycle: Any
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    logger: logging.Logger
    timeout_keep_alive: float

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._head_timer: asyncio.TimerHandle | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._lazy = False  # waiting for a head after a fast-lane answer (see below)
        self._fast_answers = 0
        self._arm(None)

    def data_received(self, data: bytes) -> None:
        waiting = self._head_timer is not None or self._lazy
        answers = self._fast_answers
        super().data_received(data)  # type: ignore[misc]
        if self._fast_answers != answers:
            # The fast lane answered a head in this chunk and is waiting for the next
            # one (await_next_head); these bytes were that request's.
            return
        if self.cycle is not self._waiting_after:
            self._disarm()  # a new request head has arrived whole
        elif waiting:
            self._data_since = True
            # httptools sets no limit of its own on a head's size (h11 does).
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
                self._disarm()
                self.transport.write(_TOO_LARGE)
                self.transport.close()

    def on_response_complete(self) -> None:
        done = self.cycle
        super().on_response_complete()  # type: ignore[misc]
        # A pipelined request may already have started; otherwise the next head is due.
        if self.cycle is done and not self.transport.is_closing():
            self._arm(done)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        super().connection_lost(exc)  # type: ignore[misc]

    def await_next_head(self, after: Any) -> None:
        """After a fast-lane answer (:mod:`syndicate.web.fastlane`): the same two limits
        as after any answer — uvicorn's keep-alive (close when no byte comes within
        ``timeout_keep_alive``) and the head deadline — without a timer per request.

        One watchdog per connection wakes at the earliest moment a limit could be
        reached and, if requests were answered since, sleeps again until the new one:
        a client polling at full speed costs two attribute writes per request, not the
        creation and cancelling of two timers.
        """
        self._disarm()
        self._waiting_after = after
        self._head_bytes = 0
        self._lazy = True
        self._data_since = False
        self._fast_answers += 1
        self._idle_since = self.loop.time()
        if self._watchdog is None:
            self._watchdog = self.loop.call_at(
                self._idle_since + min(self.timeout_keep_alive, self.header_timeout),
                self._watch,
            )

    def _watch(self) -> None:
        self._watchdog = None
        if not self._lazy or self.transport.is_closing():
            return  # a request went through uvicorn since: its own timers rule
        limit = self.header_timeout if self._data_since else self.timeout_keep_alive
        if self.loop.time() - self._idle_since < limit:
            self._watchdog = self.loop.call_at(self._idle_since + limit, self._watch)
        elif self._data_since:
            self._too_slow()
        else:
            self.transport.close()  # idle keep-alive connection, as uvicorn would

    def _arm(self, after: Any) -> None:
        self._disarm()
        self._waiting_after = after  # the cycle before the head being waited for
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        self._lazy = False
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection: no whole request head within the deadline")
            self.transport.close()


_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
    b"connection: close\r\n\r\n"
)


def _base_protocol() -> type[Any]:
    """uvicorn's httptools protocol when httptools is installed, else its h11 one."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return H11Protocol
    return HttpToolsProtocol


def guarded_protocol(
    header_timeout: float = HEADER_TIMEOUT, lean: LeanFiles | None = None
) -> type[Any]:
    """The protocol class for uvicorn's ``http`` setting, with ``header_timeout``.

    With ``lean`` (and httptools installed), published files are answered by the
    connection itself from that table (:mod:`syndicate.web.fastlane`).
    """
    base = _base_protocol()
    if lean is not None and base is not H11Protocol:
        return type(
            "FastLaneProtocol",
            (FastLane, HeadDeadline, base),
            {"header_timeout": header_timeout, "lean": lean, "memo": {}, "parsed": {}},
        )
    return type("HeadDeadlineProtocol", (HeadDeadline, base), {"header_timeout": header_timeout})
