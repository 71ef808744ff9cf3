"""Scale-out benchmark: messages per second with 1, 2 and 4 ``syndicate worker``
processes (Celery) on PostgreSQL, sending one 10-story edition to Postfix's ``smtp-sink``
on 127.0.0.1, and the peak memory of each worker. The peer, measured in the same run on
the same database, sink and edition: ``syndicate dispatch --workers N`` (in-process
dispatch, the same number of processes, no broker).

Each figure is the median of ``--runs`` runs. A run resets the outbox to queued, starts
the workers and waits until each says it is ready, then times from publishing the tasks
(``syndicate dispatch`` in ``queue = "celery"`` mode) until every delivery is sent.
Peak memory is each worker process's high-water mark (VmHWM), read before it stops.

Needs PostgreSQL, Redis (the broker) and Debian's ``postfix`` package for smtp-sink
(``DEBIAN_FRONTEND=noninteractive apt-get install -y postfix``; the daemon is not used).
Not run by CI. Usage:

    python bench/scale.py [--subscribers 20000] [--runs 3] [--workers 1 2 4]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--broker redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, insert, select, text, update

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
SINK = "/usr/sbin/smtp-sink"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, store_url: str, broker: str, queue: str, port: int) -> Path:
    config = folder / "syndicate.toml"
    base = (REPO / "syndicate.toml").read_text()
    base = base.replace('url = "sqlite:///var/syndicate.db"', f'url = "{store_url}"')
    base = base.replace('backend = "file"', 'backend = "smtp"')
    config.write_text(
        base
        + f"""
[security]
secret_key = "bench-secret-0123456789abcdef"

[delivery.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
connections = 4
max_messages_per_connection = 100000
max_connection_age = 3600

[dispatch]
queue = "celery"
batch_size = 100

[celery]
broker_url = "{broker}"
queue_name = "{queue}"
key_prefix = "{queue}:"
pool = "solo"
"""
    )
    return config


def prepare(folder: Path, config: Path, subscribers: int) -> int:
    """Ingest the example content, build the 'all' edition and enqueue it; its id."""
    from syndicate.config import load_channels, load_settings
    from syndicate.delivery.dispatch import enqueue_edition
    from syndicate.digest import build_edition, slot_for
    from syndicate.ingest.run import ingest
    from syndicate.store import open_store
    from syndicate.store.delivery_schema import subscribers as subs_table
    from syndicate.store.delivery_schema import subscriptions

    for name in ("feeds", "content"):
        shutil.copytree(REPO / name, folder / name)
    settings = load_settings(config)
    store = open_store(settings.store_url)
    ingest(store, settings)
    now = datetime.now(UTC)
    channel = next(c for c in load_channels(settings) if c.name == "all")
    built = build_edition(store, settings, channel, slot_for(channel.digest, now))
    assert built is not None and built.record is not None
    with store.engine.begin() as conn:
        conn.execute(
            insert(subs_table),
            [
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
            ],
        )
        ids = [r[0] for r in conn.execute(select(subs_table.c.id))]
        conn.execute(
            insert(subscriptions),
            [
                {
                    "subscriber_id": i,
                    "channel": "all",
                    "cadence": "edition",
                    "sections": [],
                    "created_at": now,
                }
                for i in ids
            ],
        )
    assert enqueue_edition(store, channel, built.record, now) == subscribers
    store.close()
    return built.record.id


def reset(store_url: str) -> None:
    from syndicate.store.delivery_schema import deliveries

    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            update(deliveries).values(
                status="queued",
                attempts=0,
                lease_until=None,
                lease_owner=None,
                sent_at=None,
                provider_message_id=None,
            )
        )
    engine.dispose()


def sent(store_url: str) -> int:
    engine = create_engine(store_url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM deliveries WHERE status = 'sent'"))
        value = int(count.scalar_one())
    engine.dispose()
    return value


def peak_mib(pid: int) -> float:
    """VmHWM of ``pid`` and its children (a prefork pool's), in MiB."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        status = Path(f"/proc/{p}/status")
        if not status.exists():
            continue
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}


def run_celery(config: Path, store_url: str, workers: int, total: int, logs: Path) -> tuple:
    """One run: ``workers`` worker processes; (seconds, peak MiB per worker)."""
    reset(store_url)
    procs = []
    for i in range(workers):
        log = logs / f"worker-{workers}-{i}-{uuid.uuid4().hex[:6]}.log"
        procs.append(
            (
                subprocess.Popen(
                    [sys.executable, "-m", "syndicate", "--config", str(config), "worker"],
                    env=env(),
                    stdout=log.open("wb"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                ),
                log,
            )
        )
    try:
        deadline = time.monotonic() + 60
        while not all(b"ready." in log.read_bytes() for _, log in procs):
            if time.monotonic() > deadline:
                raise SystemExit(f"workers did not start; see {logs}")
            time.sleep(0.1)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "syndicate", "--config", str(config), "-q", "dispatch"],
            env=env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        while sent(store_url) < total:
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        peaks = [peak_mib(p.pid) for p, _ in procs]
    finally:
        for p, _ in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p, _ in procs:
            p.wait(timeout=60)
    return seconds, peaks


def run_inline(config: Path, store_url: str, workers: int, total: int) -> float:
    """The peer: ``syndicate dispatch --workers N`` with ``queue = "inline"``."""
    reset(store_url)
    start = time.perf_counter()
    command = [sys.executable, "-m", "syndicate", "--config", str(config), "-q", "dispatch"]
    subprocess.run(
        [*command, "--workers", str(workers)],
        env={**env(), "SYNDICATE_DISPATCH__QUEUE": "inline"},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    assert sent(store_url) == total
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if not os.path.exists(SINK):
        raise SystemExit(f"{SINK} is missing: apt-get install postfix")

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.postgres)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in args.postgres else "?"
    store_url = f"{args.postgres}{sep}options={quote(f'-csearch_path={schema}')}"
    work = Path(tempfile.mkdtemp(prefix="syndicate-scale-"))
    port = free_port()
    sink = subprocess.Popen([SINK, "-u", "nobody", f"127.0.0.1:{port}", "1000"])
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    rows = []
    try:
        config = write_config(work, store_url, args.broker, queue, port)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; preparing…", flush=True)
        prepare(work, config, args.subscribers)
        for n in args.workers:
            celery_runs = [
                run_celery(config, store_url, n, args.subscribers, work) for _ in range(args.runs)
            ]
            inline_runs = [
                run_inline(config, store_url, n, args.subscribers) for _ in range(args.runs)
            ]
            seconds = statistics.median(s for s, _ in celery_runs)
            peak = max(max(p) for _, p in celery_runs)
            inline = statistics.median(inline_runs)
            rows.append((n, args.subscribers / seconds, peak, args.subscribers / inline))
            print(
                f"  {n} worker(s): {rows[-1][1]:.0f} msg/s, peak {peak:.0f} MiB per worker; "
                f"dispatch --workers {n}: {rows[-1][3]:.0f} msg/s",
                flush=True,
            )
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(work, ignore_errors=True)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        import redis

        client = redis.Redis.from_url(args.broker)
        keys = list(client.scan_iter(match=f"{queue}:*"))
        if keys:
            client.delete(*keys)

    print(
        f"\none 10-story edition to {args.subscribers:,} recipients, smtp-sink, PostgreSQL, "
        f"Redis broker; median of {args.runs}"
    )
    print(f"  {'workers':>7}{'msg/s':>9}{'peak MiB/worker':>17}{'inline msg/s':>14}{'ratio':>7}")
    for n, rate, peak, inline in rows:
        print(f"  {n:>7}{rate:>9.0f}{peak:>17.0f}{inline:>14.0f}{rate / inline:>7.2f}")


if __name__ == "__main__":
    main()
