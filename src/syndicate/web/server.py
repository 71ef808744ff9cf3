"""What `syndicate serve` adds to uvicorn: a deadline for request heads, and access logs
without link tokens.

uvicorn bounds the size of a request head (h11's ``max_incomplete_event_size``) and how
long an idle keep-alive connection stays open, but not how long a client may take to
send its request line and headers: a client that drips a header line every few seconds,
or connects and sends nothing, holds its connection for ever (slowloris). The protocol
made by :func:`guarded_protocol` closes a connection whose request head has not fully
arrived within ``header_timeout`` seconds of the connection opening, or of the previous
response ending. The body is not under this deadline: the routes cap what they read.

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

HEADER_TIMEOUT = 10.0
"""Seconds a client has to send a whole request head."""
MAX_HEAD_BYTES = 16 * 1024
"""The largest request line and headers accepted (h11 answers 400 past it)."""
KEEP_ALIVE_TIMEOUT = 5
"""Seconds an idle keep-alive connection stays open (uvicorn's default)."""

_TOKEN_PATH = re.compile(
    r"""((?:^|(?<=[\s"'(=]))(?:https?://[^/\s"']+)?/(?:confirm|u|p)/)[^/?#\s"']+"""
)


def redact(text: str) -> str:
    """``text`` with the token of every confirm, unsubscribe and preferences path hidden."""
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


class HeadDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request head."""

    header_timeout = HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm(None)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not self._waiting_after:
            self._disarm()  # a new request head has arrived whole

    def on_response_complete(self) -> None:
        done = self.cycle
        super().on_response_complete()
        # A pipelined request may already have started; otherwise the next head is due.
        if self.cycle is done and not self.transport.is_closing():
            self._arm(done)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, after: Any) -> None:
        self._disarm()
        self._waiting_after = after  # the cycle before the head being waited for
        self._head_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection: no whole request head within the deadline")
            self.transport.close()


def guarded_protocol(header_timeout: float = HEADER_TIMEOUT) -> type[H11Protocol]:
    """The protocol class for uvicorn's ``http`` setting, with ``header_timeout``."""
    return type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), {"header_timeout": header_timeout})
