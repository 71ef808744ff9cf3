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
from datetime import datetime

from syndicate.config import Settings, load_channels
from syndicate.delivery import DispatchReport, enqueue_edition
from syndicate.digest import Due, decide, schedules_for
from syndicate.errors import SyndicateError
from syndicate.feeds import BuildReport, build
from syndicate.ingest import SourceReport, ingest
from syndicate.models import utc_now
from syndicate.related.semantic import for_settings
from syndicate.store import Store
from syndicate.store.editions import OWN
from syndicate.store.outbox import Outbox
from syndicate.store.schedule import load_marks, save_mark
from syndicate.store.subscribers import SubscriberStore
from syndicate.subscribers.sunset import SunsetReport, sunset

log = logging.getLogger(__name__)


@dataclass
class EditionOutcome:
    """What happened on one schedule in this pass."""

    schedule: str
    slot: datetime
    status: str  # composed | exists | no-news | no-audience | missed | started | failed
    edition_id: int | None = None
    queued: int = 0


@dataclass
class OnceReport:
    """Everything one pass did (dispatch is reported by the caller that ran it)."""

    sources: list[SourceReport] = field(default_factory=list)
    build: BuildReport | None = None
    editions: list[EditionOutcome] = field(default_factory=list)

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


def handle(store: Store, settings: Settings, due: Due, now: datetime) -> EditionOutcome:
    """Do what ``due`` says, then mark its slot handled.

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
    built = build_edition(
        store, settings, channel, slot, save=True, now=now, cadence=due.schedule.cadence
    )
    if built is None or built.record is None:
        if not due.schedule.on_new:  # on_new waits for news; a cron slot is done
            save_mark(store, key, slot, "no-news", now)
        return EditionOutcome(key, slot, "no-news")
    queued = enqueue_edition(store, channel, built.record, now)
    save_mark(store, key, slot, "composed", now)
    status = "composed" if built.created else "exists"
    log.info("schedule %s: edition %d for %s, %d queued", key, built.record.id, slot, queued)
    return EditionOutcome(key, slot, status, built.record.id, queued)


def _has_audience(store: Store, channel: str, cadence: str) -> bool:
    """Whether any active subscriber of ``channel`` chose ``cadence``."""
    return any(
        sub.cadence == cadence for _, sub in SubscriberStore(store).channel_audience(channel)
    )


def run_schedules(store: Store, settings: Settings, now: datetime) -> list[EditionOutcome]:
    """Handle every schedule that has something due at ``now``.

    One schedule's failure (a template error, say) is logged and does not stop the
    others; its slot stays unmarked, so it is tried again on the next pass.
    """
    marks = load_marks(store)
    outcomes = []
    for schedule in schedules_for(load_channels(settings), now):
        due = decide(schedule, marks.get(schedule.key), now)
        if due is None:
            continue
        try:
            outcome = handle(store, settings, due, now)
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
