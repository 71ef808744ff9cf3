"""`serve` against abusive clients, over a real uvicorn server on 127.0.0.1: a client
that sends its headers slowly (or not at all, or without end) is disconnected; a
``Host`` header never ends up in a redirect; the access log never holds a link token."""

from __future__ import annotations

import http.client
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from syndicate.delivery.tokens import TokenSigner
from syndicate.web import create_app, server_config
from syndicate.web.server import redact_handlers
from tests.subscribehelpers import SECRET, make_instance
from tests.uvicornserver import running

HEADER_TIMEOUT = 0.5  # seconds; the test server's, so the tests stay short


@dataclass
class Served:
    host: str
    port: int
    tokens: TokenSigner

    def connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=10)

    def get(self, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        return response


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    settings = make_instance(tmp_path / "i", f"sqlite:///{tmp_path / 's.db'}")
    config = server_config(
        create_app(settings), "127.0.0.1", 0, access_log=True, header_timeout=HEADER_TIMEOUT
    )
    with running(config) as port:
        yield Served("127.0.0.1", port, TokenSigner(SECRET))


def closed_by_server(sock: socket.socket, wait: float) -> bool:
    """Whether the server has closed the connection (waiting up to ``wait`` seconds)."""
    sock.settimeout(wait)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except TimeoutError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True


def test_a_client_dripping_its_headers_is_disconnected(served: Served) -> None:
    sock = served.connect()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    # Forty header lines, one every 0.1 s: far longer than the header timeout in all,
    # though each line comes well within it (the deadline is for the whole head).
    for n in range(40):
        try:
            sock.sendall(f"X-Drip-{n}: 1\r\n".encode())
        except (ConnectionResetError, BrokenPipeError):
            break
        if closed_by_server(sock, 0.1):
            break
    else:
        pytest.fail("the server waited for headers dripped over 4 seconds")
    sock.close()


def test_a_client_that_sends_nothing_is_disconnected(served: Served) -> None:
    with served.connect() as sock:
        assert closed_by_server(sock, 10)


def test_a_client_that_sends_headers_without_end_is_refused(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        try:
            for _ in range(16):
                sock.sendall(b"a" * 4096)
        except (ConnectionResetError, BrokenPipeError):
            return
        sock.settimeout(10)
        try:
            answer = sock.recv(65536)
        except ConnectionResetError:
            return
        assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:100]


def test_a_keep_alive_connection_serves_requests_within_the_deadline(served: Served) -> None:
    conn = http.client.HTTPConnection(served.host, served.port, timeout=10)
    for _ in range(3):
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.status == 200
        response.read()
    conn.close()


def test_redirects_never_use_the_host_header(served: Served) -> None:
    unsubscribe = served.tokens.make("unsubscribe", 1, "world")
    redirecting = [
        "/archive/world",  # the archive's canonical slash
        "/archive/world/2026-11-25-0300",
        "/digests/world/2026-11-25T0300Z",  # old view-in-browser links
        "/archive",  # the router's slash redirects
        "/subscribe/",
        "/healthz/",
        f"/u/{unsubscribe}/",
    ]
    for path in redirecting:
        response = served.get(path, {"Host": "evil.example"})
        assert response.status in (301, 302, 307, 308), (path, response.status)
        location = response.getheader("location") or ""
        assert location.startswith("/") and not location.startswith("//"), (path, location)
        assert "evil.example" not in location


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access_log() -> Iterator[Records]:
    records = Records()
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(records)
        logger.setLevel(logging.INFO)  # as `syndicate serve` logs
    yield records
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(records)
        logger.setLevel(level)


def test_the_access_log_holds_no_link_tokens(access_log: Records, served: Served) -> None:
    # The handler is in place before the connections: uvicorn only logs requests when
    # its access logger has somewhere to send them.
    tokens = {
        "confirm": served.tokens.make("confirm", 1, "world"),
        "u": served.tokens.make("unsubscribe", 1, "world"),
        "p": served.tokens.make("preferences", 1, "world"),
    }
    for prefix, token in tokens.items():
        served.get(f"/{prefix}/{token}", {})
        served.get(f"/{prefix}/{token}?utm_source=mail", {})
        served.get(f"/{prefix}/{token}/", {})
    conn = http.client.HTTPConnection(served.host, served.port, timeout=10)
    conn.request(
        "POST",
        f"/u/{tokens['u']}",
        body="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    conn.getresponse().read()
    conn.close()
    deadline = time.monotonic() + 10
    while sum("POST" in line for line in access_log.lines) < 1:
        if time.monotonic() > deadline:
            pytest.fail(f"no access log line for the POST: {access_log.lines}")
        time.sleep(0.02)
    lines = "\n".join(access_log.lines)
    for token in tokens.values():
        assert token not in lines
        assert token[:20] not in lines
    for prefix in tokens:
        assert f'"GET /{prefix}/' in lines  # still logged, without the token
    assert "utm_source=mail" in lines  # the rest of the address is kept


def test_app_logs_through_the_serve_handlers_hold_no_link_tokens() -> None:
    records = Records()
    root = logging.Logger("root-for-test")
    root.addHandler(records)
    redact_handlers(root)
    token = TokenSigner(SECRET).make("preferences", 1, "world")
    root.warning("link %s failed", f"https://review.example/p/{token}")
    root.warning("path /u/%s?x=1 and /archive/u/2026-11-25-0300/", token)
    root.warning(f"formatted already: /confirm/{token}")
    assert all(token not in line for line in records.lines), records.lines
    assert records.lines == [
        "link https://review.example/p/[token] failed",
        "path /u/[token]?x=1 and /archive/u/2026-11-25-0300/",
        "formatted already: /confirm/[token]",
    ]
