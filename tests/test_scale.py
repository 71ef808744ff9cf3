"""Scale-out with Celery (issue 7), end to end: PostgreSQL, a real broker (Redis, then
RabbitMQ), three ``syndicate worker`` processes and the SMTP test server counting what
each recipient gets.

* A 20,000-recipient edition is delivered; one worker is killed with SIGKILL mid-run,
  and the two others finish the edition. Every recipient gets exactly one message,
  except those whose rows the killed worker held at that moment (its messages in
  flight: at most ``concurrency`` x ``batch_size``), who get at most two.
* A rate limit of the backend holds across all three workers.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from syndicate.config import load_channels, load_settings
from syndicate.delivery.dispatch import enqueue_edition
from syndicate.store import open_store
from syndicate.store.delivery_schema import deliveries, subscribers
from syndicate.store.outbox import Outbox
from tests.deliveryhelpers import SLOT, edition
from tests.scalehelpers import add_many_subscribers, broker_for, syndicate, workers, write_instance
from tests.smtpserver import SMTPTestServer

RECIPIENTS = 20_000
CONCURRENCY = 2
BATCH = 100
HANG_GUARD = 900  # seconds: only so that a broken run ends; no test asserts on speed

pytestmark = pytest.mark.parametrize("store_url", ["postgres"], indirect=True)


def wait_until_sent(outbox: Outbox, edition_id: int, total: int) -> dict[str, int]:
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        counts = outbox.status_counts(edition_id)
        if counts.get("sent", 0) >= total:
            return counts
        time.sleep(0.5)
    return outbox.status_counts(edition_id)


@pytest.mark.parametrize("kind", ["redis", "amqp"])
def test_three_workers_deliver_20000_once_and_survive_a_sigkill(
    kind: str, store_url: str, tmp_path: Path
) -> None:
    with broker_for(kind) as broker, SMTPTestServer(pipelining=True) as server:
        config = write_instance(tmp_path, store_url=store_url, broker=broker, smtp_port=server.port)
        settings = load_settings(config)
        store = open_store(settings.store_url)
        add_many_subscribers(store, RECIPIENTS, SLOT)
        ed = edition(store)
        (world,) = load_channels(settings)
        assert enqueue_edition(store, world, ed, SLOT) == RECIPIENTS
        outbox = Outbox(store)

        with workers(config, 3, tmp_path) as procs:
            published = syndicate(config, "dispatch", "--edition", str(ed.id))
            assert published.returncode == 0, published.stderr
            assert f"{RECIPIENTS} deliveries in {RECIPIENTS // BATCH} tasks" in published.stdout
            # The kill lands mid-run: counted in messages received, not in seconds.
            victim = procs[0]
            while len(server.messages) < RECIPIENTS // 4 and victim.poll() is None:
                time.sleep(0.01)
            assert victim.poll() is None, "the worker to kill had stopped"
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            with store.engine.connect() as conn:
                in_flight = {
                    row.email
                    for row in conn.execute(
                        select(subscribers.c.email)
                        .join(deliveries, deliveries.c.subscriber_id == subscribers.c.id)
                        .where(
                            deliveries.c.status == "sending",
                            deliveries.c.lease_owner.like(f"w{victim.pid}-%"),
                        )
                    )
                }
            counts = wait_until_sent(outbox, ed.id, RECIPIENTS)
        store.close()

        assert counts == {"sent": RECIPIENTS}
        received = server.counts()
        assert len(received) == RECIPIENTS  # nobody lost
        assert len(in_flight) <= CONCURRENCY * BATCH
        twice = {email for email, n in received.items() if n > 1}
        assert twice <= in_flight, sorted(twice - in_flight)[:5]
        assert max(received.values()) <= 2
        print(
            f"{kind}: {len(in_flight)} rows in flight at the kill, "
            f"{len(twice)} recipients got a second copy"
        )


@pytest.mark.parametrize("kind", ["redis", "amqp"])
def test_the_rate_limit_holds_across_workers(kind: str, store_url: str, tmp_path: Path) -> None:
    rate = 40.0
    total = int(rate * 30)  # a 30-second run at the limit
    with broker_for(kind) as broker, SMTPTestServer(pipelining=True) as server:
        config = write_instance(
            tmp_path,
            store_url=store_url,
            broker=broker,
            smtp_port=server.port,
            rate=rate,
            lease=120,
        )
        settings = load_settings(config)
        store = open_store(settings.store_url)
        add_many_subscribers(store, total, SLOT)
        ed = edition(store)
        (world,) = load_channels(settings)
        enqueue_edition(store, world, ed, SLOT)
        outbox = Outbox(store)
        with workers(config, 3, tmp_path):
            published = syndicate(config, "dispatch")
            assert published.returncode == 0, published.stderr
            counts = wait_until_sent(outbox, ed.id, total)
        store.close()

        assert counts == {"sent": total}
        arrivals = sorted(server.arrivals)
        measured = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
        print(f"{kind}: {measured:.1f} messages/s against a limit of {rate:.0f}")
        # Three workers each pacing on their own would reach three times the limit.
        assert measured <= rate * 1.10


def test_database_errors_are_retried_until_the_database_is_back(
    store_url: str, tmp_path: Path
) -> None:
    # The worker reaches PostgreSQL through a proxy that goes down while tasks arrive.
    from sqlalchemy.engine import make_url

    from tests.scalehelpers import FlakyProxy

    url = make_url(store_url)
    proxy = FlakyProxy((url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    total = 300
    try:
        with broker_for("redis") as broker, SMTPTestServer() as server:
            config = write_instance(
                tmp_path, store_url=proxied, broker=broker, smtp_port=server.port
            )
            settings = load_settings(config)
            store = open_store(store_url)  # the test itself goes direct
            add_many_subscribers(store, total, SLOT)
            ed = edition(store)
            (world,) = load_channels(settings)
            enqueue_edition(store, world, ed, SLOT)
            outbox = Outbox(store)
            with workers(config, 1, tmp_path, quiet=False):
                deadline = time.monotonic() + 60
                while b"ready." not in (tmp_path / "worker0.log").read_bytes():
                    assert time.monotonic() < deadline, "the worker did not start"
                    time.sleep(0.1)
                proxy.go_down()
                from syndicate.scale.publish import publish_due

                assert publish_due(store, settings, SLOT, edition_id=ed.id).tasks == 3
                while proxy.refused < 3:  # the tasks fail, and are tried again
                    time.sleep(0.1)
                proxy.come_back()
                counts = wait_until_sent(outbox, ed.id, total)
            store.close()
    finally:
        proxy.close()
    assert counts == {"sent": total}
    assert set(server.counts().values()) == {1} and len(server.counts()) == total


def test_the_daemon_publishes_due_rows_and_the_workers_send_them(
    store_url: str, tmp_path: Path
) -> None:
    import subprocess
    import sys

    with broker_for("redis") as broker, SMTPTestServer() as server:
        config = write_instance(tmp_path, store_url=store_url, broker=broker, smtp_port=server.port)
        with config.open("a") as extra:
            extra.write("\n[scheduler]\ntick_seconds = 0.5\n")
        settings = load_settings(config)
        store = open_store(settings.store_url)
        add_many_subscribers(store, 300, SLOT)
        ed = edition(store)
        (world,) = load_channels(settings)
        assert enqueue_edition(store, world, ed, SLOT) == 300
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
        with workers(config, 1, tmp_path):
            scheduler = subprocess.Popen(
                [sys.executable, "-m", "syndicate", "--config", str(config), "run"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                counts = wait_until_sent(Outbox(store), ed.id, 300)
            finally:
                scheduler.send_signal(signal.SIGTERM)
                _, err = scheduler.communicate(timeout=120)
            assert scheduler.returncode == 0, err.decode()
            assert b"job dispatch: tasks 3, published 300" in err
        store.close()
        assert counts == {"sent": 300}
        assert set(server.counts().values()) == {1} and len(server.counts()) == 300
