"""How often a subscription mails, and "less often" instead of leaving.

* :func:`mails_per_week` — what a cadence of a channel means in mails a week: counted
  from the cron schedule that serves it (the channel's own, or its round-up's), or for
  an ``on_new`` channel from its editions of the last seven days.
* :func:`less_often` — the one-click alternatives the unsubscribe page offers before
  its button: each slower cadence the channel serves, and each single section of the
  ones the subscriber gets (when that is two or more).
* :func:`apply_less_often` — checks a choice against those offers and saves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from syndicate.config import ChannelConfig
from syndicate.digest.cadence import CADENCE_RANK, edition_cadence
from syndicate.digest.slots import ON_NEW, next_slot
from syndicate.models import Subscriber, Subscription
from syndicate.store import Store
from syndicate.store.editions import OWN
from syndicate.store.frequency import editions_between
from syndicate.store.signups import SignupStore
from syndicate.subscribers.signup import cadence_choices, section_choices

WEEK = timedelta(days=7)
MAX_COUNTED = 500  # fires counted in a week; a schedule busier than this says "500+"


@dataclass(frozen=True, slots=True)
class PerWeek:
    """Mails a week: ``count`` (``at_most`` when the reader chose sections: an edition
    with no story in them is not sent), ``measured`` when read from last week's
    editions rather than the schedule."""

    count: int
    at_most: bool = False
    measured: bool = False

    def describe(self) -> str:
        """E.g. "about 7 emails a week", "at most 1 email a week"."""
        n = f"{self.count}+" if self.count >= MAX_COUNTED else str(self.count)
        noun = "email" if self.count == 1 else "emails"
        lead = "at most" if self.at_most else "about"
        tail = " (as many as last week)" if self.measured else ""
        return f"{lead} {n} {noun} a week{tail}"


def mails_per_week(
    store: Store, channel: ChannelConfig, sub: Subscription, at: datetime
) -> PerWeek:
    """What ``sub`` (a subscription to ``channel``) means in mails a week from ``at``."""
    digest = channel.digest
    own = edition_cadence(channel, at)
    cadence = own if sub.cadence == OWN else sub.cadence
    at_most = bool(sub.sections)
    if cadence == own and digest.schedule == ON_NEW:
        count = editions_between(store, channel.name, at - WEEK, at)
        return PerWeek(count, at_most, measured=True)
    cron = digest.schedule
    if cadence != own:
        cron = digest.daily_rollup if cadence == "daily" else digest.weekly_rollup
    if not cron:
        return PerWeek(0, at_most)  # a round-up since turned off sends nothing
    schedule = digest.model_copy(update={"schedule": cron})
    count, fire, end = 0, at, at + WEEK
    while count < MAX_COUNTED:
        fire = next_slot(schedule, fire)
        if fire > end:
            break
        count += 1
    return PerWeek(count, at_most)


@dataclass(frozen=True, slots=True)
class Option:
    """One "less often" choice: the form field and value, and what to call it."""

    field: str  # "cadence" or "section"
    value: str
    label: str


CADENCE_INSTEAD = {"daily": "A daily round-up instead", "weekly": "A weekly round-up instead"}


def less_often(
    store: Store, channel: ChannelConfig, sub: Subscription, at: datetime
) -> list[Option]:
    """The slower cadences and narrower section choices ``sub`` can switch to."""
    options: list[Option] = []
    # "edition" on a daily channel is daily: only what is slower than that is less.
    own = edition_cadence(channel, at)
    current = CADENCE_RANK.get(own if sub.cadence == OWN else sub.cadence, 0)
    for cadence in cadence_choices(channel, at):
        if CADENCE_RANK.get(cadence, 0) > current:
            week = mails_per_week(
                store, channel, Subscription(sub.channel, cadence, sub.sections), at
            )
            label = CADENCE_INSTEAD.get(cadence, cadence)
            options.append(Option("cadence", cadence, f"{label} ({week.describe()})"))
    offered = section_choices(channel)
    mine = [s for s in offered if s in sub.sections] if sub.sections else list(offered)
    if len(mine) > 1:
        for section in mine:
            options.append(Option("section", section, f"Only {section}"))
    return options


def apply_less_often(
    store: Store,
    subscriber: Subscriber,
    channel: ChannelConfig,
    field: str,
    value: str,
    at: datetime,
) -> Subscription | None:
    """Switch the subscriber's subscription to ``channel`` to the offered choice
    (``field`` ``cadence`` or ``section``, see :func:`less_often`); the new subscription,
    or ``None`` when that is not on offer (not subscribed, or not slower)."""
    sub = next((s for s in subscriber.subscriptions if s.channel == channel.name), None)
    if sub is None:
        return None
    if not any(o.field == field and o.value == value for o in less_often(store, channel, sub, at)):
        return None
    if field == "cadence":
        new = Subscription(sub.channel, value, sub.sections)
    else:
        new = Subscription(sub.channel, sub.cadence, (value,))
    SignupStore(store).update_preferences(
        subscriber.id, name=subscriber.name, timezone=subscriber.timezone, subs=[new], now=at
    )
    return new
