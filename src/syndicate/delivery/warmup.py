"""Warm-up: a new sending domain's daily cap per recipient group.

Mailbox providers distrust a domain that suddenly sends thousands of messages, so a
new domain ramps up: on day ``i`` of a ``days``-day warm-up each recipient group
(:mod:`syndicate.store.domain_groups`) may get at most

    cap(i) = start × (full / start) ^ (i / (days − 1))

messages, where ``full`` is the group's active list that day: exponential growth from
``start`` to the whole list, after which there is no cap. Claimed deliveries over the
day's cap are put back on the queue, due at the next midnight (UTC), with the reason
in their ``last_error`` ("warm-up: ..."): they wait in id order, never fail, and the
next day's allowance goes to the oldest first. ``syndicate deliveries status`` shows
them.

The ramp is on when ``[delivery] warmup`` is set, or when something (a check that sees
a domain that never sent) stored the ``warmup`` flag with :func:`enable_warmup`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import partial

from syndicate.config import WarmupSettings
from syndicate.store import Store
from syndicate.store.domain_groups import domain_group
from syndicate.store.guards import WARMUP_NOTE, Guards
from syndicate.store.outbox import Claimed

log = logging.getLogger(__name__)

FLAG = "warmup"  # a ramp switched on from the store: {"start": n, "days": n}
BEGAN = "warmup.began"  # the UTC day the ramp's first cap applied (day 0)


def daily_cap(start: int, days: int, day_index: int, full: int) -> int | None:
    """The cap of day ``day_index`` (0-based) for a group of ``full`` active
    subscribers; ``None`` once the ramp is over (no cap)."""
    if day_index >= days - 1 or days <= 1:
        return None
    if full <= start:
        return start
    growth: float = (full / start) ** (day_index / (days - 1))
    return max(start, int(start * growth))  # truncated: floor, the numbers are positive


def enable_warmup(store: Store, settings: WarmupSettings, now: datetime) -> None:
    """Switch the ramp on from the store (without ``[delivery] warmup``): the hook for
    a check that finds a sending domain that has never sent."""
    Guards(store).set_flag(FLAG, settings.model_dump(), now)


def disable_warmup(store: Store) -> bool:
    """Drop a ramp :func:`enable_warmup` switched on; True if there was one.
    ``[delivery] warmup`` in the settings is not touched (it always wins)."""
    return Guards(store).clear_flag(FLAG)


class Warmup:
    """Admits claimed deliveries within the day's caps and holds back the rest."""

    def __init__(self, store: Store, settings: WarmupSettings | None) -> None:
        self.guards = Guards(store)
        self.settings = settings

    def config(self) -> WarmupSettings | None:
        """The ramp in force: ``[delivery] warmup``, else the stored flag, else none."""
        if self.settings is not None:
            return self.settings
        stored = self.guards.flag(FLAG)
        return WarmupSettings.model_validate(stored) if stored else None

    def admit(self, owner: str, claimed: Sequence[Claimed], now: datetime) -> list[Claimed]:
        """The claimed rows that may go today; the others are held for the next day
        (released by ``owner``, their attempt not counted). Rows that will not be sent
        anyway (``blocked``) take no allowance."""
        config = self.config()
        if config is None or not claimed:
            return list(claimed)
        today = now.date()
        began = date.fromisoformat(self.guards.set_flag(BEGAN, today.isoformat(), now, keep=True))
        index = (today - began).days
        if index >= config.days - 1:
            return list(claimed)
        by_group: dict[str, list[Claimed]] = {}
        for item in claimed:
            if not item.blocked:
                by_group.setdefault(domain_group(item.email), []).append(item)
        sizes: dict[str, int] = {}

        def cap_for(group: str) -> int:
            if not sizes:
                sizes.update(self.guards.group_sizes())
            cap = daily_cap(config.start, config.days, index, sizes.get(group, 0))
            return cap if cap is not None else 2**31 - 1

        tomorrow = datetime.combine(today + timedelta(days=1), time(), tzinfo=now.tzinfo)
        held: set[int] = set()
        for group, rows in sorted(by_group.items()):
            granted, cap = self.guards.take_allowance(
                today.isoformat(), group, len(rows), partial(cap_for, group)
            )
            wait = [r.id for r in rows[granted:]]
            if wait:
                why = (
                    f"{WARMUP_NOTE}{group} had its cap of {cap} for {today} "
                    f"(day {index + 1} of {config.days}); waits for {tomorrow:%Y-%m-%d}"
                )
                self.guards.hold(owner, wait, tomorrow, why)
                more = self.guards.hold_due(group, now, tomorrow, why)
                log.info(
                    "%d deliveries to %s wait for tomorrow's warm-up cap", len(wait) + more, group
                )
                held.update(wait)
        return [item for item in claimed if item.id not in held]
