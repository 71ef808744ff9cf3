"""The Celery application: broker, queue, delivery guarantees and the one task.

Defaults favour "nothing lost, little repeated": tasks are acknowledged after they ran
(``acks_late``) and given back when their worker dies (``task_reject_on_worker_lost``);
each worker holds ``prefetch_multiplier`` unacknowledged tasks per slot (1: a killed
worker strands no more than it was running). Broker and database errors retry the task
with exponential backoff and jitter, up to ``max_retries``. Results are not stored: the
outbox is the record.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from celery.signals import setup_logging, worker_process_shutdown, worker_shutdown
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import InterfaceError, OperationalError

from syndicate.config import Settings
from syndicate.errors import StoreError
from syndicate.scale.tasks import TASK_NAME, Runtimes, send_batch, summary

# Errors that pass: a database restarting or failing over, a broker connection lost.
TRANSIENT: tuple[type[Exception], ...] = (OperationalError, InterfaceError, StoreError, BrokerError)


def make_app(settings: Settings) -> Celery:
    """A Celery app for ``settings.celery``, with the ``send_batch`` task registered."""
    c = settings.celery
    app = Celery("syndicate", broker=c.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=c.queue_name,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=c.prefetch_multiplier,
        worker_concurrency=c.concurrency or None,
        worker_pool=c.pool,
        worker_hijack_root_logger=False,
        # The CLI's log handler writes to stderr: redirecting stderr into the logs
        # would swallow every line.
        worker_redirect_stdouts=False,
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings),
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 5,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 2.0,
        },
    )
    runtimes = Runtimes(settings)

    def close(**_: Any) -> None:
        runtimes.close()

    # The signals hold weak references by default: keep ``close`` alive with the app.
    worker_process_shutdown.connect(close, weak=False)
    worker_shutdown.connect(close, weak=False)
    # A receiver here tells Celery that logging is set up (by the CLI): leave it.
    setup_logging.connect(_keep_logging, weak=False)

    @app.task(
        name=TASK_NAME,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        autoretry_for=TRANSIENT,
        retry_backoff=True,
        retry_backoff_max=int(c.retry_backoff_max),
        retry_jitter=True,
        max_retries=c.max_retries,
    )
    def send_batch_task(
        task: Task[Any, Any], edition_id: int, delivery_ids: list[int], reserved_by: str
    ) -> dict[str, Any]:
        outcome = send_batch(runtimes, edition_id, delivery_ids, reserved_by)
        if outcome.retry_in is not None:
            # Another execution (a worker that died, a redelivered copy) holds some of
            # these rows: look again when its lease ends. Not an error, so no limit.
            raise task.retry(countdown=outcome.retry_in, max_retries=None)
        return summary(outcome)

    return app


def _keep_logging(**_: Any) -> None:
    """Celery's ``setup_logging`` hook: the CLI has configured logging already."""


def _transport_options(settings: Settings) -> dict[str, Any]:
    c = settings.celery
    if not c.broker_url.startswith(("redis://", "rediss://", "unix://")):
        return {}
    # Redis has no acknowledgements of its own: kombu keeps delivered tasks aside and
    # puts them back after ``visibility_timeout``. Sweep often enough for that timeout.
    sweep = max(1, min(10, int(c.visibility_timeout / 10)))
    return {
        "visibility_timeout": c.visibility_timeout,
        "global_keyprefix": c.key_prefix,
        "unacked_restore_interval": sweep,
        "unacked_restore_throttle": 1,
    }
