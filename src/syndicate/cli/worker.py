"""``syndicate worker``: a Celery worker that sends the outbox's tasks (the scale extra)."""

from __future__ import annotations

import logging
import os
import socket

import click

from syndicate.cli.app import AppContext, cli, pass_app
from syndicate.errors import ConfigError


@cli.command("worker")
@click.option("--concurrency", type=click.IntRange(0, 256), help="Tasks at once [celery].")
@click.option(
    "--pool", type=click.Choice(["prefork", "threads", "solo"]), help="Worker pool [celery]."
)
@click.option("--name", "nodename", help="Worker name [default: syndicate-<pid>@<host>].")
@pass_app
def worker_cmd(
    app: AppContext, concurrency: int | None, pool: str | None, nodename: str | None
) -> None:
    """Run a Celery worker that sends the deliveries published to the queue.

    Start as many as you need, on any machine that reaches the store, the broker and the
    mail server; one scheduler (or cron) publishes the work. SIGTERM finishes the tasks
    in hand, then exits; a worker killed outright loses nothing (see docs/deployment.md).
    """
    settings = app.settings
    try:
        from syndicate.scale.app import make_app
        from syndicate.scale.tasks import Runtimes
    except ImportError as err:
        raise ConfigError(
            f"syndicate worker needs the scale extra: pip install 'syndicate[scale]' ({err})"
        ) from err
    c = settings.celery
    Runtimes(settings).store().close()  # fail here, before joining, on an unmigrated store
    argv = [
        "worker",
        f"--queues={c.queue_name}",
        f"--pool={pool or c.pool}",
        f"--hostname={nodename or f'syndicate-{os.getpid()}@{socket.gethostname()}'}",
        f"--loglevel={logging.getLevelName(logging.getLogger().level)}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    chosen = c.concurrency if concurrency is None else concurrency
    if chosen:
        argv.append(f"--concurrency={chosen}")
    make_app(settings).worker_main(argv)
