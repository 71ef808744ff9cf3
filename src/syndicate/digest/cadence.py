"""Digest schedules and what is due on them: plain functions, no clock of their own.

Each channel with a digest has its own schedule (a cron expression in its timezone, or
``on_new``) and, when its editions come more often than a subscriber may want, daily
and weekly round-up schedules for the subscribers who chose those cadences. Each
schedule has a key (``<channel>`` or ``<channel>/<cadence>``) under which the store
keeps the last slot it handled (:mod:`syndicate.store.schedule`).

:func:`decide` turns a schedule, its mark and the time into what to do:

* a cron schedule never seen before **starts**: its current slot is recorded as
  handled, so its first edition is the next slot — adding a channel never sends a
  backdated edition;
* a slot later than the mark is **composed** — or **missed** when it is more than
  ``max_lateness_hours`` late (logged, never sent late). Slots passed over while the
  daemon was down coalesce into the latest one: one edition, never a burst;
* ``on_new`` composes whenever ``min_interval_minutes`` have passed since its last
  edition (and finds out whether there is anything new by composing; its first edition
  covers ``first_lookback_hours``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from croniter import croniter

from syndicate.config import ChannelConfig
from syndicate.digest.slots import ON_NEW, next_slot, slot_for
from syndicate.store.editions import OWN
from syndicate.store.schedule import Mark

CADENCE_RANK = {OWN: 0, "daily": 1, "weekly": 2}
ROLLUP_LOOKBACK = {"daily": 24.0, "weekly": 168.0}

Action = Literal["compose", "missed", "start"]


def edition_cadence(channel: ChannelConfig, at: datetime) -> str:
    """How often this channel's own editions come: ``edition`` (on_new or more than
    daily), ``daily`` (a day or more apart) or ``weekly`` (a week or more apart)."""
    if channel.digest.schedule == ON_NEW:
        return OWN
    start = slot_for(channel.digest, at)
    period = next_slot(channel.digest, start) - start
    if period >= timedelta(days=6):
        return "weekly"
    if period >= timedelta(hours=20):
        return "daily"
    return OWN


@dataclass(frozen=True)
class Schedule:
    """One schedule: the channel's own (``cadence`` ``edition``) or a round-up.

    ``channel`` is the channel's config; for a round-up, a copy whose digest runs on
    the round-up's cron and whose first edition looks back one period.
    """

    key: str
    channel: ChannelConfig
    cadence: str

    @property
    def on_new(self) -> bool:
        """True for an ``on_new`` channel's own schedule."""
        return self.channel.digest.schedule == ON_NEW


def schedules_for(channels: Iterable[ChannelConfig], at: datetime) -> list[Schedule]:
    """Every schedule of the channels with a digest, own schedules and round-ups."""
    found: list[Schedule] = []
    for channel in channels:
        if not channel.digest.enabled:
            continue
        found.append(Schedule(channel.name, channel, OWN))
        natural = CADENCE_RANK[edition_cadence(channel, at)]
        for cadence, cron in (
            ("daily", channel.digest.daily_rollup),
            ("weekly", channel.digest.weekly_rollup),
        ):
            if cron and natural < CADENCE_RANK[cadence]:
                digest = channel.digest.model_copy(
                    update={
                        "schedule": cron,
                        "first_lookback_hours": ROLLUP_LOOKBACK[cadence],
                    }
                )
                copy = channel.model_copy(update={"digest": digest})
                found.append(Schedule(f"{channel.name}/{cadence}", copy, cadence))
    return found


def cadences_offered(channel: ChannelConfig, at: datetime) -> list[str]:
    """The cadences a subscriber of ``channel`` can choose and will get mail at."""
    return [s.cadence for s in schedules_for([channel], at)]


@dataclass(frozen=True)
class Due:
    """What to do now about one schedule."""

    schedule: Schedule
    action: Action
    slot: datetime
    passed_over: int = 0  # earlier slots since the mark that coalesce into this one


def decide(schedule: Schedule, mark: Mark | None, now: datetime) -> Due | None:
    """What is due on ``schedule`` at ``now`` given its ``mark``; ``None``: nothing."""
    digest = schedule.channel.digest
    slot = slot_for(digest, now)
    if schedule.on_new:
        waited = None if mark is None else now - mark.last_slot
        if waited is not None and waited < timedelta(minutes=digest.min_interval_minutes):
            return None
        if mark is not None and slot <= mark.last_slot:
            return None  # composed this minute already
        return Due(schedule, "compose", slot)
    if mark is None:
        return Due(schedule, "start", slot)
    if slot <= mark.last_slot:
        return None
    passed = _slots_between(schedule, mark.last_slot, slot)
    if now - slot > timedelta(hours=digest.max_lateness_hours):
        return Due(schedule, "missed", slot, passed)
    return Due(schedule, "compose", slot, passed)


def _slots_between(schedule: Schedule, after: datetime, before: datetime) -> int:
    """How many slots fall strictly between ``after`` and ``before`` (capped: it only
    feeds a log line, and a long outage on a per-minute schedule must not loop long)."""
    digest = schedule.channel.digest
    count = 0
    fire = croniter(digest.schedule, after.astimezone(ZoneInfo(digest.timezone)))
    while count < 10_000:
        nxt = fire.get_next(datetime)
        if nxt >= before:
            break
        count += 1
    return count
