"""``syndicate run``: the long-running scheduler (APScheduler 3.x), a thin shell over
:mod:`syndicate.scheduler.jobs`.

Three interval jobs, each at most one instance at a time, every ``tick_seconds``:

* **sources** polls the sources whose next poll time has come, and rebuilds the feeds
  when that changed articles (and once at start, so channel edits show);
* **digests** handles due schedule slots (compose, enqueue — or skip when too late);
  after it queued mail it wakes **dispatch** at once;
* **dispatch** sends what is due, including deferred deliveries whose time has come
  (with ``[dispatch] queue = "celery"`` it publishes them as tasks for the workers).

Each run logs one summary line. The daemon holds the store's scheduler lock
(:mod:`syndicate.scheduler.lock`) for its lifetime and stops if it loses it. On SIGTERM/SIGINT it
stops claiming work: dispatch finishes the batch in flight and records it (no row stays
``sending``), ingest drops fetches that have not started, then it releases the lock and
returns 0 — after at most ``shutdown_seconds``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from syndicate.config import Settings
from syndicate.errors import SyndicateError
from syndicate.models import utc_now
from syndicate.scheduler.jobs import (
    changed,
    dispatch_due,
    poll_sources,
    run_schedules,
    run_sunset,
    run_welcomes,
)
from syndicate.scheduler.lock import SchedulerLock
from syndicate.store import Store

log = logging.getLogger("syndicate.scheduler.daemon")

JOBS = ("sources", "digests", "dispatch", "sunset", "welcomes")
# The sunset looks at days of history: once an hour is often enough.
SUNSET_EVERY = timedelta(hours=1)
# Welcomes a crash left out (a rare case): a few minutes late is fine.
WELCOMES_EVERY = timedelta(minutes=10)


class Daemon:
    """The scheduler process. :meth:`run` blocks until :meth:`stop` (or a lost lock)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        lock: SchedulerLock,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.settings = settings
        self.lock = lock
        self.clock = clock
        self.stopping = threading.Event()
        self.exit_code = 0
        self.unfinished = False  # work was still running when shutdown_seconds ran out
        self._busy = 0
        self._idle = threading.Condition()
        self._built_once = False
        self._sunset_at: datetime | None = None
        self._welcomes_at: datetime | None = None
        self._scheduler: BackgroundScheduler | None = None

    # --- control -----------------------------------------------------------------------

    def stop(self, reason: str = "asked to stop") -> None:
        """Stop claiming work; :meth:`run` then waits for the work in flight and returns."""
        if not self.stopping.is_set():
            log.info("stopping (%s): finishing the work in flight", reason)
        self.stopping.set()

    def run(self) -> int:
        """Start the jobs and block until stopped; returns the process exit code."""
        tick = self.settings.scheduler.tick_seconds
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(len(JOBS))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        start = datetime.now(UTC)
        for name in JOBS:
            scheduler.add_job(
                self._job(name),
                IntervalTrigger(seconds=tick, timezone=UTC),
                id=name,
                name=name,
                next_run_time=start,
            )
        self._scheduler = scheduler
        scheduler.start()
        log.info("scheduler started: holds the lock as %s; jobs every %ss", self.lock.name, tick)
        try:
            self.stopping.wait()
        finally:
            scheduler.shutdown(wait=False)  # no new runs; the ones in flight go on
            finished = self._wait_idle(self.settings.scheduler.shutdown_seconds)
            if not finished:
                self.unfinished = True
                log.warning(
                    "work still in flight after %ss; exiting anyway (leases expire, "
                    "nothing is lost)",
                    self.settings.scheduler.shutdown_seconds,
                )
            self.lock.release()
            log.info("scheduler stopped")
        return self.exit_code

    def _wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    @property
    def idle(self) -> bool:
        """True when no job is running."""
        with self._idle:
            return self._busy == 0

    @contextmanager
    def _running(self) -> Iterator[None]:
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def _wake(self, name: str) -> None:
        """Run job ``name`` as soon as it is free, not at its next tick."""
        if self._scheduler is not None and not self.stopping.is_set():
            try:
                self._scheduler.modify_job(name, next_run_time=datetime.now(UTC))
            except Exception:
                log.debug("could not wake %s", name, exc_info=True)

    # --- jobs --------------------------------------------------------------------------

    def _job(self, name: str) -> Callable[[], None]:
        body: Callable[[], dict[str, Any]] = getattr(self, f"_{name}")

        def job() -> None:
            if self.stopping.is_set():
                return
            with self._running():
                if not self.lock.alive():
                    log.error("lost the scheduler lock; stopping so that one scheduler runs")
                    self.exit_code = 1
                    self.stop("lost the lock")
                    return
                began = time.monotonic()
                try:
                    summary = body()
                except SyndicateError as err:
                    log.error("job %s failed: %s", name, err, extra={"job": name})
                    return
                except Exception:  # a bug must not kill the daemon; the next tick retries
                    log.exception("job %s failed", name, extra={"job": name})
                    return
                seconds = round(time.monotonic() - began, 3)
                if summary:
                    text = ", ".join(f"{k} {v}" for k, v in summary.items())
                    log.info(
                        "job %s: %s (%.2fs)",
                        name,
                        text,
                        seconds,
                        extra={"job": name, "seconds": seconds, **summary},
                    )

        return job

    def _sources(self) -> dict[str, Any]:
        reports = poll_sources(self.store, self.settings, self.clock, self.stopping)
        polled = [r for r in reports if not r.skipped_not_due]
        summary: dict[str, Any] = {}
        if polled:
            summary = {
                "polled": len(polled),
                "new": sum(r.new for r in polled),
                "updated": sum(r.updated for r in polled),
                "failed": sum(r.failed for r in polled),
            }
        news = changed(reports)
        if (news or not self._built_once) and not self.stopping.is_set():
            from syndicate.feeds.builder import build  # feed writers: load on use

            report = build(self.store, self.settings)
            self._built_once = True
            written = sum(1 for c in report.channels for v in c.formats.values() if v == "written")
            summary["feeds_written"] = written
            summary["feeds_failed"] = sum(1 for c in report.channels if c.error)
            if news:
                self._wake("digests")  # on_new channels may have news
        return summary

    def _digests(self) -> dict[str, Any]:
        # A draft waiting for approval is seen on every tick: not worth a line each time.
        outcomes = [
            o
            for o in run_schedules(self.store, self.settings, self.clock())
            if o.status != "waiting"
        ]
        if not outcomes:
            return {}
        queued = sum(o.queued for o in outcomes)
        if queued:
            self._wake("dispatch")
        counts: dict[str, Any] = {}
        for o in outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        counts["queued"] = queued
        return counts

    def _dispatch(self) -> dict[str, Any]:
        if self.settings.dispatch.queue == "celery":
            # Scale-out: the workers send; the scheduler publishes due rows as tasks.
            from syndicate.scale.publish import publish_due

            published = publish_due(self.store, self.settings, self.clock())
            if not published.tasks:
                return {}
            return {"tasks": published.tasks, "published": published.deliveries}
        report = dispatch_due(self.store, self.settings, stop=self.stopping, clock=self.clock)
        return dict(sorted(report.counts.items()))

    def _welcomes(self) -> dict[str, Any]:
        now = self.clock()
        if self._welcomes_at is not None and now - self._welcomes_at < WELCOMES_EVERY:
            return {}
        self._welcomes_at = now
        queued = run_welcomes(self.store, self.settings, now)
        return {"queued": queued} if queued else {}

    def _sunset(self) -> dict[str, Any]:
        now = self.clock()
        if self._sunset_at is not None and now - self._sunset_at < SUNSET_EVERY:
            return {}
        self._sunset_at = now
        report = run_sunset(self.store, self.settings, now)
        if report is None or not report.total:
            return {}
        return {"soft_bounced": len(report.soft_bounced), "unconfirmed": len(report.unconfirmed)}


def wait_for_lock(
    lock: SchedulerLock,
    stopping: threading.Event,
    *,
    poll: float = 5.0,
    clock: Callable[[], datetime] = utc_now,
) -> bool:
    """Standby: wait until ``lock`` can be taken (True) or ``stopping`` is set (False)."""
    told = False
    while not stopping.is_set():
        if lock.acquire(clock()):
            return True
        if not told:
            log.info("standby: the scheduler lock is held by %s; waiting", lock.holder())
            told = True
        stopping.wait(poll)
    return False
