"""The lean path for published files (web/lean.py, web/fastlane.py): Brotli negotiation,
files changed on disk, and `serve`'s connections answering feeds themselves — over a
real uvicorn server on 127.0.0.1 with the same rules as the app (STANDARDS A6)."""

from __future__ import annotations

import gzip
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest

from syndicate.config import Settings
from syndicate.feeds.builder import build
from syndicate.store import open_store
from syndicate.web import create_app, server_config
from syndicate.web.conditional import preferred_codings
from syndicate.web.lean import LeanApp, LeanFiles, nginx_etag
from syndicate.web.published import PublishedFiles
from tests.feeds.fixtures import make_instance, save
from tests.test_serve_guards import closed_by_server
from tests.uvicornserver import running

HUB = "https://hub.example/websub"


@dataclass
class Served:
    settings: Settings
    base: str
    port: int
    app_calls: list[str]

    @property
    def out(self) -> Path:
        return self.settings.resolve(self.settings.output.dir)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base)


def _instance(tmp_path: Path) -> Settings:
    channel = f'title = "Desk"\nitems = 3\nmax_age = 600\nhubs = ["{HUB}"]\n'
    settings = make_instance(tmp_path / "i", {"desk": channel})
    store = open_store(settings.store_url)
    save(store, range(1, 6))
    build(store, settings)
    store.close()
    return settings


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    settings = _instance(tmp_path)
    app = create_app(settings)
    calls: list[str] = []
    inner = LeanApp.__call__

    async def counted(self: LeanApp, scope: Any, receive: Any, send: Any) -> None:
        if self is app and scope["type"] == "http":
            calls.append(scope["path"])
        await inner(self, scope, receive, send)

    # Every request that reaches the ASGI app is recorded; the fast lane's never are.
    monkeypatch.setattr(LeanApp, "__call__", counted)
    config = server_config(app, "127.0.0.1", 0, access_log=False)
    with running(config) as port:
        yield Served(settings, f"http://127.0.0.1:{port}", port, calls)


def raw_exchange(port: int, payload: bytes, until: bytes | None = None) -> bytes:
    """Send ``payload`` and read until the server closes (or ``until`` has been seen)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while until is None or data.count(until) < 1:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


# -- the fast lane ---------------------------------------------------------------------------


def test_feeds_are_answered_by_the_connection_and_other_paths_by_the_app(
    served: Served,
) -> None:
    with served.client() as client:
        r = client.get("/feeds/desk.xml", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
        again = client.get(
            "/feeds/desk.xml",
            headers={"Accept-Encoding": "gzip", "If-None-Match": r.headers["etag"]},
        )
        assert again.status_code == 304
        head = client.head("/feeds/desk.atom?utm=x", headers={"Accept-Encoding": "identity"})
        assert head.status_code == 200 and head.content == b""
        assert served.app_calls == []  # none of these went through ASGI
        assert client.get("/healthz").status_code == 200
        assert client.get("/feeds/nope.xml").status_code == 404
        escaped = client.get("/feeds/desk%2Exml", headers={"Accept-Encoding": "identity"})
    assert escaped.status_code == 200  # a %-escape goes through the app, same answer
    assert escaped.content == (served.out / "feeds/desk.xml").read_bytes()
    assert served.app_calls == ["/healthz", "/feeds/nope.xml", "/feeds/desk.xml"]


def test_the_fast_lane_answers_as_the_app_does(served: Served) -> None:
    """Same status, headers (but Date) and body from the connection and from the app."""
    app = InProcess(served.settings)
    cases = [
        {"Accept-Encoding": "gzip"},
        {"Accept-Encoding": "br"},
        {"Accept-Encoding": "identity"},
        {"Accept-Encoding": "gzip", "If-None-Match": "*"},
        {"Accept-Encoding": "identity", "If-Modified-Since": "Sun, 01 Jan 2090 00:00:00 GMT"},
    ]
    with served.client() as client:
        for headers in cases:
            for path in ("/feeds/desk.json", "/feeds/desk/archive/1.xml"):
                wire = client.get(path, headers=headers)
                local = app.get(path, headers)
                assert wire.status_code == local.status_code, (path, headers)
                assert wire.content == local.content, (path, headers)
                for name in ("etag", "last-modified", "cache-control", "vary", "content-type"):
                    assert wire.headers.get(name) == local.headers.get(name), (path, name)
                assert wire.headers.get_list("link") == local.headers.get_list("link")
                assert len(wire.headers.get_list("date")) == 1
    assert served.app_calls == []


class InProcess:
    """The app in process (its ASGI path), for comparison with the wire."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)

    def get(self, path: str, headers: dict[str, str]) -> httpx.Response:
        import warnings

        from starlette.exceptions import StarletteDeprecationWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StarletteDeprecationWarning)
            from starlette.testclient import TestClient

            with TestClient(self.app) as client:
                return client.get(path, headers=headers)


def test_pipelined_requests_are_answered_in_order(served: Served) -> None:
    one = b"GET /feeds/desk.json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n"
    health = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"HEAD /feeds/desk.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = raw_exchange(served.port, one + health + one + last)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.count(b"HTTP/1.1 ") == data.count(b"HTTP/1.1 200 OK\r\n") == 4
    body = (served.out / "feeds/desk.json").read_bytes()
    assert data.count(body) == 2
    assert data.index(b'"status":"ok"') > data.index(body)  # the app's answer, in its turn
    assert data.rstrip().endswith(b"\r\nconnection: close")  # HEAD: no body after it


def test_http_1_0_and_connection_close_end_the_connection(served: Served) -> None:
    for request in (
        b"GET /feeds/desk.xml HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n",
        b"GET /feeds/desk.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ):
        data = raw_exchange(served.port, request)  # returns when the server closes
        head, _, body = data.partition(b"\r\n\r\n")
        assert b"\r\nconnection: close" in head
        length = int(next(v for k, _, v in _pairs(head) if k == b"content-length"))
        assert len(body) == length


def _pairs(head: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b": ")
        yield name.lower(), sep, value


def test_an_idle_connection_after_a_fast_answer_is_closed(
    tmp_path: Path,
) -> None:
    settings = _instance(tmp_path)
    config = server_config(create_app(settings), "127.0.0.1", 0, access_log=False, header_timeout=2)
    config.timeout_keep_alive = 1  # the watchdog stands in for uvicorn's keep-alive timer
    request = b"GET /feeds/desk.xml HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n"
    with running(config) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 304 ")
            sock.sendall(request)  # the connection is kept alive for more
            assert sock.recv(65536).startswith(b"HTTP/1.1 304 ")
            assert closed_by_server(sock, 10)  # then closed once idle
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 304 ")
            sock.sendall(b"GET /feeds/desk.xml HTTP/1.1\r\n")  # and never the rest
            assert closed_by_server(sock, 30)  # the head deadline still holds


def test_a_head_too_large_after_a_fast_answer_is_refused(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(b"GET /feeds/desk.xml HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 304 ")
        sock.sendall(b"GET /feeds/desk.xml HTTP/1.1\r\n")
        answer = b""
        try:
            for n in range(40):
                sock.sendall(f"X-Pad-{n}: {'a' * 1000}\r\n".encode())
        except (ConnectionResetError, BrokenPipeError):
            pass
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_repeated_request_is_answered_from_what_was_parsed_and_sees_the_disk(
    tmp_path: Path,
) -> None:
    settings = _instance(tmp_path)
    out = settings.resolve(settings.output.dir)
    config = server_config(create_app(settings), "127.0.0.1", 0, access_log=False)
    protocol = config.http  # the class: its `parsed` table is shared by the connections
    assert not isinstance(protocol, str)
    poll = b"GET /feeds/desk.json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n"
    two = poll + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    once = poll.replace(b"identity", b"gzip")
    body = (out / "feeds/desk.json").read_bytes()
    changed = body.replace(b"Desk", b"Dusk")
    answers = []
    with running(config) as port, socket.create_connection(("127.0.0.1", port), 10) as sock:
        for _ in range(3):
            sock.sendall(poll)
            answers.append(_read_answer(sock))
            if len(answers) == 2:
                (out / "feeds/.swap").write_bytes(changed)
                os.replace(out / "feeds/.swap", out / "feeds/desk.json")
        sock.sendall(once)  # sent once: parsed, not remembered
        gzipped = _read_answer(sock)
        sock.sendall(two)  # two requests in one chunk: parsed, not remembered
        both = _read_answer(sock, answers=2)
    assert list(protocol.parsed) == [poll]  # remembered when sent a second time
    assert b"content-encoding: gzip" in gzipped
    assert [a.endswith(body) for a in answers] == [True, True, False]
    assert answers[2].endswith(changed)  # the remembered request still looks at the disk
    assert both.count(b"HTTP/1.1 200 OK\r\n") == 2 and b'"status":"ok"' in both


def _read_answer(sock: socket.socket, answers: int = 1) -> bytes:
    """Read ``answers`` whole answers (each with a Content-Length) from ``sock``."""
    data = b""
    while True:
        rest, done = data, 0
        while b"\r\n\r\n" in rest:
            head, _, rest = rest.partition(b"\r\n\r\n")
            length = int(next(v for k, _, v in _pairs(head) if k == b"content-length"))
            if len(rest) < length:
                break
            rest, done = rest[length:], done + 1
        if done >= answers:
            return data
        data += sock.recv(65536)


# -- files changed on disk ---------------------------------------------------------------------


def test_a_file_replaced_on_disk_is_served_at_once(served: Served) -> None:
    path = served.out / "feeds/desk.atom"
    with served.client() as client:
        first = client.get("/feeds/desk.atom", headers={"Accept-Encoding": "identity"})
        br_first = client.get("/feeds/desk.atom", headers={"Accept-Encoding": "br"})
        data = path.read_bytes().replace(b"Desk", b"Dusk")  # the same size
        tmp = path.with_name(".swap")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # what the build does: a rename gives a new inode
        second = client.get(
            "/feeds/desk.atom",
            headers={"Accept-Encoding": "identity", "If-None-Match": first.headers["etag"]},
        )
        br_second = client.get(
            "/feeds/desk.atom",
            headers={"Accept-Encoding": "br", "If-None-Match": br_first.headers["etag"]},
        )
        path.write_bytes(data + b"\n")  # written in place, not renamed
        third = client.get("/feeds/desk.atom", headers={"Accept-Encoding": "identity"})
    assert second.status_code == 200 and second.content == data
    assert second.headers["etag"] != first.headers["etag"]
    assert br_second.status_code == 200 and br_second.headers["content-encoding"] == "br"
    assert br_second.content == data  # httpx decodes Brotli: made from the new bytes
    assert third.content == data + b"\n"
    assert served.app_calls == []


def test_a_rebuild_changing_the_manifest_is_served_at_once(served: Served) -> None:
    with served.client() as client:
        before = client.get("/feeds/desk.xml", headers={"Accept-Encoding": "identity"})
        assert before.headers["cache-control"] == "public, max-age=600"
        (served.settings.resolve(served.settings.feeds_dir) / "desk.toml").write_text(
            'title = "Desk"\nitems = 3\nmax_age = 60\n'
        )
        store = open_store(served.settings.store_url)
        build(store, served.settings)
        store.close()
        after = client.get("/feeds/desk.xml", headers={"Accept-Encoding": "identity"})
    assert after.headers["cache-control"] == "public, max-age=60"
    assert after.headers.get_list("link") == [before.headers.get_list("link")[0]]  # no hub


# -- Brotli --------------------------------------------------------------------------------------


def test_brotli_is_sent_to_clients_that_accept_it_with_its_own_etag(served: Served) -> None:
    plain = (served.out / "feeds/desk.json").read_bytes()
    stored_gz = (served.out / "feeds/desk.json.gz").read_bytes()
    with served.client() as client:
        br = client.get("/feeds/desk.json", headers={"Accept-Encoding": "gzip, br"})
        gz = client.get("/feeds/desk.json", headers={"Accept-Encoding": "gzip, br;q=0.5"})
        refused = client.get("/feeds/desk.json", headers={"Accept-Encoding": "br;q=0, gzip"})
        validated = client.get(
            "/feeds/desk.json",
            headers={"Accept-Encoding": "br", "If-None-Match": br.headers["etag"]},
        )
        crossed = client.get(
            "/feeds/desk.json",
            headers={"Accept-Encoding": "gzip", "If-None-Match": br.headers["etag"]},
        )
    assert br.headers["content-encoding"] == "br"
    assert br.headers["vary"] == "Accept-Encoding"
    assert br.content == plain
    assert int(br.headers["content-length"]) < len(stored_gz)  # only when smaller
    assert br.headers["etag"].endswith('-br"')
    assert len({br.headers["etag"], gz.headers["etag"], refused.headers["etag"]}) == 2
    assert gz.headers["content-encoding"] == refused.headers["content-encoding"] == "gzip"
    assert gz.content == gzip.decompress(stored_gz)
    assert validated.status_code == 304 and validated.headers["etag"] == br.headers["etag"]
    assert crossed.status_code == 200  # a Brotli ETag does not validate the gzip copy


def test_brotli_is_not_kept_when_it_is_not_smaller_than_gzip(tmp_path: Path) -> None:
    settings = _instance(tmp_path)
    out = settings.resolve(settings.output.dir)
    lean = LeanFiles(PublishedFiles(out))
    found = lean.answer("/feeds/desk.json", b"br, gzip", None, None)
    assert found is not None and found[1].coding == "br"
    # A rebuild whose gzip copy is smaller than anything Brotli makes (its bytes do not
    # matter here); the verdict is made again for the new identity bytes.
    path = out / "feeds/desk.json"
    path.write_bytes(path.read_bytes() + b"\n")
    (out / "feeds/desk.json.gz").write_bytes(b"x")
    found = lean.answer("/feeds/desk.json", b"br, gzip", None, None)
    assert found is not None and found[1].coding == "gzip"
    assert (
        brotli.decompress(
            lean.answer("/feeds/desk.atom", b"br", None, None)[1].body  # type: ignore[index]
        )
        == (out / "feeds/desk.atom").read_bytes()
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, ("identity",)),
        (b"", ("identity",)),
        (b"gzip", ("gzip", "identity")),
        (b"gzip, deflate, br", ("br", "gzip", "identity")),
        (b"br;q=0.5, gzip", ("gzip", "br", "identity")),
        (b"br;q=0, gzip;q=0", ("identity",)),
        (b"*", ("br", "gzip", "identity")),
        (b"*;q=0", ("identity",)),
        (b"x-gzip, *;q=0", ("gzip", "identity")),
        (b"gzip;q=0, *", ("br", "identity")),
        (b"BR;Q=0.9, GZIP;q=0.9", ("br", "gzip", "identity")),
        (b"br;q=junk, gzip", ("gzip", "identity")),
    ],
)
def test_coding_preferences(header: bytes | None, expected: tuple[str, ...]) -> None:
    assert preferred_codings(header) == expected


# -- nginx-style ETags ---------------------------------------------------------------------------


def test_nginx_etags_are_mtime_and_size_in_hex(tmp_path: Path) -> None:
    settings = _instance(tmp_path)
    out = settings.resolve(settings.output.dir)
    lean = LeanFiles(PublishedFiles(out), etag_style="nginx")
    for coding, suffix in (("identity", ""), ("gzip", ".gz")):
        st = (out / f"feeds/desk.xml{suffix}").stat()
        found = lean.answer("/feeds/desk.xml", coding.encode(), None, None)
        assert found is not None and found[1].coding == coding
        assert found[1].etag == nginx_etag(int(st.st_mtime), st.st_size)
        assert found[1].etag == f'"{int(st.st_mtime):x}-{st.st_size:x}"'
