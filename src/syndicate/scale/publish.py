"""Publish the outbox's due rows as tasks for the workers, ids only.

For each edition with due rows, batches of ``batch_size`` rows are *reserved* for a new
task id in the store (``Outbox.reserve``), then the task is published with that id. The
store stays the source of truth: a row reserved for a task that is waiting in the broker
is not published again by the next pass (cron, the scheduler, ``syndicate dispatch``),
and if the task is lost its rows come back when the reservation ends
(``reservation_seconds``). A publish that fails lifts its reservation and raises
QueueError.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syndicate.config import Settings
from syndicate.errors import QueueError
from syndicate.scale.app import make_app
from syndicate.scale.tasks import TASK_NAME
from syndicate.store import Store
from syndicate.store.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass
class PublishReport:
    """What a publishing pass did: tasks published and the deliveries they carry."""

    tasks: int = 0
    deliveries: int = 0
    editions: list[int] = field(default_factory=list)


def publish_due(
    store: Store, settings: Settings, now: datetime, *, edition_id: int | None = None
) -> PublishReport:
    """Publish a task per batch of due deliveries (of one edition, or of all)."""
    outbox = Outbox(store)
    report = PublishReport()
    editions = [edition_id] if edition_id is not None else outbox.due_editions(now)
    if not editions:
        return report  # the daemon asks every tick: no broker connection for nothing
    until = now + timedelta(seconds=settings.celery.reservation_seconds)
    app = make_app(settings)
    try:
        with app.producer_pool.acquire(block=True) as producer:
            for edition in editions:
                before = report.deliveries
                while True:
                    task_id = str(uuid.uuid4())
                    owner = f"task-{task_id}"
                    ids = outbox.reserve(
                        owner,
                        now=now,
                        until=until,
                        limit=settings.dispatch.batch_size,
                        edition_id=edition,
                    )
                    if not ids:
                        break
                    try:
                        app.send_task(
                            TASK_NAME,
                            args=(edition, ids, owner),
                            task_id=task_id,
                            queue=settings.celery.queue_name,
                            producer=producer,
                        )
                    except Exception as err:  # kombu raises several kinds once retries end
                        outbox.unreserve(owner)
                        raise QueueError(
                            f"cannot publish to the broker of queue "
                            f"{settings.celery.queue_name!r}: {err}"
                        ) from err
                    report.tasks += 1
                    report.deliveries += len(ids)
                if report.deliveries > before:
                    report.editions.append(edition)
    finally:
        app.close()
    log.info("published %d tasks for %d deliveries", report.tasks, report.deliveries)
    return report
