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

Two guards sit on the claim path (``docs/deliverability.md``): the warm-up
(:mod:`.warmup`) holds claimed rows over the day's cap for the next day, and the
circuit breakers (:mod:`.breakers`) count each batch's results and pause a recipient
group; a paused group's rows are not claimed, and any already built go back unsent.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from syndicate.config import ChannelConfig, DispatchSettings
from syndicate.delivery.base import Backend
from syndicate.delivery.breakers import Breakers
from syndicate.delivery.warmup import Warmup
from syndicate.digest.cadence import CADENCE_RANK, edition_cadence
from syndicate.digest.errors import ReviewError
from syndicate.errors import BackendConfigError, MessageError
from syndicate.models import DeliveryResult, OutboundMessage, Subscription, utc_now
from syndicate.store import Store
from syndicate.store.domain_groups import GroupPauses, domain_group
from syndicate.store.editions import (
    FROZEN,
    OWN,
    EditionRecord,
    articles_by_ids,
    get_edition_by_id,
)
from syndicate.store.guards import Guards
from syndicate.store.outbox import Chooser, Claimed, Outbox, Outcome
from syndicate.store.stats import active_audience
from syndicate.store.subscribers import SubscriberStore

log = logging.getLogger(__name__)


class MessageSource(Protocol):
    """Builds the message for a claimed delivery (see ``syndicate.delivery.compose``)."""

    def choose(self, claimed: Sequence[Claimed], now: datetime) -> dict[int, int]:
        """The "More from" picks (a mask) for each of ``claimed``, by delivery id, chosen
        for a whole batch at once; deliveries left out get the default."""
        ...

    def message(self, claimed: Claimed, now: datetime) -> OutboundMessage:
        """The personalised message, showing ``claimed.picks``; raises MessageError if it
        cannot be built."""
        ...


@dataclass
class _Batch:
    """A claimed batch: rows, the outcomes already known, the messages to send."""

    claimed: dict[int, Claimed]
    now: datetime
    outcomes: list[Outcome] = field(default_factory=list)
    messages: list[OutboundMessage] = field(default_factory=list)


@dataclass
class DispatchReport:
    """What one dispatch run did: outcomes by status, channels it paused, and the last
    error a delivery that was not sent met (to say why nothing went out)."""

    counts: Counter[str] = field(default_factory=Counter)
    paused: list[str] = field(default_factory=list)
    paused_groups: list[str] = field(default_factory=list)
    rounds: int = 0
    last_error: str | None = None

    @property
    def total(self) -> int:
        """Deliveries handled."""
        return sum(self.counts.values())


def audience(
    store: Store,
    channel: ChannelConfig,
    slot: datetime,
    sections: Sequence[str],
    cadence: str = OWN,
) -> Iterator[int]:
    """Subscriber ids who should get this edition: active, not suppressed, subscribed to
    the channel at a cadence the edition satisfies, and — when they chose sections — with
    at least one story in those sections.

    For the channel's own editions (``cadence`` ``edition``) that is every subscriber
    whose cadence is no coarser than the channel's (a daily subscriber gets a daily or a
    weekly channel's editions, a weekly one only a weekly channel's). A daily or weekly
    round-up goes to exactly the subscribers who chose that cadence, so nobody gets the
    same stories twice.
    """
    why_not = _left_out(channel, slot, sections, cadence)
    for subscriber_id, sub in SubscriberStore(store).channel_audience(channel.name):
        if why_not(sub) is None:
            yield subscriber_id


@dataclass(frozen=True, slots=True)
class AudienceCounts:
    """Who among the active, unsuppressed subscribers gets an edition, and why the
    others do not: subscribed to other channels only, on another cadence (they get a
    round-up or a coarser channel's editions), or no story in the sections they chose."""

    reached: int
    other_channel: int
    other_cadence: int
    no_sections: int

    @property
    def total(self) -> int:
        """Every active, unsuppressed subscriber."""
        return self.reached + self.other_channel + self.other_cadence + self.no_sections


def audience_counts(store: Store, channel: ChannelConfig, edition: EditionRecord) -> AudienceCounts:
    """:func:`audience` counted, with the reasons for everyone it leaves out."""
    return _sorted_audience(store, channel, edition)[1]


def enqueue_counted(
    store: Store, channel: ChannelConfig, edition: EditionRecord, now: datetime
) -> tuple[int, AudienceCounts]:
    """:func:`enqueue_edition` and :func:`audience_counts` from one pass over the
    channel's subscribers (``digest send`` reports both): (rows added, counts). Only a
    frozen edition is enqueued, as by :func:`enqueue_edition`."""
    _require_frozen(store, edition)
    ids, counts = _sorted_audience(store, channel, edition)
    return Outbox(store).enqueue(edition.id, ids, now), counts


def _sorted_audience(
    store: Store, channel: ChannelConfig, edition: EditionRecord
) -> tuple[list[int], AudienceCounts]:
    """The edition's audience (subscriber ids) and its counts, from one read."""
    stories = articles_by_ids(store, edition.article_ids)
    why_not = _left_out(channel, edition.slot, [a.section for a in stories], edition.cadence)
    reasons: Counter[str | None] = Counter()
    ids: list[int] = []
    for subscriber_id, sub in SubscriberStore(store).channel_audience(channel.name):
        reason = why_not(sub)
        reasons[reason] += 1
        if reason is None:
            ids.append(subscriber_id)
    subscribed = sum(reasons.values())
    return ids, AudienceCounts(
        reached=reasons[None],
        other_channel=max(0, active_audience(store) - subscribed),
        other_cadence=reasons["cadence"],
        no_sections=reasons["sections"],
    )


def audience_by_segment(
    store: Store, channel: ChannelConfig, edition: EditionRecord
) -> dict[str, int]:
    """How many of the edition's audience get each copy: ``""`` for the whole edition
    (no sections chosen, or every story in their sections), else the sections, joined
    with ", ", whose stories their copy carries."""
    stories = articles_by_ids(store, edition.article_ids)
    present = {a.section.casefold(): a.section for a in stories}
    why_not = _left_out(channel, edition.slot, list(present.values()), edition.cadence)
    counts: Counter[str] = Counter()
    for _, sub in SubscriberStore(store).channel_audience(channel.name):
        if why_not(sub) is not None:
            continue
        chosen = sorted(present[s] for s in {x.casefold() for x in sub.sections} if s in present)
        counts["" if not sub.sections or len(chosen) == len(present) else ", ".join(chosen)] += 1
    return dict(counts)


def _left_out(
    channel: ChannelConfig, slot: datetime, sections: Sequence[str], cadence: str
) -> Callable[[Subscription], str | None]:
    """Why a channel subscriber does not get the edition (``cadence``, ``sections``), or
    ``None`` if they do."""
    if cadence == OWN:
        limit = CADENCE_RANK[edition_cadence(channel, slot)]

        def wanted(chosen: str) -> bool:
            return CADENCE_RANK.get(chosen, 0) <= limit
    else:

        def wanted(chosen: str) -> bool:
            return chosen == cadence

    present = {s.casefold() for s in sections}

    def why_not(sub: Subscription) -> str | None:
        if not wanted(sub.cadence):
            return "cadence"
        if sub.sections and not present & {s.casefold() for s in sub.sections}:
            return "sections"
        return None

    return why_not


def enqueue_edition(
    store: Store, channel: ChannelConfig, edition: EditionRecord, now: datetime
) -> int:
    """Create the edition's deliveries in one transaction; returns how many were added.

    Enqueueing the same edition again adds nothing (unique on edition and subscriber).
    Only a frozen edition (``ready``, or ``approved`` after review) is enqueued: one
    still under review, missed or cancelled raises :class:`ReviewError` (its status is
    read from the store, not from ``edition``, which may be stale).
    """
    _require_frozen(store, edition)
    stories = articles_by_ids(store, edition.article_ids)
    ids = audience(store, channel, edition.slot, [a.section for a in stories], edition.cadence)
    return Outbox(store).enqueue(edition.id, ids, now)


def _require_frozen(store: Store, edition: EditionRecord) -> None:
    """Raise :class:`ReviewError` unless the stored edition is frozen (the hold window's
    guard: deliveries come only from an edition nobody may still change)."""
    current = get_edition_by_id(store, edition.id)
    if current is None or current.status not in FROZEN:
        status = current.status if current is not None else "gone"
        raise ReviewError(f"edition {edition.id} is {status}: only an approved edition is sent")


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
        warmup: Warmup | None = None,
        breakers: Breakers | None = None,
    ) -> None:
        self.outbox = Outbox(store)
        self.groups = GroupPauses(store)
        self.guards = Guards(store)
        self.warmup = warmup
        self.breakers = breakers
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
        """Dispatch until nothing is due (or ``stop`` is set, or ``max_rounds`` ran).

        Batches are pipelined: while one batch is with the backend, the next is claimed
        and its messages built (and signed), so building and sending overlap. A batch's
        results are recorded before the next batch is handed over, and rows of a channel
        paused meanwhile go back to the queue unsent.
        """
        report = DispatchReport()
        in_flight: tuple[_Batch, Future[list[DeliveryResult]]] | None = None
        # Claims go on from the last id claimed; when nothing is left beyond it, one claim
        # from the start takes any row behind it that became due (a dead sender's).
        after: int | None = None
        with self.backend, ThreadPoolExecutor(1, thread_name_prefix="dispatch") as pool:
            while True:
                more = not self.stop.is_set() and (max_rounds is None or report.rounds < max_rounds)
                claimed = self._claim(edition_id, after) if more else []
                if more and not claimed and after is not None:
                    claimed = self._claim(edition_id, None)
                after = max((c.id for c in claimed), default=None)
                batch = self._prepare(claimed) if claimed else None
                if in_flight is not None:
                    try:
                        self._finish(in_flight[0], in_flight[1].result, report)
                    except BackendConfigError:
                        if batch is not None:
                            self._release(batch)
                        raise
                    in_flight = None
                if batch is None:
                    break
                batch = self._without_paused(batch)
                report.rounds += 1
                in_flight = (batch, pool.submit(self._deliver, batch.messages))
        return report

    def send(
        self, ids: Sequence[int], *, edition_id: int | None = None, reserved_by: str | None = None
    ) -> DispatchReport:
        """Send the due deliveries among ``ids`` as one claimed batch (a queue worker's
        task); rows already sent, or held by another sender, are left alone.

        ``reserved_by`` names the task the rows were reserved for (see
        ``Outbox.reserve``). Unlike :meth:`run`, this neither opens nor closes the
        backend: a worker keeps it open from one task to the next.
        """
        report = DispatchReport()
        now = self.clock()
        claimed = self.outbox.claim(
            self.owner,
            now=now,
            lease=timedelta(seconds=self.settings.lease_seconds),
            limit=len(ids),
            edition_id=edition_id,
            ids=ids,
            reserved_by=reserved_by,
            choose=self._chooser(now),
        )
        if not claimed:
            return report
        batch = self._without_paused(self._prepare(claimed))
        report.rounds = 1
        self._finish(batch, lambda: self._deliver(batch.messages), report)
        return report

    def _claim(self, edition_id: int | None, after: int | None) -> list[Claimed]:
        now = self.clock()
        return self.outbox.claim(
            self.owner,
            now=now,
            lease=timedelta(seconds=self.settings.lease_seconds),
            limit=self.settings.batch_size,
            edition_id=edition_id,
            after=after,
            choose=self._chooser(now),
        )

    def _chooser(self, now: datetime) -> Chooser | None:
        """The "More from" picks' chooser the claim records with the rows it takes
        (on PostgreSQL in the same UPDATE). None while a warm-up ramp is set
        (``[delivery] warmup`` or the stored flag): it may hold claimed rows over the
        day's cap back after the claim, and those rows' picks are chosen on the day
        they go (by :meth:`_picks`), as they always were."""
        if self.warmup is not None and self.warmup.config() is not None:
            return None
        messages = self.messages

        def choose(claimed: Sequence[Claimed]) -> dict[int, int]:
            return messages.choose(claimed, now)

        return choose

    def _deliver(self, messages: list[OutboundMessage]) -> list[DeliveryResult]:
        return self.backend.deliver(messages) if messages else []

    def _prepare(self, claimed: Sequence[Claimed]) -> _Batch:
        """Check suppression just before sending, and build the messages."""
        now = self.clock()
        if self.warmup is not None:  # rows over today's cap wait for tomorrow's
            claimed = self.warmup.admit(self.owner, claimed, now)
        batch = _Batch(claimed={c.id: c for c in claimed}, now=now)
        picks = self._picks([c for c in claimed if not c.blocked], now)
        for item in claimed:
            if item.blocked:
                batch.outcomes.append(
                    Outcome(item.id, "suppressed", error="suppressed before sending")
                )
                continue
            if item.picks is None and item.id in picks:
                item = item.with_picks(picks[item.id])
            try:
                batch.messages.append(self.messages.message(item, now))
            except MessageError as err:
                batch.outcomes.append(
                    Outcome(item.id, "failed", error=f"cannot build message: {err}")
                )
        return batch

    def _picks(self, claimed: Sequence[Claimed], now: datetime) -> dict[int, int]:
        """The "More from" picks of the deliveries that have none recorded: chosen for the
        batch at once and recorded before anything is sent, so that a retry (after a
        deferral, or a crash between the provider's acceptance and our commit) shows the
        same picks as the first attempt. Where another sender recorded first, its
        choice is the one returned. The claim has usually recorded them already (see
        :meth:`_chooser`); this is for the rows it did not."""
        fresh = [c for c in claimed if c.picks is None]
        if not fresh:
            return {}
        return self.outbox.record_picks(self.messages.choose(fresh, now))

    def _without_paused(self, batch: _Batch) -> _Batch:
        batch = self._without_held_groups(batch)
        paused = set(self.outbox.paused())
        if not paused or not {c.channel for c in batch.claimed.values()} & paused:
            return batch
        held = [m for m in batch.messages if m.channel in paused]
        self.outbox.record(self.owner, [Outcome(m.delivery_id, "queued") for m in held], batch.now)
        batch.messages = [m for m in batch.messages if m.channel not in paused]
        return batch

    def _without_held_groups(self, batch: _Batch) -> _Batch:
        """Give back, unsent, the built messages of recipient groups paused since the
        claim (by another sender's breaker, or by this run's previous batch)."""
        held = set(self.groups.paused())
        if not held:
            return batch
        back = [m.delivery_id for m in batch.messages if domain_group(m.to_email) in held]
        if back:
            self.guards.hold(self.owner, back, batch.now, "group paused before sending")
            gone = set(back)
            batch.messages = [m for m in batch.messages if m.delivery_id not in gone]
        return batch

    def _release(self, batch: _Batch) -> None:
        """Give a built but unsent batch back untouched (its rows are queued again)."""
        queued = [Outcome(m.delivery_id, "queued") for m in batch.messages]
        self.outbox.record(self.owner, queued + batch.outcomes, batch.now)

    def _finish(
        self,
        batch: _Batch,
        results_of: Callable[[], list[DeliveryResult]],
        report: DispatchReport,
    ) -> None:
        try:
            results = results_of()
        except BackendConfigError:
            self._release(batch)  # nothing of it was accepted: lose nothing, then stop
            raise
        now = self.clock()
        outcomes = batch.outcomes + [
            self._outcome(batch.claimed[r.delivery_id], r, now) for r in results
        ]
        self.outbox.record(self.owner, outcomes, now)
        self._after(list(batch.claimed.values()), results, report, now)
        report.counts.update(o.status for o in outcomes)
        errors = [o.error for o in outcomes if o.error and o.status in ("deferred", "failed")]
        report.last_error = errors[-1] if errors else report.last_error

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
        tripped: set[str] = set()
        if self.breakers is not None:
            pairs = [(by_id[r.delivery_id], r) for r in results]
            tripped = {t.group for t in self.breakers.after_batch(pairs, now)}
            report.paused_groups.extend(sorted(tripped))
        for result in results:
            item = by_id[result.delivery_id]
            if result.status == "rejected":
                self.subscribers.suppress(
                    item.email, "bounced", source="dispatch", detail=result.error or "", now=now
                )
        policy: Counter[str] = Counter()
        clean: set[str] = set()
        held = tripped | set(self.groups.paused()) if self.breakers is not None else set()
        for result in results:
            channel = by_id[result.delivery_id].channel
            if held and domain_group(by_id[result.delivery_id].email) in held:
                continue  # its group is paused by a breaker: not a matter for the channel
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
