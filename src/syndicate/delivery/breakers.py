"""Circuit breakers: pause a recipient group when a provider stops trusting us.

A group (:mod:`syndicate.store.domain_groups`) pauses when, for one edition,

* hard bounces exceed ``bounce_rate`` (2 %) or complaints exceed ``complaint_rate``
  (0.1 %) of what was sent to the group, once ``min_sample`` messages went; or
* a provider answers with a known throttling or reputation signature
  (:data:`SIGNATURES`): that is at once (not for ``other``, whose servers are many
  unrelated ones).

A paused group's deliveries stay queued and are left out of claims (other groups go
on); ``syndicate deliveries resume GROUP`` lifts the pause and they go in order. A
trip is an alert: an error in the log, the ``/metrics`` gauge and counter (read from
the store), and a notice mail to ``[delivery.breakers] notify``. Only the call that
paused the group alerts, however many senders saw the signal.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from syndicate.config import BreakerSettings, Settings
from syndicate.delivery.base import Backend
from syndicate.errors import SyndicateError
from syndicate.models import DeliveryResult
from syndicate.store import Store
from syndicate.store.domain_groups import OTHER, GroupPauses, domain_group
from syndicate.store.guards import BreakerCount, Guards
from syndicate.store.outbox import Claimed

log = logging.getLogger(__name__)

# Replies that mean "this provider is throttling or distrusting the sender", checked
# most specific first; each names what it is in the pause's reason.
SIGNATURES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b5\.7\.515\b"), "Microsoft 5.7.515 (sender authentication required)"),
    (re.compile(r"\bS3150\b"), "Microsoft S3150 (sending IP on its block list)"),
    (re.compile(r"\b4\.7\.28\b"), "Gmail 4.7.28 (rate limited: unusual volume)"),
    (re.compile(r"\b421\b[^0-9]*4\.7\.\d{1,3}\b"), "421 4.7.x (throttled for reputation)"),
)


def signature(error: str | None) -> str | None:
    """What known throttling/reputation signature ``error`` carries, or ``None``."""
    if not error:
        return None
    for pattern, name in SIGNATURES:
        if pattern.search(error):
            return name
    return None


@dataclass(frozen=True, slots=True)
class Trip:
    """A breaker that tripped: the group, why, and the edition that showed it."""

    group: str
    reason: str
    edition_id: int | None


Alert = Callable[[Trip], None]


class Breakers:
    """Counts what each edition sent per group and what came back, and trips."""

    def __init__(self, store: Store, settings: BreakerSettings, alert: Alert | None = None):
        self.guards = Guards(store)
        self.pauses = GroupPauses(store)
        self.settings = settings
        self.alert = alert

    def after_batch(
        self, pairs: Iterable[tuple[Claimed, DeliveryResult]], now: datetime
    ) -> list[Trip]:
        """Count a batch's results (sent, and hard bounces the server gave at once)
        and trip on a signature or a rate; returns the groups this call paused."""
        if not self.settings.enabled:
            return []
        changes: dict[tuple[int, str], tuple[int, int, int]] = {}
        signals: list[Trip] = []
        for item, result in pairs:
            group = domain_group(item.email)
            sent, bounces, _ = changes.get((item.edition_id, group), (0, 0, 0))
            if result.status in ("sent", "queued"):
                sent += 1
            elif result.status == "rejected":
                bounces += 1
            changes[(item.edition_id, group)] = (sent, bounces, 0)
            found = signature(result.error) if self.settings.signatures else None
            # "other" is the servers of countless unrelated domains: one of them
            # throttling says nothing about the rest (its rates still count).
            if found and group != OTHER and result.status not in ("sent", "queued"):
                why = f"provider answered {found}: {result.error}"
                signals.append(Trip(group, why, item.edition_id))
        totals = self.guards.add_counts(changes)
        return self._trip([*signals, *self._over(totals)], now)

    def note_event(
        self, kind: str, email: str, provider_message_id: str | None, now: datetime
    ) -> list[Trip]:
        """Count a provider's hard bounce or complaint (a webhook event) against the
        edition it is about; returns the groups this call paused."""
        if not self.settings.enabled or kind not in ("hard-bounce", "complaint"):
            return []
        edition_id = self.guards.edition_of(provider_message_id, email)
        if edition_id is None:
            return []  # not one of our editions' messages (a confirmation, or unknown)
        change = (0, 1, 0) if kind == "hard-bounce" else (0, 0, 1)
        totals = self.guards.add_counts({(edition_id, domain_group(email)): change})
        return self._trip(self._over(totals), now)

    def _over(self, totals: Iterable[BreakerCount]) -> list[Trip]:
        s = self.settings
        trips = []
        for t in totals:
            if t.sent < s.min_sample:
                continue
            if t.bounces / t.sent > s.bounce_rate:
                why = f"hard bounces {t.bounces}/{t.sent} over {s.bounce_rate:.1%}"
            elif t.complaints / t.sent > s.complaint_rate:
                why = f"complaints {t.complaints}/{t.sent} over {s.complaint_rate:.1%}"
            else:
                continue
            trips.append(Trip(t.group, f"edition {t.edition_id}: {why}", t.edition_id))
        return trips

    def _trip(self, trips: list[Trip], now: datetime) -> list[Trip]:
        done: list[Trip] = []
        for trip in trips:
            if not self.pauses.pause(trip.group, trip.reason, trip.edition_id, now):
                continue
            log.error("recipient group %s paused: %s", trip.group, trip.reason)
            done.append(trip)
            if self.alert is not None:
                try:
                    self.alert(trip)
                except Exception:  # an alert must not stop the sending of the others
                    log.exception("notice of the %s pause could not be sent", trip.group)
        return done


def mail_alert(settings: Settings, make_backend: Callable[[], Backend]) -> Alert:
    """An alert that mails each of ``[delivery.breakers] notify`` a notice (through a
    backend of its own, opened for it), or does nothing if no one is to be told."""
    from syndicate.delivery.compose import dkim_signer, sender
    from syndicate.delivery.notice import operator_notice, send_notice
    from syndicate.models import utc_now

    def alert(trip: Trip) -> None:
        for to_email in settings.delivery.breakers.notify:
            message = operator_notice(
                sender=sender(settings),
                to_email=to_email,
                subject=f"[{settings.site.name}] sending to {trip.group} paused",
                text=(
                    f"Sending to the {trip.group} recipient group is paused:\n\n"
                    f"  {trip.reason}\n\n"
                    "Other groups go on. The group's deliveries wait, queued, until you "
                    f"run:\n\n  syndicate deliveries resume {trip.group}\n\n"
                    "See docs/deliverability.md, 'Circuit breakers'.\n"
                ),
                now=utc_now(),
                signer=dkim_signer(settings),
            )
            result = send_notice(make_backend, message)
            if result.status not in ("sent", "queued"):
                raise SyndicateError(f"notice to {to_email}: {result.status}: {result.error}")

    return alert


def breakers_for(
    store: Store, settings: Settings, make_backend: Callable[[], Backend] | None = None
) -> Breakers:
    """The instance's breakers, alerting by mail when ``make_backend`` is given."""
    alert = mail_alert(settings, make_backend) if make_backend is not None else None
    return Breakers(store, settings.delivery.breakers, alert)
