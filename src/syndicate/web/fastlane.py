"""Published files answered by the connection itself, before any ASGI machinery.

Under ``syndicate serve`` most requests are feed readers polling a feed, and most of
their answers are 304s. Through ASGI each one costs a task, a scope, two ``send``
messages and header checks — several times the work of the answer itself. The
:class:`FastLane` mixin, put on uvicorn's httptools protocol by
:func:`syndicate.web.server.guarded_protocol`, answers a GET or HEAD of a published file
as soon as its head is parsed: it asks the same :class:`~syndicate.web.lean.LeanFiles`
table the app uses (so the same rules and the same bytes) and writes the ready-made head,
``Date`` and body in one write. Anything else — another path, a path with ``%``
escapes, another method, a request pipelined behind one still being answered, a client
not reading its answers — goes through uvicorn and the app as before.
"""

from __future__ import annotations

import logging
from typing import Any

from syndicate.web.conditional import http_date
from syndicate.web.lean import LeanFiles, Variant, request_headers

__all__ = ["FastLane"]

_FEEDS = b"/feeds/"
_Key = tuple[bytes, bytes | None, bytes | None, bytes | None]
# What the parser found in a request answered here: the memo key, the method, the
# HTTP version, keep-alive, and the URL (for the access log).
_Parsed = tuple[_Key, bytes, str, bool, bytes]
_PARSED_MAX = 4096
"""Requests (whole chunks) up to this size are remembered in :attr:`FastLane.parsed`."""
_PARSED_ENTRIES = 1024
_DATE: list[tuple[str, bytes]] = [("", b"")]


def _date_line() -> bytes:
    now = http_date()  # formatted once per second
    cached = _DATE[0]
    if cached[0] != now:
        cached = (now, b"date: " + now.encode("latin-1") + b"\r\n")
        _DATE[0] = cached
    return cached[1]


class _Answered:
    """Stands for uvicorn's request cycle once the fast lane has answered: complete, so
    the request's body (if any) is dropped and the next request starts at once."""

    __slots__ = ("message_event",)
    response_complete = True
    disconnected = False
    keep_alive = True

    def __init__(self) -> None:
        self.message_event = _NoEvent


class _NoEvent:
    @staticmethod
    def set() -> None:
        return None


class FastLane:
    """Answers published files from :attr:`lean` in ``on_headers_complete``.

    Mixed in before :class:`~syndicate.web.server.HeadDeadline` (whose
    ``await_next_head`` keeps the keep-alive and head deadlines) and uvicorn's
    httptools protocol.

    Answers are remembered for the rest of the event loop's current iteration in
    :attr:`memo`, keyed by the request's URL and the headers that choose the answer:
    the requests handled in one iteration all arrived before any of them was looked
    at, so they may share one look at the disk (one ``stat`` of the manifest and of
    the file, see :class:`~syndicate.web.lean.LeanFiles`) and one validator check.
    A rebuild is still seen by every request read after it.

    A poller on a kept-alive connection sends the same bytes at every poll, and so do
    the many connections of one feed fetcher. :attr:`parsed` remembers, for a chunk
    of bytes that was exactly one request answered here and that its connection sent
    twice in a row, what the parser found in it;
    the same bytes arriving again where a request starts are answered from that
    without parsing them again (the parser would end where it started, in the same
    state, having called the same callbacks with the same values). The validators are
    still checked against the file as it is now.
    """

    lean: LeanFiles | None = None
    memo: dict[tuple[bytes, bytes | None, bytes | None, bytes | None], Any]
    parsed: dict[bytes, _Parsed]
    # Provided by uvicorn's httptools protocol this is mixed into.
    cycle: Any
    parser: Any
    url: bytes
    headers: list[tuple[bytes, bytes]]
    expect_100_continue: bool
    scope: Any
    transport: Any
    flow: Any
    loop: Any
    client: tuple[str, int] | None
    access_log: bool
    access_logger: logging.Logger
    server_state: Any
    # Where the parser is: at the start of a request, after one answered here (True),
    # and what the last answer here was, for :attr:`parsed`.
    _at_start: bool = True
    _begun = 0
    _last: _Parsed | None = None
    _previous = b""  # the last such request this connection sent

    def data_received(self, data: bytes) -> None:
        if self._at_start:
            known = self.parsed.get(data)
            if (
                known is not None
                and (self.cycle is None or self.cycle.response_complete)
                and not self.flow.write_paused
            ):
                found = self._look_up(known[0])
                if found is not None:
                    self._answer(found, known)
                    return
            was_at_start, self._at_start, self._begun = True, False, 0
        else:
            was_at_start = False
        super().data_received(data)  # type: ignore[misc]
        if was_at_start and self._at_start and self._begun == 1 and len(data) <= _PARSED_MAX:
            # Exactly one request, answered here, and nothing after it. Remembered once
            # this connection has sent it twice in a row (a poller repeating itself):
            # requests that are never repeated then cost a comparison, not an entry.
            if data != self._previous:
                self._previous = data
                return
            parsed = self.parsed
            if len(parsed) >= _PARSED_ENTRIES:
                parsed.clear()  # a client inventing requests cannot grow this for ever
            assert self._last is not None
            parsed[data] = self._last

    def on_message_begin(self) -> None:
        # uvicorn's ASGI scope is made only for a request that goes through uvicorn
        # (see _scope_for_uvicorn).
        self._at_start = False
        self._begun += 1
        self.url = b""
        self.expect_100_continue = False
        self.headers = []

    def on_headers_complete(self) -> None:
        cycle = self.cycle
        if (
            self.lean is not None
            and (cycle is None or cycle.response_complete)
            and not self.flow.write_paused  # a client not reading: let uvicorn wait on it
            and self.url.startswith(_FEEDS)
        ):
            method = self.parser.get_method()
            if method == b"GET" or method == b"HEAD":
                path, _, _ = self.url.partition(b"?")
                if b"%" not in path and not self.parser.should_upgrade():
                    key = (path, *request_headers(self.headers))
                    found = self._look_up(key)
                    if found is not None:
                        version = self.parser.get_http_version()
                        keep_alive = version != "1.0" and self.parser.should_keep_alive()
                        self._last = (key, method, version, keep_alive, self.url)
                        self._answer(found, self._last)
                        return
        self._scope_for_uvicorn()
        super().on_headers_complete()  # type: ignore[misc]

    def on_message_complete(self) -> None:
        if type(self.cycle) is _Answered:
            self._at_start = True  # the request answered here has ended: the next may start
            return
        super().on_message_complete()  # type: ignore[misc]

    def _scope_for_uvicorn(self) -> None:
        """Make the scope uvicorn's ``on_message_begin`` would have made, keeping what
        the parser has delivered since."""
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()  # type: ignore[misc]
        self.url, self.headers, self.expect_100_continue = url, headers, expect
        self.scope["headers"] = headers

    def _look_up(self, key: _Key) -> tuple[bool, Variant] | None:
        memo = self.memo
        found = memo.get(key)
        if found is None:
            assert self.lean is not None
            first = not memo  # the manifest is checked once per iteration
            found = self.lean.answer(key[0].decode("latin-1"), *key[1:], check_manifest=first)
            if found is not None:
                if first:
                    self.loop.call_soon(memo.clear)  # at this iteration's end
                memo[key] = found
        return found

    def _answer(self, found: tuple[bool, Variant], request: _Parsed) -> None:
        not_modified, variant = found
        _, method, version, keep_alive, url = request
        head = variant.not_modified_head if not_modified else variant.ok_head
        tail = b"\r\n" if keep_alive else b"connection: close\r\n\r\n"
        if not_modified or method == b"HEAD":
            self.transport.write(head + _date_line() + tail)
        else:
            # uvloop sends the list with one writev: the body is not copied.
            self.transport.writelines((head + _date_line() + tail, variant.body))
        if self.access_log:
            client = f"{self.client[0]}:{self.client[1]}" if self.client else ""
            self.access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                client,
                method.decode("ascii"),
                url.decode("latin-1"),
                version,
                304 if not_modified else 200,
            )
        # What uvicorn does when a response completes, minus its per-request timers.
        self.server_state.total_requests += 1
        self.cycle = answered = _Answered()
        if not keep_alive:
            self.transport.close()
            return
        self.await_next_head(answered)  # type: ignore[attr-defined]
