"""A local HTTP server that stands in for a provider's API (STYLE 9, TE-5).

Each path is answered by a handler (a provider fake in :mod:`tests.providers.fakes`)
that checks the request the way the provider would and answers with the provider's
documented shapes. Tests can push scripted answers in front of the handler (a 429 with
Retry-After, a 500, a 401, a slow answer that trips the read timeout, a connection
closed without an answer). Every request is recorded: method, path, headers, body.
(PYTEST_DONT_REWRITE: test modules import this module before pytest could rewrite it.)
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Seen:
    """One request as the server received it; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def form(self) -> tuple[dict[str, list[str]], dict[str, tuple[str, str, bytes]]]:
        """A multipart/form-data body: (fields, files as name → (filename, type, bytes)).

        Split by hand on the boundary so a file's bytes come back exactly as sent (the
        email package would parse a message/rfc822 part instead of returning it).
        """
        ctype = Message()
        ctype["content-type"] = self.headers["content-type"]
        boundary = ctype.get_param("boundary")
        assert isinstance(boundary, str), "not multipart"
        fields: dict[str, list[str]] = {}
        files: dict[str, tuple[str, str, bytes]] = {}
        for chunk in self.body.split(b"--" + boundary.encode())[1:-1]:
            head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
            part = Message()
            for line in head.decode().split("\r\n"):
                name, _, value = line.partition(":")
                part[name.strip()] = value.strip()
            key = part.get_param("name", header="content-disposition")
            filename = part.get_param("filename", header="content-disposition")
            content = content.removesuffix(b"\r\n")
            assert isinstance(key, str)
            if isinstance(filename, str):
                files[key] = (filename, part.get_content_type(), content)
            else:
                fields.setdefault(key, []).append(content.decode())
        return fields, files


@dataclass
class Answer:
    """What the server sends back. ``body`` that is not bytes is sent as JSON.

    ``delay`` waits before answering (to trip a read timeout); ``hang_up`` closes the
    connection without any answer.
    """

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang_up: bool = False


Handler = Callable[[Seen], Answer]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RequestHandler)
        self.handlers: dict[str, Handler] = {}
        self.scripted: dict[str, deque[Answer]] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.in_flight = 0
        self.max_in_flight = 0


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as real APIs do

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        seen = Seen(
            self.command,
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            self.rfile.read(length),
        )
        server = self.server
        with server.lock:
            server.seen.append(seen)
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
            queued = server.scripted.get(self.path)
            answer = queued.popleft() if queued else None
            handler = server.handlers.get(self.path)
        try:
            if answer is None:
                answer = handler(seen) if handler else Answer(404, {"message": "no such path"})
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(answer)
        finally:
            with server.lock:
                server.in_flight -= 1

    def _answer(self, answer: Answer) -> None:
        if answer.delay and self.server.stopping.wait(answer.delay):
            return
        if answer.hang_up:
            self.close_connection = True
            return
        body = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        headers = {"Content-Length": str(len(body)), **answer.headers}
        if not isinstance(answer.body, bytes):
            headers.setdefault("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class APIServer:
    """A running fake API on 127.0.0.1: handlers per path, scripted answers, requests seen."""

    def __init__(self) -> None:
        self._server = _Server()
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def handle(self, path: str, handler: Handler) -> None:
        """Answer POSTs to ``path`` with ``handler``."""
        with self._server.lock:
            self._server.handlers[path] = handler

    def script(self, path: str, *answers: Answer) -> None:
        """Answer the next POSTs to ``path`` with ``answers``, in order, then the handler."""
        with self._server.lock:
            self._server.scripted.setdefault(path, deque()).extend(answers)

    @property
    def requests(self) -> list[Seen]:
        """Every request so far, in order."""
        with self._server.lock:
            return list(self._server.seen)

    @property
    def max_in_flight(self) -> int:
        """The most requests the server was answering at once."""
        return self._server.max_in_flight

    def close(self) -> None:
        """Stop serving; wake any answer that is delaying."""
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def serve() -> Iterator[APIServer]:
    """A fake API server for the duration of the block."""
    server = APIServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def api_server() -> Iterator[APIServer]:
    """A fresh fake API server on 127.0.0.1."""
    with serve() as server:
        yield server
