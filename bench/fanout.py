"""Fan-out benchmark: one 10-story edition to N subscribers over SMTP to Postfix's
``smtp-sink`` on 127.0.0.1, through the whole outbox path (claim, build, DKIM, send,
record), with and without DKIM. Peers measured in the same run, on the same sink:

* naive: an ``EmailMessage`` built per recipient, sent over one smtplib connection;
* ``smtp-source``: Postfix's C load generator, same message size, 4 sessions (the
  ceiling of the sink on this machine).

Each measurement runs in a fresh process (peak memory = its ru_maxrss), on a copy of a
prepared SQLite outbox. Needs Debian's ``postfix`` package for smtp-sink/smtp-source
(``apt-get install postfix``; the daemon itself is not used).

Usage: python bench/fanout.py [--subscribers 100000] [--connections 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
SINK = "/usr/sbin/smtp-sink"
SOURCE = "/usr/sbin/smtp-source"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, port: int, connections: int, dkim_key: Path | None) -> Path:
    dkim = ""
    if dkim_key is not None:
        dkim = 'dkim_domain = "meridian.example"\ndkim_selector = "bench"\n'
        dkim += f'dkim_key_file = "{dkim_key}"\n'
    config = folder / "syndicate.toml"
    config.write_text(
        (REPO / "syndicate.toml").read_text()
        + """
[security]
secret_key = "bench-secret-0123456789abcdef"
"""
    )
    text = config.read_text().replace('backend = "file"', 'backend = "smtp"\n' + dkim)
    text += f"""
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
    config.write_text(text)
    return config


def prepare(work: Path, subscribers: int) -> Path:
    """An instance with the example content ingested, one edition and its outbox."""
    from syndicate.config import load_channels, load_settings
    from syndicate.delivery.dispatch import enqueue_edition
    from syndicate.digest import build_edition, slot_for
    from syndicate.ingest.run import ingest
    from syndicate.store import open_store

    instance = work / "instance"
    instance.mkdir(parents=True)
    for name in ("feeds", "content"):
        shutil.copytree(REPO / name, instance / name)
    config = write_config(instance, 25, 1, None)
    settings = load_settings(config)
    store = open_store(settings.store_url)
    ingest(store, settings)
    now = datetime.now(UTC)
    channel = next(c for c in load_channels(settings) if c.name == "all")
    built = build_edition(store, settings, channel, slot_for(channel.digest, now))
    assert built is not None and built.record is not None
    with store.engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        cur.executemany(
            "INSERT INTO subscribers (email, name, status, timezone, consent, created_at,"
            " updated_at) VALUES (?, ?, 'active', 'UTC', '{}', ?, ?)",
            (
                (
                    f"reader{i:06d}@example.com",
                    f"Reader {i}",
                    now.isoformat(" "),
                    now.isoformat(" "),
                )
                for i in range(subscribers)
            ),
        )
        cur.execute(
            "INSERT INTO subscriptions (subscriber_id, channel, cadence, sections, created_at)"
            " SELECT id, 'all', 'edition', '[]', created_at FROM subscribers"
        )
    added = enqueue_edition(store, channel, built.record, now)
    assert added == subscribers, added
    store.close()
    db = Path(settings.store_url.removeprefix("sqlite:///"))
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return instance


# --- one measurement per process ---------------------------------------------------------


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_syndicate(config: Path, workers: int) -> dict[str, float]:
    """Run the real dispatch (claim, build, sign, send, record) until nothing is due."""
    from syndicate.cli.app import AppContext
    from syndicate.cli.delivery import run_dispatch

    app = AppContext(config)
    start = time.perf_counter()
    report = run_dispatch(app, None, workers)
    seconds = time.perf_counter() - start
    app.close()
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    return {
        "sent": report.counts["sent"],
        "seconds": seconds,
        "peak_mib": max(peak_mib(), kids.ru_maxrss / 1024),
        "cpu_us_per_msg": cpu / max(1, report.counts["sent"]) * 1e6,
    }


def one_naive(port: int, count: int, html: str, text: str) -> dict[str, float]:
    """The naive path: an EmailMessage per recipient, one smtplib connection."""
    import smtplib
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid

    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(count):
            msg = EmailMessage()
            msg["From"] = "The Meridian Review <digest@meridian.example>"
            msg["To"] = f"Reader {i} <reader{i:06d}@example.com>"
            msg["Subject"] = "Moscow Eyes a Launch Pad… in the Caribbean?"
            msg["Date"] = format_datetime(datetime.now(UTC))
            msg["Message-ID"] = make_msgid(domain="meridian.example")
            msg["List-Unsubscribe"] = f"<https://meridian.example/u/{i}>"
            msg.set_content(text.replace("%%syn:name%%", f"Reader {i}"))
            msg.add_alternative(html.replace("%%syn:name%%", f"Reader {i}"), subtype="html")
            smtp.send_message(msg)
    seconds = time.perf_counter() - start
    return {"sent": count, "seconds": seconds, "peak_mib": peak_mib()}


def measure(*args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, str(HERE), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{args[1]} failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def fresh_copy(instance: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(instance, target)
    return target


def smtp_source(port: int, size: int, count: int) -> dict[str, float]:
    start = time.perf_counter()
    subprocess.run(
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
        check=True,
    )
    return {"sent": count, "seconds": time.perf_counter() - start, "peak_mib": 0.0}


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


def row(label: str, result: dict[str, float]) -> str:
    rate = result["sent"] / result["seconds"]
    mem = f"{result['peak_mib']:.0f}" if result["peak_mib"] else "-"
    cpu = f"{result['cpu_us_per_msg']:.0f}" if result.get("cpu_us_per_msg") else "-"
    return (
        f"  {label:38}{int(result['sent']):>9}{result['seconds']:>9.1f}{rate:>10.0f}"
        f"{mem:>9}{cpu:>10}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="for the memory check")
    parser.add_argument("--connections", type=int, default=4, help="SMTP sessions per worker")
    parser.add_argument("--workers", type=int, default=2, help="dispatch processes")
    parser.add_argument("--naive", type=int, default=3000, help="recipients for the naive path")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--edition", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one == "syndicate":
        print(json.dumps(one_syndicate(args.config, args.workers)))
        return
    if args.one == "naive":
        parts = json.loads(args.edition.read_text())
        print(json.dumps(one_naive(args.port, args.count, parts["html"], parts["text"])))
        return

    for tool in (SINK, SOURCE):
        if not os.path.exists(tool):
            raise SystemExit(f"{tool} is missing: apt-get install postfix")
    work = Path(tempfile.mkdtemp(prefix="syndicate-fanout-"))
    port = free_port()
    sink = subprocess.Popen([SINK, "-u", "nobody", f"127.0.0.1:{port}", "1000"])
    try:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; preparing outboxes…")
        big = prepare(work / "big", args.subscribers)
        small = prepare(work / "small", args.small)
        from syndicate.store import open_store

        store = open_store("sqlite:///" + str(big / "var" / "syndicate.db"), upgrade=False)
        with store.engine.connect() as conn:
            html, text = conn.exec_driver_sql("SELECT html, text FROM editions").one()
        store.close()
        edition_file = work / "edition.json"
        edition_file.write_text(json.dumps({"html": html, "text": text}))
        key = dkim_key(work)
        results: list[tuple[str, dict[str, float]]] = []
        w = f"{args.workers}w"
        for label, instance, signed in (
            (f"syndicate {w}, {args.small:,}, no DKIM", small, False),
            (f"syndicate {w}, {args.subscribers:,}, no DKIM", big, False),
            (f"syndicate {w}, {args.small:,}, DKIM", small, True),
            (f"syndicate {w}, {args.subscribers:,}, DKIM", big, True),
        ):
            run_dir = fresh_copy(instance, work / "run")
            config = write_config(run_dir, port, args.connections, key if signed else None)
            results.append(
                (
                    label,
                    measure(
                        "--one",
                        "syndicate",
                        "--config",
                        str(config),
                        "--workers",
                        str(args.workers),
                    ),
                )
            )
            print(row(label, results[-1][1]), flush=True)
        naive = measure(
            "--one",
            "naive",
            "--port",
            str(port),
            "--count",
            str(args.naive),
            "--edition",
            str(edition_file),
        )
        results.append(("naive EmailMessage + smtplib, 1 conn", naive))
        message_size = len(html.encode()) + len(text.encode()) + 2000
        source = smtp_source(port, message_size, 20_000)
        results.append(("smtp-source (C), 4 sessions", source))
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nfan-out of one 10-story edition (~{message_size // 1000} KB) to smtp-sink")
    print(f"  {'':38}{'messages':>9}{'seconds':>9}{'msg/s':>10}{'peak MiB':>9}{'CPU µs/msg':>10}")
    for label, result in results:
        print(row(label, result))
    rates = {label: r["sent"] / r["seconds"] for label, r in results}
    ours = rates[f"syndicate {args.workers}w, {args.subscribers:,}, no DKIM"]
    signed = rates[f"syndicate {args.workers}w, {args.subscribers:,}, DKIM"]
    print(
        f"  ratios: syndicate/naive {ours / rates['naive EmailMessage + smtplib, 1 conn']:.1f}x "
        f"(DKIM {signed / rates['naive EmailMessage + smtplib, 1 conn']:.1f}x), "
        f"syndicate/smtp-source {ours / rates['smtp-source (C), 4 sessions']:.2f}x "
        f"(DKIM {signed / rates['smtp-source (C), 4 sessions']:.2f}x)"
    )


if __name__ == "__main__":
    main()
