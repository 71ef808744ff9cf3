"""The scheduler's slot logic against a real store, driven by a controllable clock: local
times across daylight-saving changes, restarts, lateness, coalescing, ``on_new`` and the
daily/weekly round-ups, and the one-scheduler-per-store lock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syndicate.config import Settings, load_settings
from syndicate.scheduler.jobs import EditionOutcome, run_schedules
from syndicate.scheduler.lock import SchedulerLock
from syndicate.store import Store, open_store
from syndicate.store.editions import list_editions
from syndicate.store.outbox import Outbox
from syndicate.store.schedule import load_marks
from tests.deliveryhelpers import add_subscribers
from tests.digest.factory import T0, store_articles

LONDON = ZoneInfo("Europe/London")


def instance(tmp_path: Path, store_url: str, channels: dict[str, str]) -> Settings:
    """An instance whose channels are ``name -> [digest] table body``."""
    feeds = tmp_path / "feeds"
    feeds.mkdir(exist_ok=True)
    for name, digest in channels.items():
        (feeds / f"{name}.toml").write_text(
            f'title = "The {name.title()} Gazette"\n\n[digest]\n{digest}\n'
        )
    config = tmp_path / "syndicate.toml"
    config.write_text(
        f"""
[site]
name = "The Test Gazette"
base_url = "https://news.example"
tag_authority = "news.example,2026"

[security]
secret_key = "scheduler-test-secret-0123456789"

[store]
url = "{store_url}"
"""
    )
    return load_settings(config)


def drive(
    store: Store,
    settings: Settings,
    start: datetime,
    end: datetime,
    step: timedelta = timedelta(minutes=5),
) -> list[EditionOutcome]:
    """Run the digest job every ``step`` from ``start`` to ``end`` (inclusive)."""
    outcomes: list[EditionOutcome] = []
    now = start
    while now <= end:
        outcomes.extend(run_schedules(store, settings, now))
        now += step
    return outcomes


def fired(outcomes: list[EditionOutcome], schedule: str) -> list[datetime]:
    """The slots of ``schedule`` that were handled as due (composed or found empty)."""
    return [
        o.slot
        for o in outcomes
        if o.schedule == schedule and o.status in ("composed", "exists", "no-news")
    ]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- local times and daylight saving --------------------------------------------------


def test_daily_slot_stays_at_local_time_across_the_spring_change(
    tmp_path: Path, store: Store
) -> None:
    settings = instance(
        tmp_path,
        store.engine.url.render_as_string(hide_password=False),
        {"daily": 'schedule = "0 7 * * *"\ntimezone = "Europe/London"'},
    )
    # London moves from GMT to BST at 01:00 UTC on Sunday 29 March 2026.
    outcomes = drive(store, settings, utc(2026, 3, 27, 12), utc(2026, 3, 31, 12))
    assert outcomes[0].status == "started" and outcomes[0].slot == utc(2026, 3, 27, 7)
    slots = fired(outcomes, "daily")
    assert slots == [
        utc(2026, 3, 28, 7),  # 07:00 GMT
        utc(2026, 3, 29, 6),  # 07:00 BST
        utc(2026, 3, 30, 6),
        utc(2026, 3, 31, 6),
    ]
    assert {s.astimezone(LONDON).strftime("%H:%M") for s in slots} == {"07:00"}


def test_a_slot_in_the_repeated_autumn_hour_fires_once(tmp_path: Path, store: Store) -> None:
    settings = instance(
        tmp_path,
        store.engine.url.render_as_string(hide_password=False),
        {"night": 'schedule = "30 1 * * *"\ntimezone = "Europe/London"'},
    )
    # On Sunday 25 October 2026 London's clocks go back at 02:00 BST: 01:30 happens twice
    # (00:30 UTC and 01:30 UTC). A daily slot must fire once that day.
    outcomes = drive(store, settings, utc(2026, 10, 23, 12), utc(2026, 10, 27, 12))
    slots = fired(outcomes, "night")
    days = [s.astimezone(LONDON).date().isoformat() for s in slots]
    assert days == ["2026-10-24", "2026-10-25", "2026-10-26", "2026-10-27"]
    assert {s.astimezone(LONDON).strftime("%H:%M") for s in slots} == {"01:30"}


def test_weekly_slot_in_another_timezone(tmp_path: Path, store: Store) -> None:
    settings = instance(
        tmp_path,
        store.engine.url.render_as_string(hide_password=False),
        {"weekly": 'schedule = "0 7 * * 1"\ntimezone = "Europe/Paris"'},
    )
    outcomes = drive(
        store, settings, utc(2026, 10, 20), utc(2026, 11, 3, 12), step=timedelta(minutes=30)
    )
    # Mondays 07:00 Paris: 06:00 UTC in October (CEST... CET from the 25th).
    assert fired(outcomes, "weekly") == [utc(2026, 10, 26, 6), utc(2026, 11, 2, 6)]


# --- restarts, lateness, coalescing ---------------------------------------------------


@pytest.fixture
def daily(tmp_path: Path, store: Store) -> Settings:
    """A daily 07:00 UTC channel, 30 subscribers, articles every hour from T0."""
    settings = instance(
        tmp_path,
        store.engine.url.render_as_string(hide_password=False),
        {"daily": 'schedule = "0 7 * * *"\nfirst_lookback_hours = 48\nrelated_k = 0'},
    )
    add_subscribers(store, 30, channel_name="daily")
    store_articles(store, 60)  # 20 Nov 09:00 UTC .. 22 Nov 20:00 UTC
    return settings


def test_a_restart_mid_day_neither_repeats_nor_drops_a_slot(daily: Settings, store: Store) -> None:
    # First life: seen on 20 Nov at noon (starts), sends 21 Nov 07:00, stops at 12:00.
    first = drive(store, daily, utc(2026, 11, 20, 12), utc(2026, 11, 21, 12))
    assert fired(first, "daily") == [utc(2026, 11, 21, 7)]
    # Second life: a new process (new store connection) from 12:05 to the next morning.
    again = open_store(daily.store_url)
    try:
        second = drive(again, daily, utc(2026, 11, 21, 12, 5), utc(2026, 11, 22, 8))
    finally:
        again.close()
    assert fired(second, "daily") == [utc(2026, 11, 22, 7)]
    editions = list_editions(store, "daily")
    assert [e.slot for e in editions] == [utc(2026, 11, 22, 7), utc(2026, 11, 21, 7)]
    # Every subscriber is queued once per edition, never twice.
    assert Outbox(store).status_counts() == {"queued": 60}


def test_down_across_a_slot_sends_it_late_within_max_lateness(
    daily: Settings, store: Store
) -> None:
    drive(store, daily, utc(2026, 11, 20, 12), utc(2026, 11, 21, 6, 50))
    # Down from 06:50 to 07:40: the 07:00 slot is 40 minutes late and still sent.
    outcomes = drive(store, daily, utc(2026, 11, 21, 7, 40), utc(2026, 11, 21, 9))
    assert [(o.slot, o.status) for o in outcomes] == [(utc(2026, 11, 21, 7), "composed")]


def test_a_slot_missed_by_more_than_max_lateness_is_skipped_and_logged(
    daily: Settings, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    drive(store, daily, utc(2026, 11, 20, 12), utc(2026, 11, 21, 6))
    caplog.set_level(logging.WARNING, logger="syndicate.scheduler.jobs")
    # Down from 06:00 to 13:05: the 07:00 slot is 6 h 5 min late (max 6 h).
    outcomes = drive(store, daily, utc(2026, 11, 21, 13, 5), utc(2026, 11, 22, 7, 30))
    assert [(o.slot, o.status) for o in outcomes] == [
        (utc(2026, 11, 21, 7), "missed"),
        (utc(2026, 11, 22, 7), "composed"),
    ]
    assert "skipped, not sent late" in caplog.text
    (edition,) = list_editions(store, "daily")
    # Nothing is lost: the next edition covers the missed day's articles too.
    assert edition.slot == utc(2026, 11, 22, 7)
    assert len(edition.article_ids) == 10  # max_items; the window held 46 new articles


def test_missed_slots_coalesce_into_one_edition(daily: Settings, store: Store) -> None:
    drive(store, daily, utc(2026, 11, 20, 12), utc(2026, 11, 20, 13))
    # Down for days; back at 07:10 on the 23rd: one edition for that slot, no burst.
    outcomes = drive(store, daily, utc(2026, 11, 23, 7, 10), utc(2026, 11, 23, 9))
    # (The 23rd is a Monday: the weekly round-up's slot, which nobody chose.)
    assert [(o.schedule, o.slot, o.status) for o in outcomes] == [
        ("daily", utc(2026, 11, 23, 7), "composed"),
        ("daily/weekly", utc(2026, 11, 23, 7), "no-audience"),
    ]
    assert len(list_editions(store, "daily")) == 1
    assert load_marks(store)["daily"].last_slot == utc(2026, 11, 23, 7)


def test_a_new_schedule_starts_at_its_next_slot(daily: Settings, store: Store) -> None:
    # First seen five minutes after a slot: that slot is not sent (no backfill).
    outcomes = drive(store, daily, utc(2026, 11, 21, 7, 5), utc(2026, 11, 22, 6, 55))
    assert [(o.schedule, o.slot, o.status) for o in outcomes] == [
        ("daily", utc(2026, 11, 21, 7), "started"),
        ("daily/weekly", utc(2026, 11, 16, 7), "started"),
    ]
    assert list_editions(store) == []


# --- on_new and round-ups -------------------------------------------------------------


def test_on_new_sends_at_most_one_edition_per_min_interval(tmp_path: Path, store: Store) -> None:
    settings = instance(
        tmp_path,
        store.engine.url.render_as_string(hide_password=False),
        {
            "breaking": 'schedule = "on_new"\nmin_interval_minutes = 60\n'
            'first_lookback_hours = 2\nrelated_k = 0\ndaily_rollup = ""\nweekly_rollup = ""'
        },
    )
    add_subscribers(store, 5, channel_name="breaking")
    store_articles(store, 2)  # 09:00 and 10:00 on 20 Nov
    first = drive(store, settings, utc(2026, 11, 20, 10, 30), utc(2026, 11, 20, 10, 40))
    assert [(o.slot, o.status) for o in first] == [(utc(2026, 11, 20, 10, 30), "composed")]
    store_articles(store, 1, start=2)  # published 11:00 (T0 + 2 h)
    # 11:05: news, but only 35 minutes since the last edition — it waits until 11:30.
    later = drive(store, settings, utc(2026, 11, 20, 11, 5), utc(2026, 11, 20, 12))
    assert [(o.slot, o.status) for o in later] == [(utc(2026, 11, 20, 11, 30), "composed")]
    # Nothing new after that: no more editions.
    assert drive(store, settings, utc(2026, 11, 20, 12, 35), utc(2026, 11, 20, 14)) == []
    assert Outbox(store).status_counts() == {"queued": 10}


def test_round_ups_reach_daily_and_weekly_subscribers_once(tmp_path: Path, store: Store) -> None:
    settings = instance(
        tmp_path,
        store.engine.url.render_as_string(hide_password=False),
        {
            "wire": 'schedule = "on_new"\nmin_interval_minutes = 0\n'
            "first_lookback_hours = 1\nrelated_k = 0\nmax_items = 50\n"
            'daily_rollup = "0 7 * * *"\nweekly_rollup = "0 7 * * 1"'
        },
    )
    per_edition = add_subscribers(store, 2, channel_name="wire", cadence="edition")
    per_day = add_subscribers(store, 3, channel_name="wire", cadence="daily", start=100)
    per_week = add_subscribers(store, 4, channel_name="wire", cadence="weekly", start=200)
    # Start on Monday 16 Nov; 24 articles arrive hourly from Friday 20 Nov 09:00.
    drive(store, settings, utc(2026, 11, 16, 8), utc(2026, 11, 16, 9))
    store_articles(store, 24)
    outcomes = drive(
        store, settings, utc(2026, 11, 20, 8, 55), utc(2026, 11, 23, 8), step=timedelta(hours=1)
    )
    own = [o for o in outcomes if o.schedule == "wire" and o.status == "composed"]
    daily = [o for o in outcomes if o.schedule == "wire/daily" and o.status == "composed"]
    weekly = [o for o in outcomes if o.schedule == "wire/weekly" and o.status == "composed"]
    assert len(own) == 24  # one per hourly article
    assert [o.slot for o in daily] == [utc(2026, 11, 21, 7), utc(2026, 11, 22, 7)]
    assert [o.slot for o in weekly] == [utc(2026, 11, 23, 7)]
    assert {o.queued for o in own} == {len(per_edition)}
    assert {o.queued for o in daily} == {len(per_day)}
    assert {o.queued for o in weekly} == {len(per_week)}
    by_slot = {(e.cadence, e.slot): e for e in list_editions(store, "wire")}
    # The weekly round-up covers the week since its start: all 24 articles.
    assert len(by_slot[("weekly", utc(2026, 11, 23, 7))].article_ids) == 24
    # Each daily round-up covers the day before its slot: 20 Nov 09:00 .. 21 Nov 06:00,
    # then 21 Nov 07:00 and 08:00; the 23rd has no news and no round-up.
    assert len(by_slot[("daily", utc(2026, 11, 21, 7))].article_ids) == 22
    assert len(by_slot[("daily", utc(2026, 11, 22, 7))].article_ids) == 2


def test_a_daily_channel_gets_a_weekly_round_up_but_no_daily_one(
    tmp_path: Path, store: Store
) -> None:
    from syndicate.config import load_channels
    from syndicate.digest.cadence import cadences_offered

    settings = instance(
        tmp_path,
        store.engine.url.render_as_string(hide_password=False),
        {"daily": 'schedule = "0 7 * * *"', "weekly": 'schedule = "0 7 * * 1"'},
    )
    offered = {c.name: cadences_offered(c, T0) for c in load_channels(settings)}
    assert offered == {"daily": ["edition", "weekly"], "weekly": ["edition"]}


# --- one scheduler per store ------------------------------------------------------------


def test_only_one_scheduler_holds_a_store(tmp_path: Path, store: Store) -> None:
    settings = instance(tmp_path, store.engine.url.render_as_string(hide_password=False), {})
    first = SchedulerLock(store, settings)
    other_store = open_store(settings.store_url)
    second = SchedulerLock(other_store, settings)
    try:
        assert first.acquire(T0)
        assert not second.acquire(T0)
        assert first.name in second.holder()
        first.release()
        assert second.acquire(T0)
        assert second.alive()
        assert not first.acquire(T0)
    finally:
        first.release()
        second.release()
        other_store.close()
