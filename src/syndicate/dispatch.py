"""Dispatch: work through the outbox in claimed batches until nothing is due.

Each round claims up to ``batch_size`` due deliveries (a lease), re-checks suppression
just before sending, builds the messages, hands them to the backend, and records every
result together with the lease release in one transaction (STYLE 5). Results map to
outbox statuses:

==============  =====================================================================
backend says    outbox
==============  =====================================================================
sent / queued   ``sent``
deferred        ``deferred`` with exponential backoff and jitter (at least the
                provider's Retry-After); ``failed`` once older than ``max_age_hours``
rejected        ``failed``, and the address is suppressed as bounced (SU-1)
failed          ``failed`` — or, for a policy block (5.7.x), ``deferred`` and the channel
                is paused after ``pause_after_policy_failures`` in a row
==============  =====================================================================
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from syndicate.config import ChannelConfig, DispatchSettings
from syndicate.delivery.base import Backend
from syndicate.digest.schedule import next_slot, slot_for
from syndicate.errors import BackendConfigError, MessageError
from syndicate.models import DeliveryResult, OutboundMessage
from syndicate.sources.base import utc_now
from syndicate.store import Store
from syndicate.store.editions import EditionRecord, articles_by_ids
from syndicate.store.outbox import Claimed, Outbox, Outcome
from syndicate.store.subscribers import SubscriberStore

log = logging.getLogger(__name__)


class MessageSource(Protocol):
    """Builds the message for a claimed delivery (see ``syndicate.delivery.compose``)."""

    def message(self, claimed: Claimed, now: datetime) -> OutboundMessage:
        """The personalised message; raises MessageError if it cannot be built."""
        ...


@dataclass
class DispatchReport:
    """What one dispatch run did: outcomes by status, and channels it paused."""

    counts: Counter[str] = field(default_factory=Counter)
    paused: list[str] = field(default_factory=list)
    rounds: int = 0

    @property
    def total(self) -> int:
        """Deliveries handled."""
        return sum(self.counts.values())


CADENCE_RANK = {"edition": 0, "daily": 1, "weekly": 2}


def edition_cadence(channel: ChannelConfig, slot: datetime) -> str:
    """How often this channel's editions come: ``edition`` (on_new or more than daily),
    ``daily`` (a day or more apart) or ``weekly`` (a week or more apart)."""
    if channel.digest.schedule == "on_new":
        return "edition"
    start = slot_for(channel.digest, slot)
    period = next_slot(channel.digest, start) - start
    if period >= timedelta(days=6):
        return "weekly"
    if period >= timedelta(hours=20):
        return "daily"
    return "edition"


def audience(
    store: Store, channel: ChannelConfig, slot: datetime, sections: Sequence[str]
) -> Iterator[int]:
    """Subscriber ids who should get this edition: active, not suppressed, subscribed to
    the channel at a cadence the edition satisfies (a daily subscriber gets daily and
    weekly editions, a weekly one only weekly), and — when they chose sections — with at
    least one story in those sections."""
    cadence = CADENCE_RANK[edition_cadence(channel, slot)]
    present = {s.casefold() for s in sections}
    for subscriber_id, sub in SubscriberStore(store).channel_audience(channel.name):
        if CADENCE_RANK.get(sub.cadence, 0) > cadence:
            continue
        if sub.sections and not present & {s.casefold() for s in sub.sections}:
            continue
        yield subscriber_id


def enqueue_edition(
    store: Store, channel: ChannelConfig, edition: EditionRecord, now: datetime
) -> int:
    """Create the edition's deliveries in one transaction; returns how many were added.

    Enqueueing the same edition again adds nothing (unique on edition and subscriber).
    """
    stories = articles_by_ids(store, edition.article_ids)
    ids = audience(store, channel, edition.slot, [a.section for a in stories])
    return Outbox(store).enqueue(edition.id, ids, now)


def backoff(attempts: int, settings: DispatchSettings, rng: random.Random) -> float:
    """Seconds before the next try: doubling from ``min_backoff``, capped, ±20% jitter
    so that deferred mail does not come back in one burst."""
    growth = 2.0 ** max(0, attempts - 1)
    delay = min(settings.max_backoff, settings.min_backoff * growth)
    return delay * rng.uniform(0.8, 1.2)


class Dispatcher:
    """Sends due deliveries through one backend. ``stop`` ends the run between batches."""

    def __init__(
        self,
        store: Store,
        backend: Backend,
        messages: MessageSource,
        settings: DispatchSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        owner: str | None = None,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = Outbox(store)
        self.subscribers = SubscriberStore(store)
        self.backend = backend
        self.messages = messages
        self.settings = settings
        self.clock = clock
        self.owner = owner or f"dispatch-{uuid.uuid4().hex[:12]}"
        self.stop = stop or threading.Event()
        self.rng = rng or random.Random()

    def run(
        self, *, edition_id: int | None = None, max_rounds: int | None = None
    ) -> DispatchReport:
        """Dispatch until nothing is due (or ``stop`` is set, or ``max_rounds`` ran)."""
        report = DispatchReport()
        with self.backend:
            while not self.stop.is_set():
                if max_rounds is not None and report.rounds >= max_rounds:
                    break
                claimed = self.outbox.claim(
                    self.owner,
                    now=self.clock(),
                    lease=timedelta(seconds=self.settings.lease_seconds),
                    limit=self.settings.batch_size,
                    edition_id=edition_id,
                )
                if not claimed:
                    break
                report.rounds += 1
                self._round(claimed, report)
        return report

    def _round(self, claimed: Sequence[Claimed], report: DispatchReport) -> None:
        now = self.clock()
        outcomes: list[Outcome] = []
        messages: list[OutboundMessage] = []
        by_id = {c.id: c for c in claimed}
        for item in claimed:
            if item.blocked:
                outcomes.append(Outcome(item.id, "suppressed", error="suppressed before sending"))
                continue
            try:
                messages.append(self.messages.message(item, now))
            except MessageError as err:
                outcomes.append(Outcome(item.id, "failed", error=f"cannot build message: {err}"))
        try:
            results = self.backend.deliver(messages) if messages else []
        except BackendConfigError:
            # Give the rows back untouched so nothing is lost, then stop and report.
            self.outbox.record(
                self.owner, [Outcome(m.delivery_id, "queued") for m in messages], now
            )
            self.outbox.record(self.owner, outcomes, now)
            raise
        outcomes.extend(self._outcome(by_id[r.delivery_id], r, now) for r in results)
        self.outbox.record(self.owner, outcomes, now)
        self._after(claimed, results, report, now)
        report.counts.update(o.status for o in outcomes)

    def _outcome(self, item: Claimed, result: DeliveryResult, now: datetime) -> Outcome:
        if result.status in ("sent", "queued"):
            return Outcome(item.id, "sent", provider_message_id=result.provider_message_id)
        if result.status == "rejected":
            return Outcome(item.id, "failed", error=result.error or "rejected")
        retry = result.status == "deferred" or (result.policy and result.retryable)
        if not retry:
            return Outcome(item.id, "failed", error=result.error)
        age = now - item.created_at
        if age > timedelta(hours=self.settings.max_age_hours):
            why = f"gave up after {item.attempts} attempts over {age}: {result.error}"
            return Outcome(item.id, "failed", error=why)
        wait = backoff(item.attempts, self.settings, self.rng)
        if result.retry_after is not None:
            wait = max(wait, result.retry_after)
        return Outcome(
            item.id, "deferred", error=result.error, next_attempt_at=now + timedelta(seconds=wait)
        )

    def _after(
        self,
        claimed: Sequence[Claimed],
        results: Sequence[DeliveryResult],
        report: DispatchReport,
        now: datetime,
    ) -> None:
        by_id = {c.id: c for c in claimed}
        for result in results:
            item = by_id[result.delivery_id]
            if result.status == "rejected":
                self.subscribers.suppress(
                    item.email, "bounced", source="dispatch", detail=result.error or "", now=now
                )
        policy: Counter[str] = Counter()
        clean: set[str] = set()
        for result in results:
            channel = by_id[result.delivery_id].channel
            if result.policy:
                policy[channel] += 1
            elif result.status in ("sent", "queued"):
                clean.add(channel)
        threshold = self.settings.pause_after_policy_failures
        for channel in clean - set(policy):
            self.outbox.note_policy(channel, 0, threshold, now, "")
        for channel, n in policy.items():
            last = next(r.error for r in results if r.policy) or "policy rejection"
            if self.outbox.note_policy(channel, n, threshold, now, last):
                log.error("channel %s paused after %d policy rejections: %s", channel, n, last)
                report.paused.append(channel)
