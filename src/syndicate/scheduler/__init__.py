"""The daemon (a shell): APScheduler wiring, its jobs and the one-scheduler lock.

Takes the settings and the store; runs the pipeline's functions on time: polls due
sources, builds feeds when articles changed, composes due editions, enqueues and
dispatches them (or publishes them to Celery). Holds no pipeline logic of its own.

* :mod:`.daemon` — :class:`Daemon`: the APScheduler jobs, stopping, standby;
* :mod:`.jobs` — one tick of each job as a plain function; ``run --once``;
* :mod:`.lock` — the database lock so only one instance plans work.
"""

from typing import TYPE_CHECKING

from syndicate.plugins import lazy_exports

if TYPE_CHECKING:
    from syndicate.scheduler.daemon import Daemon, wait_for_lock
    from syndicate.scheduler.jobs import (
        OnceReport,
        dispatch_due,
        poll_sources,
        run_once,
        run_schedules,
    )
    from syndicate.scheduler.lock import SchedulerLock

# Each name is imported on first use (see syndicate.plugins.lazy_exports).
__getattr__ = lazy_exports(
    __name__,
    {
        "Daemon": "daemon",
        "OnceReport": "jobs",
        "SchedulerLock": "lock",
        "dispatch_due": "jobs",
        "poll_sources": "jobs",
        "run_once": "jobs",
        "run_schedules": "jobs",
        "wait_for_lock": "daemon",
    },
)

__all__ = [
    "Daemon",
    "OnceReport",
    "SchedulerLock",
    "dispatch_due",
    "poll_sources",
    "run_once",
    "run_schedules",
    "wait_for_lock",
]
