"""The deliverability guards together: what the outbox holds back and why, and the
guards a sender runs with (warm-up caps, circuit breakers; ``docs/deliverability.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syndicate.config import Settings
from syndicate.delivery.base import Backend
from syndicate.delivery.breakers import Breakers, breakers_for
from syndicate.delivery.warmup import Warmup
from syndicate.store import Store
from syndicate.store.domain_groups import GroupPauses
from syndicate.store.guards import Guards


@dataclass(frozen=True)
class Waiting:
    """Deliveries held back: per group paused by a breaker (when, why, rows due), and
    per group over the warm-up's daily cap (rows, when the first is due again)."""

    paused: dict[str, tuple[datetime, str, int]] = field(default_factory=dict)
    warmup: dict[str, tuple[int, datetime]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """For ``deliveries status --json``: stable keys, ISO times."""
        return {
            "paused_groups": {
                g: {"since": when.isoformat(), "reason": why, "waiting": n}
                for g, (when, why, n) in sorted(self.paused.items())
            },
            "warmup_waiting": {
                g: {"waiting": n, "until": until.isoformat()}
                for g, (n, until) in sorted(self.warmup.items())
            },
        }

    def lines(self) -> list[str]:
        """One sentence per reason, for people."""
        out = [
            f"group {g} paused since {when:%Y-%m-%d %H:%M} UTC ({n} waiting): {why}; "
            f"'syndicate deliveries resume {g}' lifts it"
            for g, (when, why, n) in sorted(self.paused.items())
        ]
        out += [
            f"{n} deliveries to {g} wait for the warm-up's next daily cap "
            f"({until:%Y-%m-%d %H:%M} UTC)"
            for g, (n, until) in sorted(self.warmup.items())
        ]
        return out


def deliveries_waiting(store: Store, now: datetime) -> Waiting:
    """What the outbox holds back now, and why."""
    guards = Guards(store)
    paused = GroupPauses(store).paused()
    due = guards.due_by_group(paused, now)
    return Waiting(
        paused={g: (when, why, due.get(g, 0)) for g, (when, why) in paused.items()},
        warmup=guards.waiting(now),
    )


def sender_guards(
    store: Store, settings: Settings, make_backend: Callable[[], Backend] | None = None
) -> dict[str, Any]:
    """The ``warmup`` and ``breakers`` keyword arguments of a
    :class:`~syndicate.delivery.dispatch.Dispatcher` for this instance (breakers alert
    by mail when ``make_backend`` is given)."""
    breakers: Breakers = breakers_for(store, settings, make_backend)
    return {"warmup": Warmup(store, settings.delivery.warmup), "breakers": breakers}
