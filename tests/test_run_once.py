"""`syndicate run --once`: everything due now, once; a second pass does nothing; a slot
reached too late is skipped, never sent late."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from syndicate.config import load_settings
from syndicate.scheduler.jobs import run_once
from syndicate.store import open_store
from syndicate.store.outbox import Outbox
from syndicate.store.subscribers import SubscriberStore
from syndicate.subscribers.roster import import_csv
from syndicate.testing import FixedClock
from tests.conftest import REPO
from tests.test_cli import run


def prepared(instance: Path, clock: FixedClock):  # type: ignore[no-untyped-def]
    settings = load_settings(instance / "syndicate.toml")
    store = open_store(settings.store_url)
    import_csv(
        SubscriberStore(store),
        REPO / "subscribers.csv",
        known_channels=["all", "world", "science-tech", "energy"],
        default_channel=None,
        status="active",
        now=clock,
    )
    return settings, store


def test_first_pass_starts_schedules_and_a_second_pass_does_nothing(instance: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 25, 8, 0, tzinfo=UTC))  # an hour after 07:00
    settings, store = prepared(instance, clock)
    first = run_once(store, settings, clock=clock)
    assert [r.new for r in first.sources] == [26]
    status = {e.schedule: e.status for e in first.editions}
    # Cron schedules seen for the first time start at their next slot (no backfill);
    # science-tech is on_new: its first edition covers first_lookback_hours, now.
    assert status == {
        "all": "started",
        "all/weekly": "started",
        "science-tech": "composed",
        "science-tech/daily": "started",
        "science-tech/weekly": "started",
        "world": "started",
    }
    queued = sum(e.queued for e in first.editions)
    assert queued > 0 and Outbox(store).status_counts() == {"queued": queued}

    second = run_once(store, settings, clock=clock)
    assert all(r.skipped_not_due for r in second.sources)
    assert second.build is not None
    assert all(v == "unchanged" for c in second.build.channels for v in c.formats.values())
    assert second.editions == []
    assert Outbox(store).status_counts() == {"queued": queued}


def test_the_next_slot_is_composed_on_time(instance: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 25, 8, 0, tzinfo=UTC))
    settings, store = prepared(instance, clock)
    run_once(store, settings, clock=clock)
    clock.now = datetime(2026, 11, 26, 7, 2, tzinfo=UTC)  # 07:02 London, the next morning
    report = run_once(store, settings, clock=clock)
    by_schedule = {e.schedule: e for e in report.editions}
    assert by_schedule["all"].status == "composed" and by_schedule["all"].queued > 0
    assert by_schedule["all"].slot == datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    assert run_once(store, settings, clock=clock).editions == []


def test_a_slot_reached_too_late_is_skipped(instance: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 25, 8, 0, tzinfo=UTC))
    settings, store = prepared(instance, clock)
    run_once(store, settings, clock=clock)
    clock.now = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)  # 7 h after 07:00
    report = run_once(store, settings, clock=clock)
    assert {e.schedule: e.status for e in report.editions}["all"] == "missed"
    assert all(e.edition_id is None for e in report.editions if e.schedule == "all")


def test_cli_run_once_twice(instance: Path) -> None:
    shutil.copy(REPO / "subscribers.csv", instance / "subscribers.csv")
    run(instance, "subscribers", "import", "subscribers.csv")
    first = run(instance, "run", "--once")
    assert first.returncode == 0, first.stderr
    assert "sources: 1 polled, 0 not due, 26 new or updated articles, 0 failed" in first.stdout
    assert "digest science-tech @" in first.stdout and ": composed (edition 1," in first.stdout
    # The on_new channel's digest reached the file outbox: one .eml per subscriber of it.
    sent = sorted((instance / "var" / "outbox").rglob("*.eml"))
    assert sent and f"dispatch via file: {len(sent)} sent" in first.stdout
    assert all(b"Science" in p.read_bytes() for p in sent)
    second = run(instance, "run", "--once")
    assert second.returncode == 0, second.stderr
    assert "sources: 0 polled, 1 not due, 0 new or updated articles" in second.stdout
    assert "feeds: 0 written" in second.stdout
    assert "dispatch via file: nothing due" in second.stdout
    assert "digest " not in second.stdout
    assert sorted((instance / "var" / "outbox").rglob("*.eml")) == sent
