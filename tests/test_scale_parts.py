"""The parts of the scale-out mode, each against real components: a task run twice (as a
redelivered task is), publishing twice, the shared rate limits, and the worker's checks."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from syndicate.config import load_channels, load_settings
from syndicate.delivery.dispatch import enqueue_edition
from syndicate.errors import TransportError
from syndicate.models import utc_now
from syndicate.scale.publish import publish_due
from syndicate.scale.ratelimit import (
    RedisRateLimiter,
    StoreRateLimiter,
    limiter_kind,
    shared_limiter,
)
from syndicate.scale.tasks import Runtimes, send_batch
from syndicate.store import Store, open_store
from syndicate.store.outbox import Outbox
from syndicate.testing import FixedClock
from tests.deliveryhelpers import SLOT, add_subscribers, edition
from tests.scalehelpers import REDIS_ENV, Broker, broker_for, syndicate, write_instance
from tests.smtpserver import SMTPTestServer

UNUSED_BROKER = Broker("redis", "redis://127.0.0.1:1/0", "unused")
HOUR = timedelta(hours=1)


def test_a_task_run_again_sends_nothing_already_sent(store_url: str, tmp_path: Path) -> None:
    with SMTPTestServer() as server:
        config = write_instance(
            tmp_path, store_url=store_url, broker=UNUSED_BROKER, smtp_port=server.port
        )
        settings = load_settings(config)
        store = open_store(settings.store_url)
        emails = add_subscribers(store, 30)
        ed = edition(store)
        (world,) = load_channels(settings)
        enqueue_edition(store, world, ed, SLOT)
        outbox = Outbox(store)
        now = utc_now()
        ids = outbox.reserve("task-1", now=now, until=now + HOUR, limit=30)
        runtimes = Runtimes(settings)
        try:
            first = send_batch(runtimes, ed.id, ids, "task-1")
            again = send_batch(runtimes, ed.id, ids, "task-1")  # the broker redelivered it
        finally:
            runtimes.close()
            store.close()
        assert first.counts == {"sent": 30} and first.retry_in is None
        assert again.counts == {} and again.retry_in is None
        assert sorted(server.counts()) == emails and set(server.counts().values()) == {1}


def test_a_task_waits_for_rows_another_sender_holds(store_url: str, tmp_path: Path) -> None:
    with SMTPTestServer() as server:
        config = write_instance(
            tmp_path, store_url=store_url, broker=UNUSED_BROKER, smtp_port=server.port, lease=20
        )
        settings = load_settings(config)
        store = open_store(settings.store_url)
        add_subscribers(store, 10)
        ed = edition(store)
        (world,) = load_channels(settings)
        enqueue_edition(store, world, ed, SLOT)
        outbox = Outbox(store)
        now = utc_now()
        ids = outbox.reserve("task-1", now=now, until=now + HOUR, limit=10)
        # An execution of this task that died after claiming half the rows:
        dead = outbox.claim(
            "w1-dead", now=now, lease=timedelta(seconds=20), limit=5, ids=ids, reserved_by="task-1"
        )
        runtimes = Runtimes(settings)
        try:
            outcome = send_batch(runtimes, ed.id, ids, "task-1")
        finally:
            runtimes.close()
            store.close()
        assert outcome.counts == {"sent": 5}
        assert outcome.retry_in is not None and 0 < outcome.retry_in <= 21
        assert {m.rcpt_tos[0] for m in server.messages}.isdisjoint(c.email for c in dead)


def test_publishing_twice_makes_no_second_task(store_url: str, tmp_path: Path) -> None:
    with broker_for("redis") as broker:
        config = write_instance(tmp_path, store_url=store_url, broker=broker, smtp_port=25)
        settings = load_settings(config)
        store = open_store(settings.store_url)
        add_subscribers(store, 250)
        ed = edition(store)
        (world,) = load_channels(settings)
        enqueue_edition(store, world, ed, SLOT)
        now = utc_now()
        first = publish_due(store, settings, now)
        second = publish_due(store, settings, now)
        store.close()
        import redis

        client = redis.Redis.from_url(broker.url)
        waiting = client.llen(f"{broker.prefix}{broker.queue}")
        client.close()
    assert (first.tasks, first.deliveries, first.editions) == (3, 250, [ed.id])
    assert (second.tasks, second.deliveries) == (0, 0)
    assert waiting == 3


def test_store_rate_limit_is_one_schedule_for_every_limiter(store: Store) -> None:
    clock = FixedClock(SLOT)
    waits: list[float] = []
    limiters = [
        StoreRateLimiter(
            store, "delivery:smtp", 10.0, clock=lambda: clock().timestamp(), sleep=waits.append
        )
        for _ in range(3)
    ]
    for i in range(9):
        limiters[i % 3].acquire()
    assert waits == pytest.approx([i / 10 for i in range(1, 9)])  # the first goes at once
    limiters[0].acquire(5)  # a batch of five takes half a second of the schedule
    limiters[1].acquire()
    assert waits[-2:] == pytest.approx([0.9, 1.4])


def test_redis_rate_limit_is_one_schedule_for_every_limiter() -> None:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set (Redis is tested in CI)")
    import redis

    client = redis.Redis.from_url(url)
    key = f"syn-test-{uuid.uuid4().hex[:12]}:rate:smtp"
    waits: list[float] = []
    limiters = [RedisRateLimiter(client, key, 10.0, sleep=waits.append) for _ in range(3)]
    start = time.monotonic()
    elapsed = []
    try:
        for i in range(12):
            limiters[i % 3].acquire()
            elapsed.append(time.monotonic() - start)
    finally:
        client.delete(key)
        client.close()
    # Nobody sleeps here, so the n-th call waits for the n-th slot less the time gone by.
    for n, (wait, gone) in enumerate(zip([0.0, *waits], elapsed, strict=False)):
        assert n / 10 - gone - 0.001 <= wait <= n / 10 + 0.001, (n, wait, gone)
    assert len(waits) == 11


def test_a_rate_limit_that_cannot_be_reached_defers_instead_of_sending_unpaced() -> None:
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter = RedisRateLimiter(client, "k", 10.0, sleep=lambda _s: None)
    with pytest.raises(TransportError, match="rate limit k unavailable"):
        limiter.acquire()


def test_where_the_shared_limit_lives(tmp_path: Path, store: Store) -> None:
    def settings_with(broker_url: str, **celery: str):  # type: ignore[no-untyped-def]
        lines = "".join(f'{k} = "{v}"\n' for k, v in celery.items())
        (tmp_path / "syndicate.toml").write_text(
            f'[celery]\nbroker_url = "{broker_url}"\n{lines}', encoding="utf-8"
        )
        return load_settings(tmp_path / "syndicate.toml")

    assert limiter_kind(settings_with("redis://h:6379/0")) == "redis"
    assert limiter_kind(settings_with("amqp://h//")) == "store"
    assert limiter_kind(settings_with("amqp://h//", rate_limit_url="redis://h/1")) == "redis"
    assert isinstance(
        shared_limiter(settings_with("amqp://h//"), store, "smtp", 5), StoreRateLimiter
    )
    with pytest.raises(Exception, match="needs a redis:// rate_limit_url"):
        shared_limiter(settings_with("amqp://h//", rate_limiter="redis"), store, "smtp", 5)


def test_worker_refuses_a_store_that_is_not_migrated(tmp_path: Path) -> None:
    config = write_instance(
        tmp_path,
        store_url=f"sqlite:///{tmp_path / 'empty.db'}",
        broker=UNUSED_BROKER,
        smtp_port=25,
    )
    done = syndicate(config, "worker")
    assert done.returncode == 3
    assert "run 'syndicate db upgrade'" in done.stderr
