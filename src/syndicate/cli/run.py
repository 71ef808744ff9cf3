"""``syndicate run --once``: everything that is due now, once (cron mode)."""

from __future__ import annotations

import sys

import click

from syndicate.cli.app import AppContext, cli, console, pass_app
from syndicate.cli.delivery import WORKERS, run_dispatch


@cli.command("run")
@click.option(
    "--once",
    is_flag=True,
    required=True,
    help="Do everything that is due now, then exit (for cron or a systemd timer).",
)
@WORKERS
@pass_app
def run_cmd(app: AppContext, once: bool, workers: int) -> None:
    """Ingest due sources, rebuild feeds, compose and send due digests, then exit.

    Run it every few minutes; a run straight after another does nothing. A schedule
    slot missed by more than its max_lateness_hours is skipped, never sent late.
    (The long-running daemon without --once is not built yet.)
    """
    from syndicate.jobs import run_once

    store = app.store()
    report = run_once(store, app.settings)
    sources = report.sources
    fetched = [r for r in sources if not r.skipped_not_due]
    new = sum(r.new + r.updated for r in sources)
    console.print(
        f"sources: {len(fetched)} polled, {len(sources) - len(fetched)} not due, "
        f"{new} new or updated articles, {sum(r.failed for r in sources)} failed"
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
        console.print(f"digest {e.channel} @ {e.slot:%Y-%m-%d %H:%M} UTC: {e.status}{detail}")
    dispatched = run_dispatch(app, None, workers)
    if report.failed or dispatched.paused:
        sys.exit(1)
