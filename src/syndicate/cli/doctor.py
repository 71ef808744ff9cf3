"""``syndicate doctor``: check DNS, one-click unsubscribe, feeds and the next edition."""

from __future__ import annotations

import click
from rich.table import Table

from syndicate.cli.app import AppContext, cli, console, pass_app, plural
from syndicate.cli.choices import DOCTOR_GROUPS
from syndicate.cli.text import cell

STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red"}


@cli.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="The results as one JSON document.")
@click.option(
    "--only",
    "only",
    type=click.Choice(DOCTOR_GROUPS),
    multiple=True,
    help="Run only this group of checks (repeatable) [default: all].",
)
@pass_app
def doctor_cmd(app: AppContext, as_json: bool, only: tuple[str, ...]) -> None:
    """Check DNS, one-click unsubscribe, feeds, the next edition and the warm-up.

    Each check passes, warns or fails, with the fix spelled out; the results are kept
    for /metrics. Exits 1 when any check fails.
    """
    from syndicate.doctor import GROUPS, run_doctor, save_report  # the checks: load on use

    settings = app.settings
    groups = tuple(g for g in GROUPS if g in only) if only else GROUPS
    report = run_doctor(settings, app.store, groups=groups)
    save_report(report, settings.resolve(settings.doctor.state_file))
    if as_json:
        click.echo(report.to_json())
    else:
        table = Table(title="syndicate doctor", title_justify="left", show_lines=True)
        table.add_column("status", no_wrap=True)
        table.add_column("check", no_wrap=True)
        table.add_column("target", overflow="fold", max_width=40)
        table.add_column("result", overflow="fold", min_width=30)
        table.add_column("fix", overflow="fold", min_width=30)
        for r in report.results:
            table.add_row(
                cell(r.status.upper(), STYLES[r.status]),
                cell(r.check),
                cell(r.target),
                cell(r.summary),
                cell(r.fix),
            )
        console.print(table)
        counts = report.counts()
        console.print(
            f"{plural(counts['pass'], 'pass', 'passes')}, {plural(counts['warn'], 'warning')}, "
            f"{plural(counts['fail'], 'failure')}",
            highlight=False,
        )
    if report.status == "fail":
        raise SystemExit(1)
