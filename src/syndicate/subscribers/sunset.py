"""Sunset: cleaning addresses that only bounce, and sign-ups never confirmed.

Off by default. With ``[subscribe] sunset_soft_bounce_days = N``, an active subscriber
to whom every delivery for at least N days soft-bounced (deferred, or failed after its
retries) — a delivery made N or more days ago failed, and nothing was sent to them
since — is suppressed as ``bounced`` (source ``sunset``). With
``sunset_unconfirmed_days = N``, a ``pending`` subscriber (a sign-up or an import never
confirmed) added N or more days ago is deleted. ``syndicate subscribers sunset
--dry-run`` reports who would be cleaned; the daemon runs it when either is set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syndicate.store import Store
from syndicate.store.sunset import SunsetStore


@dataclass
class SunsetReport:
    """Who was (or, in a dry run, would be) cleaned, by address."""

    soft_bounced: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def total(self) -> int:
        """How many addresses in all."""
        return len(self.soft_bounced) + len(self.unconfirmed)


def sunset(
    store: Store,
    *,
    soft_bounce_days: int,
    unconfirmed_days: int,
    now: datetime,
    dry_run: bool = False,
) -> SunsetReport:
    """Clean what the two rules find (a rule with 0 days is off)."""
    people = SunsetStore(store)
    report = SunsetReport(dry_run=dry_run)
    if soft_bounce_days > 0:
        report.soft_bounced = people.soft_bounced_since(now - timedelta(days=soft_bounce_days))
    if unconfirmed_days > 0:
        report.unconfirmed = people.unconfirmed_since(now - timedelta(days=unconfirmed_days))
    if not dry_run:
        detail = f"soft-bounced on every attempt for {soft_bounce_days} days"
        people.clean_bounced(report.soft_bounced, detail=detail, now=now)
        people.drop_unconfirmed(report.unconfirmed)
    return report
