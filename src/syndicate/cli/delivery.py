"""Commands for subscribers, the outbox and sending: subscribers, dispatch, deliveries."""

from __future__ import annotations

import csv
import json
import multiprocessing
import multiprocessing.pool
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import click
from rich.table import Table

from syndicate.cli.app import AppContext, cli, console, err_console, pass_app, plural
from syndicate.cli.checks import check_sending
from syndicate.cli.digest import channel_named, digest
from syndicate.cli.editions import audience_text, edition_or_exit
from syndicate.cli.failures import nothing_sent, say_nothing_sent
from syndicate.cli.text import cell, esc
from syndicate.config import load_channels
from syndicate.delivery import (
    Dispatcher,
    DispatchReport,
    EditionMessages,
    enqueue_counted,
    make_backend,
)
from syndicate.digest import slot_for
from syndicate.models import Subscription, utc_now
from syndicate.store.delivery_schema import CADENCES, SUBSCRIBER_STATUSES
from syndicate.store.outbox import Outbox
from syndicate.store.subscribers import SubscriberStore
from syndicate.subscribers.roster import (
    CSV_COLUMNS,
    InvalidRow,
    check_timezone,
    export_rows,
    import_csv,
    normalise_email,
)


@cli.group()
def subscribers() -> None:
    """Add, import, export, list and remove subscribers."""


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="NAME",
    help="Channel (repeatable; default all).",
)
@click.option("--cadence", type=click.Choice(CADENCES), default="edition", show_default=True)
@click.option("--sections", default="", help="Only these sections, separated by ';'.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA timezone.")
@click.option(
    "--status", type=click.Choice(["active", "pending"]), default="active", show_default=True
)
@pass_app
def subscribers_add(
    app: AppContext,
    email: str,
    name: str,
    channels: tuple[str, ...],
    cadence: str,
    sections: str,
    timezone: str,
    status: str,
) -> None:
    """Add EMAIL (or update its subscriptions). Opted-out addresses are not re-added."""
    known = [c.name for c in load_channels(app.settings)]
    chosen = list(channels) or [c.name for c in load_channels(app.settings) if c.digest.enabled]
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise click.BadParameter(f"unknown channel {unknown[0]!r}", param_hint="--channel")
    try:
        address = normalise_email(email)
        check_timezone(timezone)
    except InvalidRow as err:
        raise click.BadParameter(str(err)) from err
    picked = tuple(s.strip() for s in sections.split(";") if s.strip())
    outcome = SubscriberStore(app.store()).upsert(
        address,
        name=name,
        status=status,
        timezone=timezone,
        subs=[Subscription(c, cadence, picked) for c in chosen],
        now=utc_now(),
        consent={"source": "cli"},
    )
    console.print(f"{esc(address)}: {outcome}")
    if outcome in ("suppressed", "refused"):
        sys.exit(1)


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--channel", help="Channel for rows whose 'channels' column is empty.")
@click.option(
    "--status", type=click.Choice(["active", "pending"]), default="active", show_default=True
)
@pass_app
def subscribers_import(app: AppContext, file: Path, channel: str | None, status: str) -> None:
    """Import FILE (CSV: email, name, channels, cadence, sections, timezone).

    Bad rows are reported with their line numbers and skipped; the rest are imported.
    Importing the same file again changes nothing. Exits 1 if any row was bad.
    """
    known = [c.name for c in load_channels(app.settings)]
    if channel is not None and channel not in known:
        raise click.BadParameter(f"unknown channel {channel!r}", param_hint="--channel")
    report = import_csv(
        SubscriberStore(app.store()),
        file,
        known_channels=known,
        default_channel=channel,
        status=status,
        now=utc_now,
    )
    for line, reason in report.errors:
        click.secho("error: ", fg="red", err=True, nl=False)
        click.echo(f"{file}:{line}: {reason}", err=True)
    console.print(
        f"imported {esc(file.name)}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.suppressed} suppressed, "
        f"{report.refused} opted out, {plural(len(report.errors), 'bad row')}"
    )
    if report.errors:
        sys.exit(1)


@subscribers.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8"), default="-")
@click.option("--status", type=click.Choice(SUBSCRIBER_STATUSES), help="Only this status.")
@pass_app
def subscribers_export(app: AppContext, file: TextIO, status: str | None) -> None:
    """Write subscribers as CSV (the import format) to FILE or standard output."""
    writer = csv.DictWriter(file, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(export_rows(SubscriberStore(app.store()), status))


@subscribers.command("list")
@click.option("--status", type=click.Choice(SUBSCRIBER_STATUSES), help="Only this status.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one subscriber per line.")
@pass_app
def subscribers_list(app: AppContext, status: str | None, as_json: bool) -> None:
    """List subscribers and their subscriptions."""
    store = SubscriberStore(app.store())
    if as_json:
        for sub in store.iter_all(status=status):
            row = {
                "id": sub.id,
                "email": sub.email,
                "name": sub.name,
                "status": sub.status,
                "timezone": sub.timezone,
                "subscriptions": [
                    {"channel": s.channel, "cadence": s.cadence, "sections": list(s.sections)}
                    for s in sub.subscriptions
                ],
            }
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    table = Table(title="subscribers", title_justify="left")
    for column in ("email", "name", "status", "channels"):
        table.add_column(column, overflow="fold")
    for sub in store.iter_all(status=status):
        channels = ", ".join(f"{s.channel} ({s.cadence})" for s in sub.subscriptions)
        table.add_row(cell(sub.email), cell(sub.name), cell(sub.status), cell(channels))
    console.print(table)
    counts = store.counts()
    console.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no subscribers")


@subscribers.command("remove")
@click.argument("email")
@pass_app
def subscribers_remove(app: AppContext, email: str) -> None:
    """Delete EMAIL and its subscriptions and deliveries (to unsubscribe, use the link)."""
    try:
        address = normalise_email(email)
    except InvalidRow as err:
        raise click.BadParameter(str(err)) from err
    if not SubscriberStore(app.store()).remove(address):
        err_console.print(f"no subscriber {esc(address)}")
        sys.exit(1)
    console.print(f"removed {esc(address)}")


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
            report.last_error = one.last_error or report.last_error
    summary = ", ".join(f"{n} {s}" for s, n in sorted(report.counts.items())) or "nothing due"
    console.print(f"dispatch via {app.settings.delivery.backend}: {summary}")
    for channel in report.paused:
        click.secho("paused: ", fg="red", err=True, nl=False)
        click.echo(f"channel {channel} after repeated policy rejections", err=True)
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


WORKERS = click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Dispatch processes working side by side (use the machine's cores).",
)


@cli.command("dispatch")
@click.option("--edition", "edition_id", type=int, help="Only this edition's deliveries.")
@WORKERS
@pass_app
def dispatch_cmd(app: AppContext, edition_id: int | None, workers: int) -> None:
    """Send every delivery that is due (queued, or deferred and due again).

    SIGTERM or Ctrl-C stops after the batch in flight; its results are recorded. Exits
    1 when a channel was paused, or when there was mail to send and none of it could be
    sent (all deferred or failed), saying why.
    """
    report = run_dispatch(app, edition_id, workers)
    if report.paused or nothing_sent(report):
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
    store = app.store()
    if edition_id is not None:
        edition_or_exit(store, edition_id)
    outbox = Outbox(store)
    counts = outbox.status_counts(edition_id)
    paused = outbox.paused()
    if as_json:
        click.echo(json.dumps({"counts": counts, "paused": sorted(paused)}))
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


@deliveries.command("resume")
@click.argument("channel")
@pass_app
def deliveries_resume(app: AppContext, channel: str) -> None:
    """Lift the pause of CHANNEL after fixing what the provider complained about."""
    if Outbox(app.store()).resume(channel):
        console.print(f"channel {esc(channel)} resumed; run 'syndicate dispatch' to send")
    else:
        console.print(f"channel {esc(channel)} was not paused")


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
    from syndicate.digest.build import build_edition  # the composing stack: load on use

    settings = app.settings
    channel = channel_named(app, channel_name)
    check_sending(settings)  # before composing: nothing is queued for a broken backend
    now = utc_now()
    slot = now.replace(second=0, microsecond=0) if at_now else slot_for(channel.digest, now)
    store = app.store()
    built = build_edition(store, settings, channel, slot, save=True)
    if built is None or built.record is None:
        console.print(f"{channel.name}: no new articles for the slot {slot:%Y-%m-%d %H:%M} UTC")
        return
    record = built.record
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
    if report.paused or nothing_sent(report):
        sys.exit(1)
