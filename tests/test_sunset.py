"""Sunset (issue 17 item 6), on SQLite and PostgreSQL: addresses that soft-bounced on
every attempt for N days are suppressed, sign-ups never confirmed after N days are
deleted; off by default; a dry run reports and changes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from syndicate.config import Settings
from syndicate.config.service import SubscribeSettings
from syndicate.delivery.dispatch import enqueue_edition
from syndicate.models import Subscription
from syndicate.scheduler.jobs import run_sunset
from syndicate.store import Store
from syndicate.store.delivery_schema import deliveries, subscribers
from syndicate.store.subscribers import SubscriberStore
from syndicate.subscribers.sunset import sunset
from tests.deliveryhelpers import SLOT, add_subscribers, channel, edition
from tests.importhelpers import dump, state

NOW = SLOT + timedelta(days=45)


def set_delivery(store: Store, edition_id: int, email: str, **values: object) -> None:
    with store.engine.begin() as conn:
        sid = conn.execute(subscribers.select().where(subscribers.c.email == email)).first()
        assert sid is not None
        conn.execute(
            update(deliveries)
            .where(deliveries.c.edition_id == edition_id, deliveries.c.subscriber_id == sid.id)
            .values(**values)
        )


def history(store: Store) -> None:
    """reader0 fails on every attempt from day 0; reader1 gets everything; reader2 failed
    on day 0 but got day 35's edition; pat never confirmed (day 0), newt signed up lately."""
    bouncing, fine, recovered = add_subscribers(store, 3)
    first, later = SLOT, SLOT + timedelta(days=35)
    for slot in (first, later):
        record = edition(store, slot=slot)
        enqueue_edition(store, channel(), record, slot)
        failed = "deferred" if slot == first else "failed"
        set_delivery(store, record.id, bouncing, status=failed, attempts=3, created_at=slot)
        set_delivery(store, record.id, fine, status="sent", attempts=1, sent_at=slot)
        if slot == first:
            set_delivery(store, record.id, recovered, status="deferred", attempts=2)
        else:
            set_delivery(store, record.id, recovered, status="sent", attempts=1, sent_at=slot)
    people = SubscriberStore(store)
    for email, when in (("pat@example.com", SLOT), ("newt@example.com", NOW - timedelta(days=2))):
        people.upsert(
            email,
            name="",
            status="pending",
            timezone="UTC",
            subs=[Subscription("world")],
            now=when,
        )


def test_a_dry_run_reports_and_a_run_cleans(store: Store) -> None:
    history(store)
    before = dump(store)
    dry = sunset(store, soft_bounce_days=30, unconfirmed_days=30, now=NOW, dry_run=True)
    assert dry.soft_bounced == ["reader00000@example.com"]
    assert dry.unconfirmed == ["pat@example.com"]
    assert dump(store) == before

    done = sunset(store, soft_bounce_days=30, unconfirmed_days=30, now=NOW)
    assert (done.soft_bounced, done.unconfirmed) == (dry.soft_bounced, dry.unconfirmed)
    assert state(store, "reader00000@example.com") == ("suppressed", "bounced")
    assert state(store, "reader00001@example.com") == ("active", ("world",))
    assert state(store, "reader00002@example.com") == ("active", ("world",))
    assert state(store, "pat@example.com") is None
    assert state(store, "newt@example.com") == ("pending", ("world",))
    again = sunset(store, soft_bounce_days=30, unconfirmed_days=30, now=NOW)
    assert again.total == 0


def test_not_failing_long_enough_is_kept(store: Store) -> None:
    history(store)
    # 50 days: reader0's first failure (day 0) is only 45 days old.
    report = sunset(store, soft_bounce_days=50, unconfirmed_days=50, now=NOW, dry_run=True)
    assert report.total == 0


def test_off_by_default(store: Store) -> None:
    history(store)
    assert run_sunset(store, Settings(), NOW) is None
    on = Settings(subscribe=SubscribeSettings(sunset_soft_bounce_days=30))
    report = run_sunset(store, on, NOW)
    assert report is not None
    assert report.soft_bounced == ["reader00000@example.com"] and report.unconfirmed == []
    assert state(store, "pat@example.com") == ("pending", ("world",))


class HeldLock:
    """A scheduler lock that is always held (the daemon's job wrapper asks)."""

    name = "test"

    def alive(self) -> bool:
        return True

    def release(self) -> None:
        return None


def test_the_daemon_runs_it_when_enabled_at_most_hourly(store: Store) -> None:
    from syndicate.scheduler.daemon import Daemon
    from syndicate.testing import FixedClock

    history(store)
    clock = FixedClock(NOW)
    on = Settings(subscribe=SubscribeSettings(sunset_unconfirmed_days=30))
    daemon = Daemon(store, on, HeldLock(), clock=clock)  # type: ignore[arg-type]
    daemon._job("sunset")()
    assert state(store, "pat@example.com") is None
    assert state(store, "reader00000@example.com") == ("active", ("world",))  # rule off
    SubscriberStore(store).upsert(
        "pam@example.com",
        name="",
        status="pending",
        timezone="UTC",
        subs=[Subscription("world")],
        now=SLOT,
    )
    clock.advance(minutes=30)
    daemon._job("sunset")()
    assert state(store, "pam@example.com") == ("pending", ("world",))  # not again yet
    clock.advance(minutes=31)
    daemon._job("sunset")()
    assert state(store, "pam@example.com") is None
    off = Daemon(store, Settings(), HeldLock(), clock=clock)  # type: ignore[arg-type]
    history_more = SubscriberStore(store).upsert(
        "pia@example.com",
        name="",
        status="pending",
        timezone="UTC",
        subs=[Subscription("world")],
        now=SLOT,
    )
    assert history_more == "added"
    off._job("sunset")()
    assert state(store, "pia@example.com") == ("pending", ("world",))
