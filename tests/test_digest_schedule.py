"""Schedule slots: latest cron fire at or before a time, in the channel's timezone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from syndicate.config import DigestSettings
from syndicate.digest.slots import next_slot, slot_for


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily_slot_in_london_follows_summer_time() -> None:
    daily = DigestSettings(schedule="0 7 * * *", timezone="Europe/London")
    assert slot_for(daily, utc(2026, 11, 25, 7, 0)) == utc(2026, 11, 25, 7, 0)
    assert slot_for(daily, utc(2026, 11, 25, 6, 59, 59)) == utc(2026, 11, 24, 7, 0)
    assert slot_for(daily, utc(2026, 7, 1, 6, 30)) == utc(2026, 7, 1, 6, 0)  # 07:00 BST
    assert next_slot(daily, utc(2026, 11, 25, 7, 0)) == utc(2026, 11, 26, 7, 0)


def test_weekly_slot_and_the_same_slot_for_any_time_inside_it() -> None:
    weekly = DigestSettings(schedule="0 7 * * 1", timezone="Europe/Paris")
    monday = utc(2026, 11, 23, 6, 0)  # 07:00 CET
    for at in (monday, utc(2026, 11, 25, 12, 0), utc(2026, 11, 30, 5, 59)):
        assert slot_for(weekly, at) == monday
    assert next_slot(weekly, monday) == utc(2026, 11, 30, 6, 0)


def test_on_new_slot_is_the_minute() -> None:
    on_new = DigestSettings(schedule="on_new")
    assert slot_for(on_new, utc(2026, 11, 25, 7, 3)) == utc(2026, 11, 25, 7, 3)
    assert slot_for(on_new, datetime(2026, 11, 25, 7, 3, 59, 9, tzinfo=UTC)) == utc(
        2026, 11, 25, 7, 3
    )


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        slot_for(DigestSettings(), datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("key", "value"),
    [("schedule", "every morning"), ("schedule", "0 7 * *"), ("timezone", "Mars/Olympus")],
)
def test_bad_schedule_or_timezone_is_a_config_error(key: str, value: str) -> None:
    with pytest.raises(ValidationError, match=key):
        DigestSettings(**{key: value})
