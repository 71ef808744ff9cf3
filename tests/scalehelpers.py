"""Helpers for the scale-out tests: a broker per test, an instance on PostgreSQL, many
subscribers at once, and ``syndicate worker`` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from syndicate.store import Store
from syndicate.store.delivery_schema import subscribers, subscriptions

REDIS_ENV = "SYNDICATE_TEST_REDIS_URL"
AMQP_ENV = "SYNDICATE_TEST_AMQP_URL"


@dataclass(frozen=True)
class Broker:
    """A broker URL with a queue name and key prefix no other test uses."""

    kind: str
    url: str
    queue: str

    @property
    def prefix(self) -> str:
        return f"{self.queue}:"


@contextmanager
def broker_for(kind: str) -> Iterator[Broker]:
    """A unique queue on the broker named by the environment (skip when unset); its
    queue and keys are removed afterwards."""
    env = REDIS_ENV if kind == "redis" else AMQP_ENV
    url = os.environ.get(env)
    if not url:
        pytest.skip(f"{env} is not set (the {kind} broker is tested in CI)")
    broker = Broker(kind, url, f"syn-test-{uuid.uuid4().hex[:12]}")
    try:
        yield broker
    finally:
        if kind == "redis":
            import redis

            client = redis.Redis.from_url(url)
            keys = list(client.scan_iter(match=f"{broker.prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()
        else:
            from kombu import Connection

            with Connection(url) as conn:
                conn.default_channel.queue_delete(broker.queue)


def write_instance(
    folder: Path,
    *,
    store_url: str,
    broker: Broker,
    smtp_port: int,
    rate: float = 0,
    lease: float = 20,
    concurrency: int = 2,
) -> Path:
    """A Celery-mode instance sending to the SMTP test server."""
    (folder / "feeds").mkdir(parents=True)
    (folder / "feeds" / "world.toml").write_text('title = "World"\n')
    config = folder / "syndicate.toml"
    config.write_text(
        f"""
[site]
name = "The Meridian Review"
base_url = "https://meridian.example"
tag_authority = "meridian.example,2026"

[store]
url = "{store_url}"

[security]
secret_key = "scale-test-secret-0123456789"

[delivery]
backend = "smtp"
from_email = "digest@meridian.example"

[delivery.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
connections = 2
rate = {rate}

[dispatch]
queue = "celery"
batch_size = 100
lease_seconds = {lease}

[celery]
broker_url = "{broker.url}"
queue_name = "{broker.queue}"
key_prefix = "{broker.prefix}"
pool = "threads"
concurrency = {concurrency}
visibility_timeout = {lease * 1.5}
"""
    )
    return config


def add_many_subscribers(store: Store, count: int, now: datetime, channel: str = "world") -> None:
    """``count`` active subscribers of ``channel`` in two statements (upsert one by one
    would take minutes at 20,000)."""
    with store.engine.begin() as conn:
        conn.execute(
            insert(subscribers),
            [
                {
                    "email": f"reader{i:05d}@example.com",
                    "name": f"Reader {i}",
                    "status": "active",
                    "timezone": "UTC",
                    "consent": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(count)
            ],
        )
        ids = [row[0] for row in conn.execute(select(subscribers.c.id))]
        conn.execute(
            insert(subscriptions),
            [
                {
                    "subscriber_id": sid,
                    "channel": channel,
                    "cadence": "edition",
                    "sections": [],
                    "created_at": now,
                }
                for sid in ids
            ],
        )


def syndicate(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI on ``config`` and wait."""
    return subprocess.run(
        [sys.executable, "-m", "syndicate", "--config", str(config), *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def start_worker(config: Path, log: Path, *, quiet: bool = True) -> subprocess.Popen[bytes]:
    """A ``syndicate worker`` in its own process group (so a kill takes all of it);
    not ``quiet``, it logs ``ready.`` once it consumes."""
    level = ["-q"] if quiet else []
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "syndicate", "--config", str(config), *level, "worker"],
            env=_env(),
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


@contextmanager
def workers(
    config: Path, count: int, logs: Path, *, quiet: bool = True
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` workers, stopped with SIGTERM (or killed, if they hang) at the end."""
    procs = [start_worker(config, logs / f"worker{i}.log", quiet=quiet) for i in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}


class FlakyProxy:
    """A TCP proxy to ``target`` that can be told to fail: while ``down``, it accepts a
    connection and closes it at once (counting it in ``refused``), and it has cut every
    connection it carried when it went down — a database restarting, as a client sees."""

    def __init__(self, target: tuple[str, int]) -> None:
        import socket
        import threading

        self.target = target
        self.down = False
        self.refused = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._links: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while not self._stopped:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.down:
                self.refused += 1
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._links += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: object, dst: object) -> None:
        import socket

        assert isinstance(src, socket.socket) and isinstance(dst, socket.socket)
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def go_down(self) -> None:
        """Refuse new connections and cut the open ones."""
        import socket

        self.down = True
        with self._lock:
            links, self._links = self._links, []
        for s in links:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def come_back(self) -> None:
        """Carry connections again."""
        self.down = False

    def close(self) -> None:
        """Stop listening and cut everything."""
        self._stopped = True
        self.go_down()
        self._server.close()
