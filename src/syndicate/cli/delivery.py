"""Commands for the outbox and sending: dispatch, deliveries, digest send."""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.pool
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from syndicate.cli.app import (
    WORKERS,
    AppContext,
    cli,
    console,
    err_console,
    pass_app,
    plural,
)
from syndicate.cli.digest import channel_named, digest
from syndicate.cli.editions import audience_text, edition_or_exit
from syndicate.cli.failures import nothing_sent, say_nothing_sent
from syndicate.cli.text import cell, esc
from syndicate.models import utc_now

if TYPE_CHECKING:
    from syndicate.delivery import DispatchReport

# The delivery stack and the store are imported by the commands that use them, so that
# `--help` loads neither (tests/test_startup.py).

# --- dispatch and deliveries -------------------------------------------------------------


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM/SIGINT, so a send stops between batches, not mid-batch."""
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum: int, _frame: object) -> None:
        err_console.print("stopping after the batch in flight…")
        stop.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _dispatch_here(app: AppContext, edition_id: int | None) -> DispatchReport:
    from syndicate.config import load_channels
    from syndicate.delivery import Dispatcher, EditionMessages, make_backend, sender_guards

    settings = app.settings
    store = app.store()
    channels = {c.name: c for c in load_channels(settings)}
    with stop_on_signals() as stop:
        backend = make_backend(settings)
        dispatcher = Dispatcher(
            store,
            backend,
            EditionMessages(store, settings, channels, parts=not backend.raw_only),
            settings.dispatch,
            stop=stop,
            **sender_guards(store, settings, lambda: make_backend(settings)),
        )
        return dispatcher.run(edition_id=edition_id)


def _worker(config_path: Path | None, edition_id: int | None) -> DispatchReport:
    """One dispatch process (``--workers``): its own store connection and backend."""
    app = AppContext(config_path)
    try:
        return _dispatch_here(app, edition_id)
    finally:
        app.close()


def _worker_pool(processes: int) -> multiprocessing.pool.Pool:
    """Processes for ``--workers``: forked where that is safe (POSIX, and no other thread
    running whose locks a child could inherit held), so they start with this process's
    modules loaded instead of importing them again; spawned otherwise. Each makes its
    own store connection and backend (:func:`_worker`), never using this process's."""
    method = "spawn"
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        method = "fork"
    return multiprocessing.get_context(method).Pool(processes)


def run_dispatch(app: AppContext, edition_id: int | None, workers: int = 1) -> DispatchReport:
    """Send what is due through the configured backend; print and return the report.

    With ``workers`` > 1, that many dispatchers work through the outbox side by side:
    this process and ``workers - 1`` more, each claiming its own batches (the claims
    never overlap), so building, signing and sending use every core. With ``[dispatch]
    queue = "celery"`` nothing is sent here: the due rows are published as tasks for
    ``syndicate worker`` processes.
    """
    from syndicate.delivery import DispatchReport

    if app.settings.dispatch.queue == "celery":
        _publish(app, edition_id)
        return DispatchReport()
    if workers <= 1:
        report = _dispatch_here(app, edition_id)
    else:
        report = DispatchReport()
        # The pool first: a forked worker must not inherit this process's stop handler.
        with _worker_pool(workers - 1) as pool, stop_on_signals():
            jobs = [
                pool.apply_async(_worker, (app.config_path, edition_id)) for _ in range(workers - 1)
            ]
            # This process is a worker too: it has everything loaded already, and
            # would otherwise only wait (a new process spends about a second importing).
            done = [_dispatch_here(app, edition_id)] + [job.get() for job in jobs]
        for one in done:
            report.counts.update(one.counts)
            report.rounds += one.rounds
            report.paused.extend(p for p in one.paused if p not in report.paused)
            report.paused_groups.extend(one.paused_groups)
            report.last_error = one.last_error or report.last_error
    summary = ", ".join(f"{n} {s}" for s, n in sorted(report.counts.items())) or "nothing due"
    console.print(f"dispatch via {app.settings.delivery.backend}: {summary}")
    for channel in report.paused:
        click.secho("paused: ", fg="red", err=True, nl=False)
        click.echo(f"channel {channel} after repeated policy rejections", err=True)
    for group in report.paused_groups:
        click.secho("paused: ", fg="red", err=True, nl=False)
        click.echo(f"recipient group {group} (see 'syndicate deliveries status')", err=True)
    if nothing_sent(report):
        say_nothing_sent(report)
    return report


def _publish(app: AppContext, edition_id: int | None) -> None:
    """``[dispatch] queue = "celery"``: hand what is due to the workers, ids only."""
    from syndicate.scale.publish import publish_due  # Celery: load only in this mode

    report = publish_due(app.store(), app.settings, utc_now(), edition_id=edition_id)
    queue = app.settings.celery.queue_name
    if report.tasks:
        console.print(
            f"queued for the workers: {plural(report.deliveries, 'delivery')} in "
            f"{plural(report.tasks, 'task')} on queue {queue!r}"
        )
    else:
        console.print("nothing due (rows already published are waiting for their workers)")


@cli.command("dispatch")
@click.option("--edition", "edition_id", type=int, help="Only this edition's deliveries.")
@WORKERS
@pass_app
def dispatch_cmd(app: AppContext, edition_id: int | None, workers: int) -> None:
    """Send every delivery that is due (queued, or deferred and due again).

    SIGTERM or Ctrl-C stops after the batch in flight; its results are recorded. Exits
    1 when a channel or a recipient group was paused, or when there was mail to send
    and none of it could be sent (all deferred or failed), saying why.
    """
    report = run_dispatch(app, edition_id, workers)
    if report.paused or report.paused_groups or nothing_sent(report):
        sys.exit(1)


@cli.group()
def deliveries() -> None:
    """Look at the outbox."""


@deliveries.command("status")
@click.argument("edition_id", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_app
def deliveries_status(app: AppContext, edition_id: int | None, as_json: bool) -> None:
    """Counts of deliveries by status, for EDITION_ID or for all editions."""
    from syndicate.delivery import deliveries_waiting
    from syndicate.store.outbox import Outbox

    store = app.store()
    if edition_id is not None:
        edition_or_exit(store, edition_id)
    outbox = Outbox(store)
    counts = outbox.status_counts(edition_id)
    paused = outbox.paused()
    waiting = deliveries_waiting(store, utc_now())
    if as_json:
        click.echo(
            json.dumps(
                {"counts": counts, "paused": sorted(paused), **waiting.as_dict()}, sort_keys=True
            )
        )
        return
    title = f"deliveries of edition {edition_id}" if edition_id else "deliveries"
    table = Table(title=title, title_justify="left")
    table.add_column("status")
    table.add_column("count", justify="right")
    for status in ("queued", "sending", "sent", "deferred", "failed", "suppressed"):
        table.add_row(status, str(counts.get(status, 0)))
    console.print(table)
    for channel, (when, why) in sorted(paused.items()):
        console.print(
            cell(f"channel {channel} paused since {when:%Y-%m-%d %H:%M} UTC: {why}", "red")
        )
    for line in waiting.lines():
        console.print(cell(line, "yellow"))


@deliveries.command("warmup")
@click.option("--off", is_flag=True, help="Drop the ramp doctor switched on.")
@pass_app
def deliveries_warmup(app: AppContext, off: bool) -> None:
    """Show the warm-up ramp in force and where it comes from; --off drops the one
    'syndicate doctor' switched on for a domain that had never sent."""
    from syndicate.delivery.warmup import Warmup, disable_warmup

    store = app.store()
    if off:
        if disable_warmup(store):
            console.print("warm-up switched off; deliveries go at full speed")
        else:
            console.print("no warm-up was switched on by doctor")
        if app.settings.delivery.warmup is not None:
            console.print(
                "[delivery] warmup is set in the settings and stays in force", markup=False
            )
        return
    configured = app.settings.delivery.warmup
    ramp = configured or Warmup(store, None).config()
    if ramp is None:
        console.print("no warm-up: deliveries go at full speed")
        return
    where = "[delivery] warmup" if configured is not None else "switched on by 'syndicate doctor'"
    console.print(
        f"warm-up ({where}): {ramp.start} a day per recipient group, the whole list after "
        f"{ramp.days} days",
        highlight=False,
        markup=False,
    )


@deliveries.command("resume")
@click.argument("name", metavar="CHANNEL|GROUP")
@pass_app
def deliveries_resume(app: AppContext, name: str) -> None:
    """Lift the pause of a channel, or of a recipient group (gmail, microsoft, yahoo,
    other) a circuit breaker paused, after fixing what the provider complained about."""
    from syndicate.store.domain_groups import GROUPS, GroupPauses
    from syndicate.store.outbox import Outbox

    store = app.store()
    if name in GROUPS:
        if GroupPauses(store).resume(name):
            console.print(f"group {esc(name)} resumed; run 'syndicate dispatch' to send")
        else:
            console.print(f"group {esc(name)} was not paused")
    if Outbox(store).resume(name):
        console.print(f"channel {esc(name)} resumed; run 'syndicate dispatch' to send")
    elif name not in GROUPS:
        console.print(f"channel {esc(name)} was not paused")


@digest.command("send")
@click.argument("channel_name", metavar="CHANNEL")
@click.option(
    "--now",
    "at_now",
    is_flag=True,
    help="An edition for this minute, outside the schedule [default: the due slot].",
)
@WORKERS
@pass_app
def digest_send(app: AppContext, channel_name: str, at_now: bool, workers: int) -> None:
    """Compose CHANNEL's due edition, enqueue it for its subscribers, and send it.

    The due edition is the one of the latest schedule slot. Each subscriber gets each
    edition once: running this again sends nothing new. Exits 0 when there is nothing
    new to send, 1 when nothing of it could be sent (all deferred or failed), and 2 for
    a backend that cannot be built (checked before anything is composed or queued).
    """
    from syndicate.cli.checks import check_sending
    from syndicate.delivery import enqueue_counted
    from syndicate.digest import slot_for
    from syndicate.digest.build import build_edition  # the composing stack: load on use
    from syndicate.digest.review import initial_status
    from syndicate.store.editions import FROZEN, UNDER_REVIEW

    settings = app.settings
    channel = channel_named(app, channel_name)
    check_sending(settings)  # before composing: nothing is queued for a broken backend
    now = utc_now()
    slot = now.replace(second=0, microsecond=0) if at_now else slot_for(channel.digest, now)
    store = app.store()
    built = build_edition(store, settings, channel, slot, save=True, status=initial_status(channel))
    if built is None or built.record is None:
        console.print(f"{channel.name}: no new articles for the slot {slot:%Y-%m-%d %H:%M} UTC")
        return
    record = built.record
    if record.status not in FROZEN:
        console.print(
            f"{channel.name}: edition {record.id} is {record.status}, not sent"
            + (
                f"; approve it with 'syndicate editions approve {record.id}'"
                if record.status in UNDER_REVIEW
                else ""
            ),
            highlight=False,
        )
        return
    added, counts = enqueue_counted(store, channel, record, now)
    state = "composed" if built.created else "already composed"
    console.print(
        f"{channel.name}: edition {record.id} ({state}) for {slot:%Y-%m-%d %H:%M} UTC, "
        f"{plural(len(record.article_ids), 'story')}; "
        f"{plural(added, 'new delivery', 'new deliveries')} queued",
        highlight=False,
    )
    console.print(audience_text(counts, channel.name))
    report = run_dispatch(app, record.id, workers)
    if report.paused or report.paused_groups or nothing_sent(report):
        sys.exit(1)
