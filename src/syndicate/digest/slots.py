"""Schedule slots: which edition a moment belongs to.

For a cron schedule, the slot of a time ``t`` is the latest fire time at or before ``t``,
read in the channel's timezone (so "0 7 * * *" in Europe/London stays at 07:00 local
across daylight-saving changes) and returned in UTC. For ``on_new`` the slot is ``t``
truncated to the minute, so composing twice within a minute gives one edition.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from syndicate.config import DigestSettings

ON_NEW = "on_new"


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("schedule times must be timezone-aware")
    return at


def slot_for(digest: DigestSettings, at: datetime) -> datetime:
    """The slot (UTC) that ``at`` falls in: the latest fire time at or before it."""
    at = _aware(at).astimezone(UTC).replace(second=0, microsecond=0)
    if digest.schedule == ON_NEW:
        return at
    zone = ZoneInfo(digest.timezone)
    local = at.astimezone(zone)
    # croniter's get_prev is strictly before its start; fires are on whole minutes, so
    # starting one minute after the truncated time includes a fire exactly at ``at``.
    fire = croniter(digest.schedule, local + timedelta(minutes=1)).get_prev(datetime)
    return _first_occurrence(digest.schedule, fire, zone).astimezone(UTC)


def _first_occurrence(schedule: str, fire: datetime, zone: ZoneInfo) -> datetime:
    """When clocks go back, a local time happens twice; a schedule at a fixed hour
    ("30 1 * * *") fires at its first occurrence only, as cron does, so the repeated hour
    never sends a second edition. Schedules with a wildcard hour keep both."""
    if schedule.split()[1].startswith("*"):
        return fire
    local = fire.astimezone(zone)
    first = local.replace(fold=0)
    if local.fold == 1 and first.astimezone(UTC) != local.astimezone(UTC):
        return first
    return fire


def next_slot(digest: DigestSettings, after: datetime) -> datetime:
    """The first slot (UTC) strictly after ``after``."""
    after = _aware(after).astimezone(UTC)
    if digest.schedule == ON_NEW:
        return after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    local = after.astimezone(ZoneInfo(digest.timezone))
    return croniter(digest.schedule, local).get_next(datetime).astimezone(UTC)
