"""The scheduler's jobs as plain functions over the store: poll due sources, rebuild the
feeds, handle due digest slots. ``syndicate run --once`` calls :func:`run_once`; the
daemon (:mod:`syndicate.scheduler.daemon`) calls the same functions on its timers.

A second pass straight after another finds nothing to do: sources are not due, feed
files are unchanged, every schedule's slot is marked handled in the store, and the
editions' deliveries are sent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syndicate.config import ChannelConfig, Settings, load_channels
from syndicate.delivery import Backend, DispatchReport, enqueue_edition
from syndicate.delivery.review_notice import notify_editors
from syndicate.digest import Due, Schedule, decide, next_slot, schedules_for, slot_for
from syndicate.digest.errors import ReviewError
from syndicate.digest.review import SCHEDULER, approve, expire, initial_status, reviewed
from syndicate.errors import SyndicateError
from syndicate.feeds import BuildReport, build
from syndicate.ingest import SourceReport, ingest
from syndicate.models import utc_now
from syndicate.related.semantic import for_settings
from syndicate.store import Store
from syndicate.store.editions import (
    DRAFT,
    NEVER_SENT,
    OWN,
    UNDER_REVIEW,
    EditionRecord,
    get_edition,
    get_edition_by_id,
)
from syndicate.store.outbox import Outbox
from syndicate.store.schedule import Mark, load_marks, save_mark
from syndicate.store.subscribers import SubscriberStore
from syndicate.subscribers.sunset import SunsetReport, sunset

log = logging.getLogger(__name__)

BackendFactory = Callable[[], Backend]


@dataclass
class EditionOutcome:
    """What happened on one schedule in this pass."""

    schedule: str
    slot: datetime
    # composed | exists | no-news | no-audience | missed | started | failed, and under a
    # hold window: drafted (composed ahead of its slot) | waiting (held or not yet
    # approved) | cancelled
    status: str
    edition_id: int | None = None
    queued: int = 0


@dataclass
class OnceReport:
    """Everything one pass did (dispatch is reported by the caller that ran it)."""

    sources: list[SourceReport] = field(default_factory=list)
    build: BuildReport | None = None
    editions: list[EditionOutcome] = field(default_factory=list)
    welcomes: int = 0  # welcome editions queued that a crash had left out

    @property
    def failed(self) -> bool:
        """True when a source, a channel's feed or a digest schedule failed."""
        return (
            any(r.failed for r in self.sources)
            or bool(self.build and self.build.failed)
            or any(e.status == "failed" for e in self.editions)
        )


def poll_sources(
    store: Store,
    settings: Settings,
    clock: Callable[[], datetime] = utc_now,
    stop: threading.Event | None = None,
) -> list[SourceReport]:
    """Ingest the sources whose next poll time has come."""
    return ingest(
        store, settings, force=False, clock=clock, stop=stop, embedder=for_settings(settings)
    )


def changed(reports: list[SourceReport]) -> bool:
    """Whether an ingest added or changed articles (so the feeds need rebuilding)."""
    return any(r.new or r.updated for r in reports)


def handle(
    store: Store,
    settings: Settings,
    due: Due,
    now: datetime,
    make_backend: BackendFactory | None = None,
) -> EditionOutcome:
    """Do what ``due`` says, then mark its slot handled.

    An edition under review (:mod:`syndicate.digest.review`) is enqueued only once it is
    approved: in ``auto`` review a draft nobody held is approved here, at its slot.

    The mark comes last: after a crash between composing and marking, the next pass
    composes the same slot again, finds the stored edition, and enqueueing it again adds
    nothing — so a slot is never lost and never sent twice.
    """
    key, slot = due.schedule.key, due.slot
    if due.action == "start":
        save_mark(store, key, slot, "started", now)
        log.info("schedule %s starts; its first edition is the slot after %s", key, slot)
        return EditionOutcome(key, slot, "started")
    if due.action == "missed":
        save_mark(store, key, slot, "missed", now)
        log.warning(
            "schedule %s: slot %s is %s late (max %sh); skipped, not sent late%s",
            key,
            f"{slot:%Y-%m-%d %H:%M}Z",
            now - slot,
            due.schedule.channel.digest.max_lateness_hours,
            f" ({due.passed_over} earlier slots also missed)" if due.passed_over else "",
        )
        return EditionOutcome(key, slot, "missed")
    from syndicate.digest.build import build_edition  # numpy/scipy: load on use

    if due.passed_over:
        log.warning("schedule %s: %d missed slots coalesce into %s", key, due.passed_over, slot)
    channel = due.schedule.channel
    if due.schedule.cadence != OWN and not _has_audience(store, channel.name, due.schedule.cadence):
        save_mark(store, key, slot, "no-audience", now)  # nobody chose it: render nothing
        return EditionOutcome(key, slot, "no-audience")
    cadence = due.schedule.cadence
    built = build_edition(
        store,
        settings,
        channel,
        slot,
        save=True,
        now=now,
        cadence=cadence,
        status=initial_status(channel, cadence),
    )
    if built is None or built.record is None:
        if not due.schedule.on_new:  # on_new waits for news; a cron slot is done
            save_mark(store, key, slot, "no-news", now)
        return EditionOutcome(key, slot, "no-news")
    record = built.record
    if record.status in UNDER_REVIEW:
        record = at_slot(store, settings, channel, record, now, make_backend)
    if record.status in UNDER_REVIEW:
        # Held, or waiting for approval: the slot stays unmarked, so every pass looks
        # again until it is approved or its lateness runs out (then it is missed).
        return EditionOutcome(key, slot, "waiting", record.id)
    if record.status in NEVER_SENT:
        save_mark(store, key, slot, record.status, now)
        return EditionOutcome(key, slot, record.status, record.id)
    queued = enqueue_edition(store, channel, record, now)
    save_mark(store, key, slot, "composed", now)
    status = "composed" if built.created else "exists"
    log.info("schedule %s: edition %d for %s, %d queued", key, record.id, slot, queued)
    return EditionOutcome(key, slot, status, record.id, queued)


def at_slot(
    store: Store,
    settings: Settings,
    channel: ChannelConfig,
    record: EditionRecord,
    now: datetime,
    make_backend: BackendFactory | None,
) -> EditionRecord:
    """An edition under review at its slot: its editors told (if the draft was not made
    ahead of time), and, in ``auto`` review, a draft nobody held approved."""
    notify_editors(store, settings, channel, record, _backends(settings, make_backend), now)
    if channel.digest.review == "auto" and record.status == DRAFT:
        try:
            return approve(store, record.id, SCHEDULER, now)
        except ReviewError:
            pass  # an editor moved it meanwhile: read what they decided
    fresh = get_edition_by_id(store, record.id)
    return fresh if fresh is not None else record


def draft_ahead(
    store: Store,
    settings: Settings,
    schedule: Schedule,
    marks: dict[str, Mark],
    now: datetime,
    make_backend: BackendFactory | None = None,
) -> EditionOutcome | None:
    """Compose the next slot's draft once its hold window (``draft_hours``) has opened,
    and tell the editors; ``None`` when there is nothing to draft now.

    Only after the current slot is done (marked, or its edition stored): a draft never
    overtakes the edition before it, whose window it would otherwise share.
    """
    channel = schedule.channel
    hours = channel.digest.draft_hours
    if not hours or not reviewed(channel, schedule.cadence):
        return None
    upcoming = next_slot(channel.digest, now)
    if now < upcoming - timedelta(hours=hours):
        return None
    if get_edition(store, channel.name, upcoming, schedule.cadence) is not None:
        return None  # drafted already
    current = slot_for(channel.digest, now)
    mark = marks.get(schedule.key)
    if (mark is None or mark.last_slot < current) and get_edition(
        store, channel.name, current, schedule.cadence
    ) is None:
        return None
    from syndicate.digest.build import build_edition  # numpy/scipy: load on use

    built = build_edition(
        store,
        settings,
        channel,
        upcoming,
        save=True,
        now=now,
        cadence=schedule.cadence,
        status=DRAFT,
    )
    if built is None or built.record is None:
        return None  # no news yet: tried again on the next pass, and at the slot
    notify_editors(store, settings, channel, built.record, _backends(settings, make_backend), now)
    log.info("schedule %s: draft %d for %s composed", schedule.key, built.record.id, upcoming)
    return EditionOutcome(schedule.key, upcoming, "drafted", built.record.id)


def _backends(settings: Settings, make_backend: BackendFactory | None) -> BackendFactory:
    if make_backend is not None:
        return make_backend
    from syndicate.delivery import make_backend as configured

    return lambda: configured(settings)


def _has_audience(store: Store, channel: str, cadence: str) -> bool:
    """Whether any active subscriber of ``channel`` chose ``cadence``."""
    return any(
        sub.cadence == cadence for _, sub in SubscriberStore(store).channel_audience(channel)
    )


def run_schedules(
    store: Store,
    settings: Settings,
    now: datetime,
    make_backend: BackendFactory | None = None,
) -> list[EditionOutcome]:
    """Handle every schedule that has something due at ``now``.

    First drafts still waiting past their lateness are marked missed, and the drafts
    due within their hold window are composed (editors told once); then each due slot
    is handled. One schedule's failure (a template error, say) is logged and does not
    stop the others; its slot stays unmarked, so it is tried again on the next pass.
    ``make_backend`` sends the editors' notices (default: the configured backend).
    """
    channels = load_channels(settings)
    outcomes = [
        EditionOutcome(r.channel, r.slot, "missed", r.id) for r in expire(store, channels, now)
    ]
    for record in outcomes:
        log.warning(
            "edition %s of %s: never approved; missed, not sent late",
            record.edition_id,
            record.schedule,
        )
    marks = load_marks(store)
    for schedule in schedules_for(channels, now):
        try:
            drafted = draft_ahead(store, settings, schedule, marks, now, make_backend)
        except SyndicateError as err:
            log.error("schedule %s: the draft could not be composed: %s", schedule.key, err)
            drafted = None
        if drafted is not None:
            outcomes.append(drafted)
        due = decide(schedule, marks.get(schedule.key), now)
        if due is None:
            continue
        try:
            outcome = handle(store, settings, due, now, make_backend)
        except SyndicateError as err:
            log.error("schedule %s: slot %s failed: %s", schedule.key, due.slot, err)
            outcomes.append(EditionOutcome(schedule.key, due.slot, "failed"))
        except Exception:  # a bug in one channel's edition must not stop the others
            log.exception("schedule %s: slot %s failed", schedule.key, due.slot)
            outcomes.append(EditionOutcome(schedule.key, due.slot, "failed"))
        else:
            if not (schedule.on_new and outcome.status == "no-news"):  # checked every tick
                outcomes.append(outcome)
    return outcomes


def run_once(
    store: Store, settings: Settings, *, clock: Callable[[], datetime] = utc_now
) -> OnceReport:
    """Ingest what is due, rebuild the feeds, compose and enqueue the due editions."""
    report = OnceReport()
    report.sources = poll_sources(store, settings, clock)
    report.build = build(store, settings)
    report.editions = run_schedules(store, settings, clock())
    report.welcomes = run_welcomes(store, settings, clock())
    return report


def dispatch_due(
    store: Store,
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> DispatchReport:
    """Send every delivery that is due (new, or deferred and due again) through the
    configured backend, until nothing is due or ``stop`` is set (then the batch in
    flight finishes and its results are recorded, so no row is left ``sending``)."""
    from syndicate.delivery import Dispatcher, EditionMessages, make_backend, sender_guards

    # The daemon calls this every tick: with nothing due, skip loading the channels, the
    # DKIM key and the backend.
    if not Outbox(store).due_editions(clock()):
        return DispatchReport()
    channels = {c.name: c for c in load_channels(settings)}
    dispatcher = Dispatcher(
        store,
        make_backend(settings),
        EditionMessages(store, settings, channels),
        settings.dispatch,
        clock=clock,
        stop=stop,
        **sender_guards(store, settings, lambda: make_backend(settings)),
    )
    return dispatcher.run()


def run_welcomes(store: Store, settings: Settings, now: datetime) -> int:
    """Queue the welcome editions a crash left out (confirmed in the last day, never
    welcomed); returns how many were queued."""
    from syndicate.delivery.compose import token_signer
    from syndicate.subscribers import Signups

    signups = Signups(store, settings, load_channels(settings), token_signer(settings))
    return signups.welcome_missed(now)


def run_sunset(store: Store, settings: Settings, now: datetime) -> SunsetReport | None:
    """Clean soft-bounced and unconfirmed addresses when ``[subscribe]`` turns the
    sunset on; ``None`` when both rules are off (the default)."""
    rules = settings.subscribe
    if not (rules.sunset_soft_bounce_days or rules.sunset_unconfirmed_days):
        return None
    return sunset(
        store,
        soft_bounce_days=rules.sunset_soft_bounce_days,
        unconfirmed_days=rules.sunset_unconfirmed_days,
        now=now,
    )
