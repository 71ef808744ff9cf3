"""Helpers for tests that run a real front server (nginx, Caddy) beside the app and
compare their answers byte for byte."""

from __future__ import annotations

import socket
import subprocess
import time

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
