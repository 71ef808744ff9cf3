"""Fan-out benchmark: ``syndicate digest send CHANNEL`` end to end, and dispatch alone,
to Postfix's ``smtp-sink`` on 127.0.0.1, with Postfix's ``smtp-source`` as the peer.

What is timed (each in a fresh process, on a fresh copy of a prepared store that has the
example content ingested and N subscribers, but no edition yet):

* **end to end**: the command a user runs, ``syndicate digest send all --workers W``, as
  a subprocess, from its start to its exit. It exits only after every message's final
  reply from the sink was read and recorded, so this covers Python start-up, composing
  the edition, enqueueing N deliveries, starting the dispatch workers, and claiming,
  building, sending and recording every message;
* **dispatch alone**: ``syndicate dispatch --workers W`` on a store where the edition is
  already composed and enqueued (start-up included, compose and enqueue not);
* **smtp-source** (C, 4 sessions, the same message size and count, to the same sink): the
  peer, run in the same session.

Then one instrumented run in process (one worker) gives the CPU time per message of each
stage: compose, enqueue, worker start-up, claim, picks, build, send, record.

The sink is ``smtp-sink`` (C, event driven, no disk): it answers as fast as the machine
allows, so it is the sender that is measured, not the receiver; aiosmtpd would cap both
syndicate and smtp-source far lower. SQLite is always measured; PostgreSQL when
``--postgres URL`` or ``SYNDICATE_TEST_POSTGRES_URL`` is set (a database cloned from a
prepared template per run). Needs Debian's ``postfix`` package (``apt-get install
postfix``; only its smtp-sink and smtp-source programs are used).

Usage: python bench/fanout.py [--runs 3] [--large] [--workers 2] [--connections 4]
       [--postgres URL | --no-postgres] [--dkim]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
SINK = "/usr/sbin/smtp-sink"
SOURCE = "/usr/sbin/smtp-source"
CHANNEL = "all"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(
    folder: Path, *, store_url: str, port: int, connections: int, dkim_key: Path | None
) -> Path:
    """The example instance's config, sending over SMTP to the sink at ``port``."""
    dkim = ""
    if dkim_key is not None:
        dkim = 'dkim_domain = "meridian.example"\ndkim_selector = "bench"\n'
        dkim += f'dkim_key_file = "{dkim_key}"\n'
    text = (REPO / "syndicate.toml").read_text()
    text = text.replace('url = "sqlite:///var/syndicate.db"', f'url = "{store_url}"')
    text = text.replace('backend = "file"', 'backend = "smtp"\n' + dkim)
    text += f"""
[security]
secret_key = "bench-secret-0123456789abcdef"

[delivery.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
connections = {connections}
max_messages_per_connection = 100000
max_connection_age = 3600

[dispatch]
batch_size = 500
"""
    config = folder / "syndicate.toml"
    config.write_text(text)
    return config


# --- stores -----------------------------------------------------------------------------


def _pg_url(base: str, database: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/" + database))


def _pg_admin(base: str, sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


@dataclass
class Base:
    """A prepared instance (content ingested, subscribers added, no edition) to copy."""

    kind: str  # sqlite | postgres
    folder: Path
    subscribers: int
    pg: str | None = None  # the admin URL (PostgreSQL)
    template: str | None = None  # the template database (PostgreSQL)

    def fresh(self, target: Path, port: int, connections: int, key: Path | None) -> Path:
        """A fresh copy to run on; returns its config."""
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(self.folder, target)
        url = f"sqlite:///{target / 'var' / 'syndicate.db'}"
        if self.kind == "postgres":
            assert self.pg is not None and self.template is not None
            run_db = f"{self.template}_run"
            _pg_admin(self.pg, f'DROP DATABASE IF EXISTS "{run_db}"')
            _pg_admin(self.pg, f'CREATE DATABASE "{run_db}" TEMPLATE "{self.template}"')
            url = _pg_url(self.pg, run_db)
        return write_config(target, store_url=url, port=port, connections=connections, dkim_key=key)

    def drop(self) -> None:
        if self.kind == "postgres":
            assert self.pg is not None and self.template is not None
            _pg_admin(self.pg, f'DROP DATABASE IF EXISTS "{self.template}_run"')
            _pg_admin(self.pg, f'DROP DATABASE IF EXISTS "{self.template}"')


def prepare(work: Path, kind: str, subscribers: int, pg: str | None) -> Base:
    """The example content ingested and ``subscribers`` readers of channel ``all``."""
    from sqlalchemy import insert, text

    from syndicate.config import load_settings
    from syndicate.ingest.run import ingest
    from syndicate.store import open_store
    from syndicate.store.delivery_schema import subscribers as subscribers_table

    folder = work / f"{kind}-{subscribers}"
    folder.mkdir(parents=True)
    for name in ("feeds", "content"):
        shutil.copytree(REPO / name, folder / name)
    base = Base(kind, folder, subscribers, pg)
    url = f"sqlite:///{folder / 'var' / 'syndicate.db'}"
    if kind == "postgres":
        assert pg is not None
        base.template = f"syndicate_fanout_{subscribers}_{os.getpid()}"
        _pg_admin(pg, f'DROP DATABASE IF EXISTS "{base.template}"')
        _pg_admin(pg, f'CREATE DATABASE "{base.template}"')
        url = _pg_url(pg, base.template)
    config = write_config(folder, store_url=url, port=25, connections=1, dkim_key=None)
    settings = load_settings(config)
    store = open_store(settings.store_url, create=True)
    ingest(store, settings)
    now = datetime.now(UTC)
    rows = [
        {
            "email": f"reader{i:06d}@example.com",
            "name": f"Reader {i}",
            "status": "active",
            "timezone": "UTC",
            "consent": {},
            "created_at": now,
            "updated_at": now,
        }
        for i in range(subscribers)
    ]
    with store.engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(subscribers_table), rows[start : start + 10_000])
        conn.execute(
            text(
                "INSERT INTO subscriptions (subscriber_id, channel, cadence, sections, created_at)"
                " SELECT id, :channel, 'edition', '[]', created_at FROM subscribers"
            ),
            {"channel": CHANNEL},
        )
    store.close()
    if kind == "sqlite":
        con = sqlite3.connect(folder / "var" / "syndicate.db")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
    return base


# --- measurements -----------------------------------------------------------------------


def run_command(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a command; its wall time, CPU and peak memory: its own and its children's,
    from ``wait4`` on it, so one command's figures never mix with another's."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, problems = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{text}\n{problems}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"seconds": seconds, "cpu": cpu, "peak_mib": usage.ru_maxrss / 1024, "out": text}


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    return env


def syndicate(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "syndicate", "--config", str(config), *args]


def sent_count(config: Path) -> int:
    """Deliveries recorded as sent (the run must have sent all of them)."""
    out = run_command(syndicate(config, "deliveries", "status", "--json"), child_env())["out"]
    counts: dict[str, int] = json.loads(out.strip().splitlines()[-1])["counts"]
    return counts.get("sent", 0)


def end_to_end(config: Path, workers: int) -> dict[str, float]:
    result = run_command(
        syndicate(config, "digest", "send", CHANNEL, "--workers", str(workers)), child_env()
    )
    result["sent"] = sent_count(config)
    return result


def dispatch_alone(config: Path, workers: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, str(HERE), "--one", "enqueue", "--config", str(config)],
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"enqueue failed:\n{done.stdout}\n{done.stderr}")
    result = run_command(syndicate(config, "dispatch", "--workers", str(workers)), child_env())
    result["sent"] = sent_count(config)
    return result


def smtp_source(port: int, size: int, count: int) -> dict[str, float]:
    return run_command(
        [
            SOURCE,
            "-s",
            "4",
            "-l",
            str(size),
            "-m",
            str(count),
            "-f",
            "digest@meridian.example",
            "-t",
            "reader@example.com",
            f"127.0.0.1:{port}",
        ],
        dict(os.environ),
    ) | {"sent": count}


# --- the instrumented run (in a child process) ------------------------------------------


class Stages:
    """CPU seconds of the calling thread spent in each wrapped function, by stage.

    Nested stages are not double counted: time in an inner stage is taken out of the
    outer one (``build`` calls the picks query, for instance)."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.lock = threading.Lock()
        self.local = threading.local()

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        original: Callable[..., Any] = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            stack: list[list[float]] = self.local.__dict__.setdefault("stack", [])
            stack.append([0.0])
            start = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent = time.thread_time() - start
                inner = stack.pop()[0]
                if stack:
                    stack[-1][0] += spent
                with self.lock:
                    self.cpu[stage] += spent - inner

        setattr(owner, name, timed)


def instrumented(config: Path) -> dict[str, Any]:
    """``digest send`` in this process, one worker, with each stage's CPU time."""
    start_cpu = time.process_time()
    import syndicate.delivery as delivery_api
    from syndicate.cli.app import AppContext
    from syndicate.delivery import compose, dispatch
    from syndicate.delivery.smtp import SMTPBackend
    from syndicate.digest import build as digest_build
    from syndicate.store.outbox import Outbox

    stages = Stages()
    stages.wrap(digest_build, "build_edition", "compose")
    # The CLI imports it from syndicate.delivery when the command runs: wrapped there.
    stages.wrap(delivery_api, "enqueue_counted", "enqueue")
    stages.wrap(Outbox, "claim", "claim")
    stages.wrap(compose.EditionMessages, "choose", "picks")
    stages.wrap(Outbox, "record_picks", "picks")
    stages.wrap(compose.EditionMessages, "message", "build")
    stages.wrap(SMTPBackend, "send_batch", "send")
    stages.wrap(SMTPBackend, "_send_one", "send")
    stages.wrap(Outbox, "record", "record")
    stages.wrap(dispatch.Dispatcher, "_after", "record")
    stages.wrap(dispatch.Dispatcher, "_without_paused", "claim")
    # Worker start-up: what one dispatch process does before its first claim (config,
    # channels, backend, signer, message source), measured on its own below.
    startup_cpu = time.process_time() - start_cpu
    t0 = time.thread_time()
    app = AppContext(config)
    app.settings  # noqa: B018
    from syndicate.config import load_channels

    channels = {c.name: c for c in load_channels(app.settings)}
    compose.EditionMessages(app.store(), app.settings, channels)
    delivery_api.make_backend(app.settings)
    startup_cpu += time.thread_time() - t0
    wall = time.perf_counter()
    before = time.process_time()
    from click.testing import CliRunner

    from syndicate.cli.app import cli

    outcome = CliRunner().invoke(
        cli, ["--config", str(config), "digest", "send", CHANNEL], catch_exceptions=False
    )
    if outcome.exit_code != 0:
        raise SystemExit(outcome.output)
    total = time.process_time() - before
    app.close()
    return {
        "stages": dict(stages.cpu),
        "startup": startup_cpu,
        "total": total,
        "wall": time.perf_counter() - wall,
    }


def enqueue_only(config: Path) -> None:
    """Compose and enqueue the due edition, sending nothing (for dispatch alone)."""
    from syndicate.config import load_channels, load_settings
    from syndicate.delivery.dispatch import enqueue_edition
    from syndicate.digest import slot_for
    from syndicate.digest.build import build_edition
    from syndicate.store import open_store

    settings = load_settings(config)
    store = open_store(settings.store_url)
    now = datetime.now(UTC)
    channel = next(c for c in load_channels(settings) if c.name == CHANNEL)
    built = build_edition(store, settings, channel, slot_for(channel.digest, now), save=True)
    assert built is not None and built.record is not None
    enqueue_edition(store, channel, built.record, now)
    store.close()


# --- the report -------------------------------------------------------------------------


def median(results: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in results)


def row(label: str, results: list[dict[str, float]]) -> str:
    seconds = median(results, "seconds")
    sent = int(median(results, "sent"))
    rates = sorted(r["sent"] / r["seconds"] for r in results)
    spread = f"{rates[0]:.0f}–{rates[-1]:.0f}" if len(rates) > 1 else ""
    cpu = median(results, "cpu") / max(1, sent) * 1e6
    mem = median(results, "peak_mib")
    return (
        f"  {label:44}{sent:>8}{seconds:>8.2f}{sent / seconds:>8.0f}{spread:>12}"
        f"{mem:>7.0f}{cpu:>8.0f}"
    )


HEADER = (
    f"  {'':44}{'msgs':>8}{'median':>8}{'msg/s':>8}{'range':>12}{'MiB':>7}{'µs CPU':>8}\n"
    f"  {'':44}{'':>8}{'s':>8}{'':>8}{'msg/s':>12}{'peak':>7}{'/msg':>8}"
)


@contextmanager
def sink_on(port: int) -> Iterator[None]:
    sink = subprocess.Popen([SINK, "-u", "nobody", f"127.0.0.1:{port}", "1000"])
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield
    finally:
        sink.terminate()
        sink.wait()


def dkim_key(work: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = work / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def message_size(config: Path) -> int:
    """The size of one message as sent (for smtp-source): one reader's copy of the
    stored edition, built as dispatch builds it."""
    from syndicate.config import load_channels, load_settings
    from syndicate.delivery.compose import EditionMessages
    from syndicate.store import open_store
    from syndicate.store.outbox import Claimed

    settings = load_settings(config)
    store = open_store(settings.store_url, upgrade=False)
    channels = {c.name: c for c in load_channels(settings)}
    with store.engine.connect() as conn:
        edition_id = conn.exec_driver_sql("SELECT max(id) FROM editions").scalar_one()
    now = datetime.now(UTC)
    reader = Claimed(
        1, edition_id, CHANNEL, 1, "reader000001@example.com", "Reader 1", 1, now, "active", False
    )
    size = len(EditionMessages(store, settings, channels).message(reader, now).raw)
    store.close()
    return size


def print_stages(label: str, n: int, result: dict[str, Any]) -> None:
    stages: dict[str, float] = result["stages"]
    order = ["compose", "enqueue", "claim", "picks", "build", "send", "record"]
    parts = {"start-up": result["startup"], **{k: stages.get(k, 0.0) for k in order}}
    known = sum(v for k, v in parts.items() if k != "start-up")
    parts["other"] = max(0.0, result["total"] - known)
    total = result["total"] + result["startup"]
    print(f"\n  CPU µs per message by stage, {label} (one worker, in process, {n:,} msgs):")
    print("  " + "".join(f"{k:>10}" for k in parts) + f"{'total':>10}")
    print(
        "  "
        + "".join(f"{v / n * 1e6:>10.1f}" for v in parts.values())
        + f"{total / n * 1e6:>10.1f}"
    )
    print(f"  (wall {result['wall']:.2f} s for the command in process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--large", action="store_true", help="also 100,000 subscribers")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--connections", type=int, default=4, help="SMTP sessions per worker")
    parser.add_argument("--workers", type=int, default=2, help="dispatch processes")
    parser.add_argument("--postgres", default=os.environ.get("SYNDICATE_TEST_POSTGRES_URL"))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--dkim", action="store_true", help="sign with DKIM as well")
    parser.add_argument("--no-stages", action="store_true", help="skip the instrumented run")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one == "stages":
        print(json.dumps(instrumented(args.config)))
        return
    if args.one == "enqueue":
        enqueue_only(args.config)
        return

    for tool in (SINK, SOURCE):
        if not os.path.exists(tool):
            raise SystemExit(f"{tool} is missing: apt-get install postfix")
    sys.path.insert(0, str(REPO / "src"))
    kinds = [] if args.no_sqlite else ["sqlite"]
    if args.postgres and not args.no_postgres:
        kinds.append("postgres")
    sizes = [args.subscribers] + ([100_000] if args.large else [])
    work = Path(tempfile.mkdtemp(prefix="syndicate-fanout-"))
    port = free_port()
    key = dkim_key(work) if args.dkim else None
    bases: list[Base] = []
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.workers} workers x "
        f"{args.connections} SMTP sessions; sink: smtp-sink (C); runs per figure: {args.runs}"
    )
    try:
        with sink_on(port):
            for kind in kinds:
                for n in sizes:
                    base = prepare(work, kind, n, args.postgres)
                    bases.append(base)
                    runs = args.runs if n <= 10_000 else 1
                    run = work / "run"
                    tag = f"{kind}, {n:,}" + (", DKIM" if key else "")
                    e2e = [
                        end_to_end(base.fresh(run, port, args.connections, key), args.workers)
                        for _ in range(runs)
                    ]
                    size = message_size(run / "syndicate.toml")
                    alone = [
                        dispatch_alone(base.fresh(run, port, args.connections, key), args.workers)
                        for _ in range(runs)
                    ]
                    peer = [smtp_source(port, size, n) for _ in range(runs)]
                    print(f"\n{tag}: one 10-story edition, ~{size // 1000} KB a message")
                    print(HEADER)
                    print(row(f"digest send, end to end ({args.workers}w)", e2e))
                    print(row(f"dispatch alone ({args.workers}w)", alone))
                    print(row("smtp-source (C), 4 sessions", peer))
                    ours = median(e2e, "sent") / median(e2e, "seconds")
                    theirs = n / median(peer, "seconds")
                    only = median(alone, "sent") / median(alone, "seconds")
                    print(
                        f"  ratio to smtp-source: end to end {ours / theirs:.2f}x, "
                        f"dispatch alone {only / theirs:.2f}x (goal: end to end >= 0.6x)"
                    )
                    for result in e2e + alone:
                        if result["sent"] != n:
                            raise SystemExit(f"sent {result['sent']} of {n}")
                    if not args.no_stages:
                        config = base.fresh(run, port, args.connections, key)
                        out = run_command(
                            [sys.executable, str(HERE), "--one", "stages", "--config", str(config)],
                            child_env(),
                        )["out"]
                        print_stages(tag, n, json.loads(out.strip().splitlines()[-1]))
    finally:
        for base in bases:
            base.drop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
