"""A real HTTP server on the loopback interface for source and fetcher tests (STYLE 9).

Routes are programmable per path: status, headers, body, a delay before the answer, a
slow drip of the body, gzip, chunked or close-delimited bodies, redirects, and the
conditional-GET dance (``etag`` / ``last_modified`` answer 304 when the client sends the
matching validator). Every request is recorded with its headers, so tests can assert
what a client actually sent.

Use the ``http_server`` fixture (127.0.0.1) or ``serve(host)`` for another loopback
address or a longer-lived server; test modules pull the fixtures in with
``pytest_plugins = ["tests.httpserver"]``. (PYTEST_DONT_REWRITE: this module has no
asserts, and test modules import it before pytest could rewrite it.)
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Reply:
    """What a route answers.

    ``delay`` waits before the status line (to trip a read timeout); ``drip`` sends the
    body ``drip_size`` bytes at a time with that many seconds between pieces (to trip the
    total deadline). ``content_length=False`` sends the body close-delimited (HTTP/1.0);
    ``chunked`` uses chunked transfer encoding. ``etag`` / ``last_modified`` are sent on
    200 and answered with 304 when the request carries them back. ``reason`` replaces the
    status line's reason phrase (upstream text a client may echo).
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drip: float | None = None
    drip_size: int = 1
    content_length: bool = True
    chunked: bool = False
    gzip: bool = False
    etag: str | None = None
    last_modified: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class SeenRequest:
    """One request as the server received it; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    server_host: str


Handler = Callable[[SeenRequest], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str) -> None:
        super().__init__((host, 0), _RequestHandler)
        self.routes: dict[str, Handler] = {}
        self.seen: list[SeenRequest] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        seen = SeenRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            server_host=str(self.server.server_address[0]),
        )
        with self.server.lock:
            self.server.seen.append(seen)
            handler = self.server.routes.get(self.path)
        reply = handler(seen) if handler else Reply(404, b"not found")
        # The client may give up (timeouts, size caps): that is what some tests want.
        with contextlib.suppress(TimeoutError, BrokenPipeError, ConnectionResetError):
            self._answer(seen, reply)

    def _answer(self, seen: SeenRequest, reply: Reply) -> None:
        if reply.delay and self.server.stopping.wait(reply.delay):
            return
        if _not_modified(seen, reply):
            self.send_response(304)
            for name, value in _validators(reply).items():
                self.send_header(name, value)
            self.end_headers()
            return
        body = gzip_module.compress(reply.body) if reply.gzip else reply.body
        if reply.chunked:
            self.protocol_version = "HTTP/1.1"  # chunked needs a 1.1 status line
        self.send_response(reply.status, reply.reason)
        headers = {**_validators(reply), **reply.headers}
        if reply.gzip:
            headers["Content-Encoding"] = "gzip"
        if reply.chunked:
            headers["Transfer-Encoding"] = "chunked"
            headers["Connection"] = "close"
        elif reply.content_length:
            headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self._send_body(body, reply)
        self.close_connection = True

    def _send_body(self, body: bytes, reply: Reply) -> None:
        size = reply.drip_size if reply.drip is not None else max(len(body), 1)
        for start in range(0, len(body), size):
            piece = body[start : start + size]
            if reply.chunked:
                piece = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            self.wfile.write(piece)
            self.wfile.flush()
            if reply.drip is not None and self.server.stopping.wait(reply.drip):
                return
        if reply.chunked:
            self.wfile.write(b"0\r\n\r\n")


def _validators(reply: Reply) -> dict[str, str]:
    out = {}
    if reply.etag:
        out["ETag"] = reply.etag
    if reply.last_modified:
        out["Last-Modified"] = reply.last_modified
    return out


def _not_modified(seen: SeenRequest, reply: Reply) -> bool:
    # RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since is compared as the opaque
    # string the server sent (what well-behaved readers echo back, HT-6).
    if reply.etag and "if-none-match" in seen.headers:
        return reply.etag in [v.strip() for v in seen.headers["if-none-match"].split(",")]
    if reply.last_modified and "if-modified-since" in seen.headers:
        return seen.headers["if-modified-since"] == reply.last_modified
    return False


class LocalServer:
    """A running server: add routes, read back the requests it saw."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._server = _Server(host)
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/", host: str | None = None) -> str:
        """The absolute URL of ``path`` on this server (``host`` overrides the name)."""
        return f"http://{host or self.host}:{self.port}{path}"

    def route(self, path: str, reply: Reply | None = None, **fields: Any) -> None:
        """Answer GETs of ``path`` with ``reply`` (or a :class:`Reply` built from ``fields``)."""
        fixed = reply if reply is not None else Reply(**fields)
        self.handle(path, lambda _request: fixed)

    def handle(self, path: str, handler: Handler) -> None:
        """Answer GETs of ``path`` by calling ``handler`` with the request."""
        with self._server.lock:
            self._server.routes[path] = handler

    def redirect(self, path: str, location: str, status: int = 301) -> None:
        """Answer ``path`` with a redirect to ``location``."""
        self.route(path, Reply(status, headers={"Location": location}))

    @property
    def requests(self) -> list[SeenRequest]:
        """Every request received so far, in order."""
        with self._server.lock:
            return list(self._server.seen)

    def requests_to(self, path: str) -> list[SeenRequest]:
        """The requests received for ``path``."""
        return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        """Stop serving; wake any handler that is delaying or dripping."""
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def serve(host: str = "127.0.0.1") -> Iterator[LocalServer]:
    """A server on ``host`` (ephemeral port) for the duration of the block."""
    server = LocalServer(host)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    """A fresh server on 127.0.0.1."""
    with serve("127.0.0.1") as server:
        yield server


@pytest.fixture
def second_loopback_server() -> Iterator[LocalServer]:
    """A server on 127.0.0.2, standing in for a host that is not 127.0.0.1.

    Skipped where the platform routes only 127.0.0.1 to loopback (e.g. macOS by default).
    """
    try:
        server = LocalServer("127.0.0.2")
    except OSError as err:
        pytest.skip(f"cannot bind 127.0.0.2: {err}")
    try:
        yield server
    finally:
        server.close()
