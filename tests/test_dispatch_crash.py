"""Crash test (TE-7): a dispatch process killed with SIGKILL at random moments and
restarted until done. Every recipient ends with exactly one message, except messages
in flight at a kill, which may arrive twice: at most one claimed batch (``batch_size``)
per kill, since a batch's results are recorded in one transaction after it is sent."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from syndicate.config import load_channels, load_settings
from syndicate.delivery.dispatch import enqueue_edition
from syndicate.store import open_store
from syndicate.store.outbox import Outbox
from tests.deliveryhelpers import SLOT, add_subscribers, edition
from tests.smtpserver import SMTPTestServer

RECIPIENTS = 2000
BATCH = 50
LEASE = 2.0


def write_instance(folder: Path, port: int) -> Path:
    (folder / "feeds").mkdir(parents=True)
    (folder / "var").mkdir()  # the default store's folder (only db upgrade creates one)
    (folder / "feeds" / "world.toml").write_text('title = "World"\n')
    config = folder / "syndicate.toml"
    config.write_text(
        f"""
[site]
name = "The Meridian Review"
base_url = "https://meridian.example"
tag_authority = "meridian.example,2026"

[security]
secret_key = "crash-test-secret-0123456789"

[delivery]
backend = "smtp"
from_email = "digest@meridian.example"

[delivery.smtp]
host = "127.0.0.1"
port = {port}
security = "none"
connections = 2

[dispatch]
batch_size = {BATCH}
lease_seconds = {LEASE}
"""
    )
    return config


def start(config: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    return subprocess.Popen(
        [sys.executable, "-m", "syndicate", "--config", str(config), "-q", "dispatch"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sigkill_mid_send_loses_nothing_and_bounds_duplicates(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    with SMTPTestServer() as server:
        config = write_instance(tmp_path, server.port)
        settings = load_settings(config)
        store = open_store(settings.store_url)
        emails = add_subscribers(store, RECIPIENTS)
        ed = edition(store)
        (world,) = load_channels(settings)
        assert enqueue_edition(store, world, ed, SLOT) == RECIPIENTS
        outbox = Outbox(store)

        # Kill points are counted in messages the server has received, not in seconds,
        # so the kills land mid-send however fast this machine is.
        points = sorted(rng.sample(range(100, RECIPIENTS - 200), 6))
        kills = 0
        for _ in range(40):
            counts = outbox.status_counts()
            if counts.get("sent", 0) == RECIPIENTS:
                break
            proc = start(config)
            if points:
                target = points.pop(0)
                while proc.poll() is None and len(server.messages) < target:
                    time.sleep(0.002)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
            _, err = proc.communicate(timeout=120)
            assert proc.returncode in (0, -signal.SIGKILL), err.decode()
            if proc.returncode == 0:
                time.sleep(LEASE + 0.2)  # let the leases of killed runs expire
        store.close()

        assert outbox.status_counts() == {"sent": RECIPIENTS}
        received = server.counts()
        assert set(received) == set(emails)  # nobody lost
        duplicates = sum(n - 1 for n in received.values())
        print(f"crash test: {kills} kills, {duplicates} duplicate messages of {RECIPIENTS}")
        assert kills >= 3
        assert duplicates <= kills * BATCH, (duplicates, kills)
        # A resent copy carries the same Message-ID, so receivers can drop it.
        by_rcpt: dict[str, set[bytes]] = {}
        for message in server.messages:
            mid = next(
                line for line in message.content.split(b"\r\n") if line.startswith(b"Message-ID:")
            )
            by_rcpt.setdefault(message.rcpt_tos[0], set()).add(mid)
        assert all(len(ids) == 1 for ids in by_rcpt.values())
