"""``syndicate run``: the scheduler daemon, or ``--once`` for cron and systemd timers."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from syndicate.cli.app import WORKERS, AppContext, cli, console, pass_app, plural
from syndicate.cli.text import esc
from syndicate.models import utc_now

if TYPE_CHECKING:
    from syndicate.scheduler import SchedulerLock

log = logging.getLogger("syndicate.run")

# Exit status when another scheduler holds the store's lock (and --standby was not given).
LOCK_HELD = 4


@contextmanager
def on_signals(handler: Callable[[str], None]) -> Iterator[None]:
    """Call ``handler(signal name)`` on SIGTERM/SIGINT; restore the old handlers after."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handle(signum: int, _frame: object) -> None:
        handler(signal.Signals(signum).name)

    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@cli.command("run")
@click.option(
    "--once",
    is_flag=True,
    help="Do everything that is due now, then exit (for cron or a systemd timer).",
)
@click.option(
    "--standby",
    is_flag=True,
    help="If another scheduler holds the store's lock, wait and take over when it stops.",
)
@click.option("--serve", is_flag=True, help="Also serve the web app (feeds, subscriber pages).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address for --serve.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port for --serve.",
)
@WORKERS
@pass_app
def run_cmd(
    app: AppContext,
    once: bool,
    standby: bool,
    serve: bool,
    host: str,
    port: int,
    workers: int,
) -> None:
    """Run the scheduler: poll sources, rebuild feeds, send digests on their schedules.

    Without --once it runs until SIGTERM or Ctrl-C, then finishes the batch in flight
    and exits 0. One scheduler runs per store: a second one says who holds the lock
    and exits with status 4, or waits with --standby. With --once it does what is due
    now and exits; a run straight after does nothing. A slot missed by more than its
    max_lateness_hours is skipped and logged, never sent late.
    """
    from syndicate.scheduler import SchedulerLock

    if once and serve:
        raise click.UsageError("--serve runs with the daemon, not with --once")
    if workers > 1 and not once:
        raise click.UsageError("--workers is for --once (the daemon sends in one process)")
    store = app.store()
    lock = SchedulerLock(store, app.settings)
    stopping = threading.Event()
    # One handler for the whole command, so no signal finds the default one between
    # taking the lock and starting the daemon; the daemon adds its own stop to it.
    on_stop: list[Callable[[str], None]] = []

    def handler(name: str) -> None:
        stopping.set()
        for stop in on_stop:
            stop(name)

    with on_signals(handler):
        if not lock.acquire(utc_now()):
            if not standby:
                click.secho("error: ", fg="red", err=True, nl=False)
                click.echo(
                    f"another scheduler holds this store's lock: {lock.holder()}. "
                    "Stop it, or pass --standby to take over when it stops.",
                    err=True,
                )
                sys.exit(LOCK_HELD)
            from syndicate.scheduler import wait_for_lock

            if not wait_for_lock(lock, stopping):
                return  # stopped while waiting
        with lock:
            if once:
                _once(app, workers)
                return
            code = _daemon(app, lock, stopping, on_stop, serve, host, port)
    sys.exit(code)


def _once(app: AppContext, workers: int) -> None:
    from syndicate.scheduler import run_once

    report = run_once(app.store(), app.settings)
    sources = report.sources
    fetched = [r for r in sources if not r.skipped_not_due]
    new = sum(r.new + r.updated for r in sources)
    console.print(
        f"sources: {len(fetched)} polled, {len(sources) - len(fetched)} not due, "
        f"{plural(new, 'new or updated article')}, {sum(r.failed for r in sources)} failed"
    )
    for r in sources:
        if r.error:
            click.secho("error: ", fg="red", err=True, nl=False)
            click.echo(f"{r.name}: {r.error}", err=True)
    if report.build is not None:
        written = sum(
            1 for c in report.build.channels for v in c.formats.values() if v == "written"
        )
        console.print(f"feeds: {written} written, {len(report.build.channels)} channels")
    for e in report.editions:
        detail = f" (edition {e.edition_id}, {e.queued} queued)" if e.edition_id else ""
        console.print(f"digest {e.schedule} @ {e.slot:%Y-%m-%d %H:%M} UTC: {esc(e.status)}{detail}")
    from syndicate.cli.delivery import run_dispatch  # the delivery stack: on use
    from syndicate.cli.failures import nothing_sent

    dispatched = run_dispatch(app, None, workers)
    if report.failed or dispatched.paused or nothing_sent(dispatched):
        sys.exit(1)


def _daemon(
    app: AppContext,
    lock: SchedulerLock,
    stopping: threading.Event,
    on_stop: list[Callable[[str], None]],
    serve: bool,
    host: str,
    port: int,
) -> int:
    from syndicate.scheduler import Daemon

    daemon = Daemon(app.store(), app.settings, lock)
    server = _web_server(app, host, port) if serve else None

    def stop(name: str) -> None:
        daemon.stop(f"{name} received")
        if server is not None:
            server.should_exit = True

    on_stop.append(stop)
    if stopping.is_set():  # a signal came while the lock was being taken
        stop("signal")
    thread = None
    if server is not None:
        thread = threading.Thread(target=server.run, name="web", daemon=True)
        thread.start()
        log.info("serving the web app on http://%s:%d", host, port)
    code = daemon.run()
    if server is not None and thread is not None:
        server.should_exit = True
        thread.join(app.settings.scheduler.shutdown_seconds)
    if daemon.unfinished:
        # A job thread is still running (a slow fetch, a stuck connection): exiting
        # normally would wait for it. Its leases expire and the next run retries.
        logging.shutdown()
        os._exit(code)
    return code


def _web_server(app: AppContext, host: str, port: int) -> Any:
    import uvicorn

    from syndicate.web import create_app, server_config

    return uvicorn.Server(server_config(create_app(app.settings), host, port))
