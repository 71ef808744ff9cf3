"""What a worker does with a task: send the due deliveries among its ids.

A task carries ids only — an edition id, a batch of delivery ids and the reservation
they were published under — and everything else is read from the store when it runs.
It claims its rows through the outbox lease, so a task delivered twice (a worker killed
before it acknowledged, a Redis visibility timeout) sends nothing already sent: rows
that are ``sent`` are not due, and rows another execution holds are waited for until
its lease ends, then claimed if they are still unsent.

Each worker thread (or process) keeps one backend open from task to task, and one store
per process; both are made on first use, after the pool has forked.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from syndicate.config import Settings, load_channels
from syndicate.delivery import Backend, Dispatcher, EditionMessages, make_backend, sender_guards
from syndicate.errors import StoreError
from syndicate.models import utc_now
from syndicate.scale.ratelimit import shared_limiter
from syndicate.store import Store, current_revision, head_revision, open_store
from syndicate.store.outbox import Outbox

log = logging.getLogger(__name__)

TASK_NAME = "syndicate.send_batch"


@dataclass
class Runtime:
    """One sender: the store, an open backend and the message builder."""

    store: Store
    backend: Backend
    messages: EditionMessages


class Runtimes:
    """One :class:`Runtime` per thread (backends are not shared between threads), one
    store per process; :meth:`close` ends them all when the worker stops."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._all: list[Runtime] = []

    def store(self) -> Store:
        """The process's store; refuses a database that is not migrated to this version
        (workers never migrate: several starting at once would race)."""
        with self._lock:
            if self._store is None:
                store = open_store(self.settings.store_url, upgrade=False)
                if current_revision(store.engine) != head_revision():
                    store.close()
                    raise StoreError("the store is not at this version: run 'syndicate db upgrade'")
                self._store = store
            return self._store

    def get(self) -> Runtime:
        """This thread's runtime, made on first use."""
        runtime: Runtime | None = getattr(self._local, "runtime", None)
        if runtime is None:
            store = self.store()
            backend = make_backend(self.settings)
            if backend.options.rate > 0:
                name = self.settings.delivery.backend
                backend.use_limiter(
                    shared_limiter(self.settings, store, name, backend.options.rate)
                )
            backend.open()
            channels = {c.name: c for c in load_channels(self.settings)}
            runtime = Runtime(store, backend, EditionMessages(store, self.settings, channels))
            self._local.runtime = runtime
            with self._lock:
                self._all.append(runtime)
        return runtime

    def close(self) -> None:
        """Close every backend (QUIT for SMTP sessions) and the store."""
        with self._lock:
            runtimes, self._all = self._all, []
            store, self._store = self._store, None
        for runtime in runtimes:
            try:
                runtime.backend.close()
            except Exception:  # closing must not stop the others from closing
                log.exception("closing the %s backend failed", runtime.backend.name)
        if store is not None:
            store.close()


@dataclass(frozen=True)
class TaskOutcome:
    """What one run of a task did, and when to run it again if rows were held."""

    counts: dict[str, int]
    retry_in: float | None = None


def send_batch(
    runtimes: Runtimes, edition_id: int, delivery_ids: list[int], reserved_by: str
) -> TaskOutcome:
    """Send the due deliveries among ``delivery_ids``; if some are held under another
    sender's live lease, say when that lease ends so the task can run again then."""
    runtime = runtimes.get()
    settings = runtimes.settings
    dispatcher = Dispatcher(
        runtime.store,
        runtime.backend,
        runtime.messages,
        settings.dispatch,
        # The pid lets an operator (and the crash test) tell whose leases a row holds.
        owner=f"w{os.getpid()}-{uuid.uuid4().hex[:16]}",
        **sender_guards(runtime.store, settings, lambda: make_backend(settings)),
    )
    report = dispatcher.send(delivery_ids, edition_id=edition_id, reserved_by=reserved_by)
    if report.paused:
        log.error("channels paused after policy rejections: %s", ", ".join(report.paused))
    now = utc_now()
    held = Outbox(runtime.store).held_until(delivery_ids, now)
    retry_in = None if held is None else (held - now).total_seconds() + 1.0
    return TaskOutcome(dict(report.counts), retry_in)


def summary(outcome: TaskOutcome) -> dict[str, Any]:
    """The task's result as JSON-able data (for logs; results are not stored)."""
    return {"counts": outcome.counts, "retry_in": outcome.retry_in}
