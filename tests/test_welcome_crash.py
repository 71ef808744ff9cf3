"""Crash test for welcomes (TE-7): readers confirm, their welcomes wait in the outbox,
and a ``syndicate dispatch`` process is killed with SIGKILL mid-send and restarted
until done. Every reader gets their welcome; a repeat is possible only for messages in
flight at a kill (at most one claimed batch per kill, the lease bound), and confirming
or welcoming again after the crash queues nothing more."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from syndicate.digest import build_edition
from syndicate.store import open_store
from syndicate.store.outbox import Outbox
from tests.digest.factory import store_articles
from tests.smtpserver import SMTPTestServer
from tests.subscribehelpers import parse
from tests.welcomehelpers import NOW, SLOT, sign_up, signups_for, write_instance

READERS = 300
BATCH = 10
LEASE = 2.0


def start(config: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    return subprocess.Popen(
        [sys.executable, "-m", "syndicate", "--config", str(config), "-q", "dispatch"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sigkill_mid_send_gives_each_reader_one_welcome_within_the_lease_bound(
    tmp_path: Path,
) -> None:
    rng = random.Random(20261205)
    with SMTPTestServer() as server:
        settings, world = write_instance(
            tmp_path,
            server.port,
            dispatch=f"[dispatch]\nbatch_size = {BATCH}\nlease_seconds = {LEASE}\n",
        )
        store = open_store(settings.store_url)
        store_articles(store, 30)
        assert build_edition(store, settings, world, SLOT) is not None
        signups = signups_for(store, settings, world)
        readers = {}
        for n in range(READERS):
            claims = sign_up(signups, f"reader{n:04d}@example.org")
            assert signups.confirm(claims, {}, NOW) == "confirmed"
            readers[f"reader{n:04d}@example.org"] = claims
        outbox = Outbox(store)
        assert outbox.status_counts() == {"queued": READERS}

        points = sorted(rng.sample(range(20, READERS - 40), 4))
        kills = 0
        config = tmp_path / "syndicate.toml"
        for _ in range(30):
            if outbox.status_counts().get("sent", 0) == READERS:
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

        # After the crash, a second click or a retried welcome queues nothing.
        for claims in readers.values():
            assert signups.confirm(claims, {}, NOW) == "already"
            assert signups.welcome(claims.subscriber_id, "world", NOW) is None
        assert outbox.status_counts() == {"sent": READERS}
        store.close()

        received = server.counts()
        assert set(received) == set(readers)  # nobody lost
        duplicates = sum(n - 1 for n in received.values())
        print(f"welcome crash test: {kills} kills, {duplicates} duplicates of {READERS}")
        assert kills >= 2
        assert duplicates <= kills * BATCH, (duplicates, kills)
        # A resent welcome carries the same Message-ID, so receivers can drop it.
        by_rcpt: dict[str, set[bytes]] = {}
        for message in server.messages:
            mid = next(
                line for line in message.content.split(b"\r\n") if line.startswith(b"Message-ID:")
            )
            by_rcpt.setdefault(message.rcpt_tos[0], set()).add(mid)
        assert all(len(ids) == 1 for ids in by_rcpt.values())
        subjects = {str(parse(m.content)["Subject"]) for m in server.messages}
        assert all(s.startswith("Welcome to The World Gazette: ") for s in subjects), subjects
