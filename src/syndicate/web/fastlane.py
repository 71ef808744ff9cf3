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
from syndicate.web.lean import LeanFiles, request_headers

__all__ = ["FastLane"]

_FEEDS = b"/feeds/"
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

    Mixed in after :class:`~syndicate.web.server.HeadDeadline` (whose
    ``await_next_head`` keeps the keep-alive and head deadlines) and before uvicorn's
    httptools protocol.

    Answers are remembered for the rest of the event loop's current iteration in
    :attr:`memo`, keyed by the request's URL and the headers that choose the answer:
    the requests handled in one iteration all arrived before any of them was looked
    at, so they may share one look at the disk (one ``stat`` of the manifest and of
    the file, see :class:`~syndicate.web.lean.LeanFiles`) and one validator check.
    A rebuild is still seen by every request read after it.
    """

    lean: LeanFiles | None = None
    memo: dict[tuple[bytes, bytes | None, bytes | None, bytes | None], Any]
    # Provided by uvicorn's httptools protocol this is mixed into.
    cycle: Any
    parser: Any
    url: bytes
    headers: list[tuple[bytes, bytes]]
    transport: Any
    flow: Any
    loop: Any
    client: tuple[str, int] | None
    access_log: bool
    access_logger: logging.Logger
    server_state: Any

    def on_headers_complete(self) -> None:
        lean = self.lean
        cycle = self.cycle
        if (
            lean is not None
            and (cycle is None or cycle.response_complete)
            and not self.flow.write_paused  # a client not reading: let uvicorn wait on it
            and self.url.startswith(_FEEDS)
        ):
            method = self.parser.get_method()
            if method == b"GET" or method == b"HEAD":
                path, _, _ = self.url.partition(b"?")
                if b"%" not in path and not self.parser.should_upgrade():
                    key = (path, *request_headers(self.headers))
                    memo = self.memo
                    found = memo.get(key)
                    if found is None:
                        first = not memo  # the manifest is checked once per iteration
                        found = lean.answer(path.decode("latin-1"), *key[1:], check_manifest=first)
                        if found is not None:
                            if first:
                                self.loop.call_soon(memo.clear)  # at this iteration's end
                            memo[key] = found
                    if found is not None:
                        self._answer(found[0], found[1], method)
                        return
        super().on_headers_complete()  # type: ignore[misc]

    def _answer(self, not_modified: bool, variant: Any, method: bytes) -> None:
        version = self.parser.get_http_version()
        keep_alive = version != "1.0" and self.parser.should_keep_alive()
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
                self.url.decode("latin-1"),
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
