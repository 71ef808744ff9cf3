"""Helpers for tests that run a real front server (nginx, Caddy) beside the app and
compare their answers byte for byte."""

from __future__ import annotations

import socket
import subprocess
import time
from email.utils import formatdate

import httpx
import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(name: str, port: int, proc: subprocess.Popen[bytes]) -> None:
    """Wait until ``proc`` (the server ``name``) accepts connections on ``port``; fail
    the test with its error output if it exits, or after 20 s."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{name} exited: {proc.stderr.read() if proc.stderr else ''!r}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"{name} did not start")


def fetch(base: str, path: str, headers: dict[str, str], method: str = "GET") -> httpx.Response:
    """One request, its body read but not decoded: the bytes on the wire are compared."""
    with httpx.Client(base_url=base) as client:
        request = client.build_request(method, path, headers=headers)
        return client.send(request, stream=False)


# Checks both front-server tests make: the app and the front server (nginx, Caddy)
# serving the same built files must answer alike.


def check_gzip_etag_does_not_validate_identity(app: str, front: str) -> None:
    """The gzip copy's ETag (from ``front``) gets the plain file a 200 from both."""
    gz_tag = fetch(front, "/feeds/desk.xml", {"Accept-Encoding": "gzip"}).headers["etag"]
    for base in (app, front):
        r = fetch(base, "/feeds/desk.xml", {"Accept-Encoding": "identity", "If-None-Match": gz_tag})
        assert r.status_code == 200, base


def check_if_modified_since_alike(app: str, front: str) -> None:
    """If-Modified-Since at, after and before the file's time: the same status from both."""
    path, headers = "/feeds/desk.xml", {"Accept-Encoding": "gzip"}
    last_modified = fetch(app, path, headers).headers["last-modified"]
    later = formatdate(time.time() + 3600, usegmt=True)
    earlier = formatdate(0, usegmt=True)
    for since, expected in ((last_modified, 304), (later, 304), (earlier, 200)):
        statuses = {
            fetch(base, path, {**headers, "If-Modified-Since": since}).status_code
            for base in (app, front)
        }
        assert statuses == {expected}, since


def check_state_and_gzip_copies_not_served(app: str, front: str) -> None:
    """The build's state files and the gzip copies by name: 404 from both."""
    for path in (
        "/.syndicate/manifest.json",
        "/feeds/desk.xml.gz",
        "/feeds/desk/archive/1.atom.gz",
    ):
        assert fetch(front, path, {}).status_code == 404, path
        assert fetch(app, path, {}).status_code == 404, path
