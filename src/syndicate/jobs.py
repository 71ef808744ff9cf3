"""What is due now, done once: the body of ``syndicate run --once`` (cron mode).

One pass: ingest the sources whose poll time has come; rebuild the feeds (only changed
files are written); for each channel with a digest, compose the edition of the current
slot and enqueue it — unless that slot is older than ``max_lateness_hours``, in which
case it is skipped and logged, never sent late; then dispatch whatever is due. A second
pass straight after finds nothing to do: sources are not due, files are unchanged, the
slot's edition exists and its deliveries are sent. Plain functions over the store; the
CLI (and later the scheduler) only call :func:`run_once`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syndicate.build import BuildReport, build
from syndicate.config import ChannelConfig, Settings, load_channels
from syndicate.digest.schedule import slot_for
from syndicate.dispatch import enqueue_edition
from syndicate.ingest import SourceReport, ingest
from syndicate.sources.base import utc_now
from syndicate.store import Store

log = logging.getLogger(__name__)


@dataclass
class EditionOutcome:
    """What happened to one channel's digest in this pass."""

    channel: str
    slot: datetime
    status: str  # composed | exists | no-news | missed
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
        """True when a source or a channel's feed failed."""
        return any(r.failed for r in self.sources) or bool(self.build and self.build.failed)


def compose_due(
    store: Store, settings: Settings, channel: ChannelConfig, now: datetime
) -> EditionOutcome:
    """Compose and enqueue ``channel``'s edition of the current slot, if it is not late."""
    from syndicate.digest.build import build_edition  # numpy/scikit-learn: load on use

    slot = slot_for(channel.digest, now)
    late = now - slot
    if late > timedelta(hours=channel.digest.max_lateness_hours):
        log.info("%s: slot %s missed by %s; skipped, not sent late", channel.name, slot, late)
        return EditionOutcome(channel.name, slot, "missed")
    built = build_edition(store, settings, channel, slot, save=True, now=now)
    if built is None or built.record is None:
        return EditionOutcome(channel.name, slot, "no-news")
    queued = enqueue_edition(store, channel, built.record, now)
    status = "composed" if built.created else "exists"
    return EditionOutcome(channel.name, slot, status, built.record.id, queued)


def run_once(
    store: Store, settings: Settings, *, clock: Callable[[], datetime] = utc_now
) -> OnceReport:
    """Ingest what is due, rebuild the feeds, compose and enqueue the due editions."""
    report = OnceReport()
    report.sources = ingest(store, settings, force=False, clock=clock)
    report.build = build(store, settings)
    now = clock()
    for channel in load_channels(settings):
        if channel.digest.enabled:
            report.editions.append(compose_due(store, settings, channel, now))
    return report
