"""Commands for the roster: subscribers (add, import, export, list, show, remove,
export-data, erase, sunset) and suppressions (import)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click
from rich.table import Table

from syndicate.cli.app import AppContext, cli, console, err_console, pass_app, plural, when
from syndicate.cli.choices import CADENCES, IMPORT_FORMATS, SUBSCRIBER_STATUSES
from syndicate.cli.text import cell, esc
from syndicate.models import Subscription, utc_now

if TYPE_CHECKING:
    from syndicate.subscribers.roster import ImportReport

# The roster and the store are imported by the commands that use them, so that `--help`
# loads neither (tests/test_startup.py).


@cli.group()
def subscribers() -> None:
    """Add, import, export, list and remove subscribers; their data and consent."""


def _address(email: str) -> str:
    from syndicate.subscribers.roster import InvalidRow, normalise_email

    try:
        return normalise_email(email)
    except InvalidRow as err:
        raise click.BadParameter(str(err), param_hint="EMAIL") from err


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
@click.option("--note", default="", help="Why: kept with the consent record (e.g. a ticket).")
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
    note: str,
) -> None:
    """Add EMAIL (or update its subscriptions). Opted-out addresses are not re-added."""
    from syndicate.config import load_channels
    from syndicate.store.subscribers import SubscriberStore
    from syndicate.subscribers.consent import operator_record
    from syndicate.subscribers.roster import InvalidRow, check_timezone

    known = [c.name for c in load_channels(app.settings)]
    chosen = list(channels) or [c.name for c in load_channels(app.settings) if c.digest.enabled]
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise click.BadParameter(f"unknown channel {unknown[0]!r}", param_hint="--channel")
    address = _address(email)
    try:
        check_timezone(timezone)
    except InvalidRow as err:
        raise click.BadParameter(str(err)) from err
    picked = tuple(s.strip() for s in sections.split(";") if s.strip())
    now = utc_now()
    outcome = SubscriberStore(app.store()).upsert(
        address,
        name=name,
        status=status,
        timezone=timezone,
        subs=[Subscription(c, cadence, picked) for c in chosen],
        now=now,
        consent={"source": "cli"},
        records=[operator_record(c, now, note=note) for c in chosen],
    )
    console.print(f"{esc(address)}: {outcome}")
    if outcome in ("suppressed", "refused"):
        sys.exit(1)


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--from",
    "fmt",
    type=click.Choice(IMPORT_FORMATS),
    default="csv",
    show_default=True,
    help="The tool FILE was exported from.",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="NAME",
    help="Channel for rows that name none and have no mapped tag (repeatable).",
)
@click.option(
    "--map-tag",
    "tag_map",
    multiple=True,
    metavar="TAG=CHANNEL[:SECTION]",
    help="Rows with TAG get CHANNEL (narrowed to SECTION) (repeatable).",
)
@click.option("--cadence", type=click.Choice(CADENCES), default="edition", show_default=True)
@click.option(
    "--status",
    type=click.Choice(["active", "pending"]),
    default="active",
    show_default=True,
    help="Status of rows whose file gives none (our CSV without a status column).",
)
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@pass_app
def subscribers_import(
    app: AppContext,
    file: Path,
    fmt: str,
    channels: tuple[str, ...],
    tag_map: tuple[str, ...],
    cadence: str,
    status: str,
    dry_run: bool,
) -> None:
    """Import FILE: our CSV, or a Substack, Ghost, Mailchimp, Buttondown or listmonk export.

    Unsubscribed, bounced, complained and cleaned rows become suppressions, and no
    import ever makes a suppressed or opted-out address active again. Bad rows are
    reported with file and line and skipped; the rest are imported. Importing the same
    file again changes nothing. Exits 1 if any row was bad.
    """
    from syndicate.config import load_channels
    from syndicate.subscribers.importers.apply import ImportOptions, parse_tag_map, run_import
    from syndicate.subscribers.roster import InvalidRow

    known = [c.name for c in load_channels(app.settings)]
    unknown = [c for c in channels if c not in known]
    if unknown:
        raise click.BadParameter(f"unknown channel {unknown[0]!r}", param_hint="--channel")
    try:
        mapping = parse_tag_map(tag_map)
    except InvalidRow as err:
        raise click.BadParameter(str(err), param_hint="--map-tag") from err
    options = ImportOptions(
        known_channels=known,
        default_channels=channels,
        tag_map=mapping,
        status=status,
        cadence=cadence,
    )
    report = run_import(app.store(), file, fmt, options, now=utc_now, dry_run=dry_run)
    for line, reason in report.errors:
        click.secho("error: ", fg="red", err=True, nl=False)
        click.echo(f"{file}:{line}: {reason}", err=True)
    if dry_run:
        for line, address, action in report.changes:
            console.print(f"would {esc(_verb(action))} {esc(address)} (line {line})")
    console.print(_summary(file, report, dry_run))
    if report.errors:
        sys.exit(1)


def _verb(action: str) -> str:
    if action.startswith("suppressed:"):
        return f"suppress as {action.split(':', 1)[1]}"
    return {
        "added": "add",
        "updated": "update",
        "suppressed": "skip (suppressed)",
        "refused": "skip (opted out)",
        "kept": "keep (opted in again later)",
    }.get(action, action)


def _summary(file: Path, report: ImportReport, dry_run: bool) -> str:
    head = "dry run, nothing changed" if dry_run else "imported"
    return (
        f"{head} {esc(file.name)}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.suppressions_added} newly suppressed, "
        f"{report.suppressed} suppressed, {report.refused} opted out, "
        f"{plural(len(report.errors), 'bad row')}"
    )


@subscribers.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8"), default="-")
@click.option("--status", type=click.Choice(SUBSCRIBER_STATUSES), help="Only this status.")
@pass_app
def subscribers_export(app: AppContext, file: TextIO, status: str | None) -> None:
    """Write subscribers as CSV (the import format) to FILE or standard output."""
    from syndicate.store.subscribers import SubscriberStore
    from syndicate.subscribers.roster import CSV_COLUMNS, export_rows

    writer = csv.DictWriter(file, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(export_rows(SubscriberStore(app.store()), status))


@subscribers.command("list")
@click.option("--status", type=click.Choice(SUBSCRIBER_STATUSES), help="Only this status.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one subscriber per line.")
@pass_app
def subscribers_list(app: AppContext, status: str | None, as_json: bool) -> None:
    """List subscribers and their subscriptions."""
    from syndicate.store.subscribers import SubscriberStore

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


@subscribers.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@pass_app
def subscribers_show(app: AppContext, email: str, as_json: bool) -> None:
    """Show EMAIL: status, subscriptions and how and when each was consented to."""
    from syndicate.store.consents import ConsentStore
    from syndicate.store.subscribers import SubscriberStore

    address = _address(email)
    store = app.store()
    people = SubscriberStore(store)
    sub = people.get(address)
    if sub is None:
        err_console.print(f"no subscriber {esc(address)}")
        sys.exit(1)
    records = ConsentStore(store).of(sub.id)
    if as_json:
        row = {
            "email": sub.email,
            "name": sub.name,
            "status": sub.status,
            "suppressed": people.is_suppressed(address),
            "subscriptions": [
                {"channel": s.channel, "cadence": s.cadence, "sections": list(s.sections)}
                for s in sub.subscriptions
            ],
            "consent": [r.as_json() for r in records],
        }
        click.echo(json.dumps(row, ensure_ascii=False))
        return
    console.print(f"{esc(sub.email)} {esc(sub.name)}".strip())
    suppressed = " (suppressed)" if people.is_suppressed(address) else ""
    console.print(f"status: {esc(sub.status)}{suppressed}; timezone {esc(sub.timezone)}")
    console.print(f"added {when(sub.created_at)}, confirmed {when(sub.confirmed_at)}")
    for s in sub.subscriptions:
        sections = f", sections {', '.join(s.sections)}" if s.sections else ""
        console.print(f"  {esc(s.channel)}: {esc(s.cadence)}{esc(sections)}")
    table = Table(title="consent", title_justify="left")
    for column in ("channel", "how", "source", "given", "confirmed", "detail"):
        table.add_column(column, overflow="fold")
    for r in records:
        detail = ", ".join(f"{k} {v}" for k, v in r.detail.items() if v not in ("", None))
        table.add_row(
            cell(r.channel or "-"),
            cell(r.method),
            cell(r.source),
            when(r.given_at),
            when(r.confirmed_at),
            cell(detail),
        )
    console.print(table if records else "no consent records")


@subscribers.command("remove")
@click.argument("email")
@pass_app
def subscribers_remove(app: AppContext, email: str) -> None:
    """Delete EMAIL and its subscriptions and deliveries (to unsubscribe, use the link)."""
    from syndicate.store.subscribers import SubscriberStore

    address = _address(email)
    if not SubscriberStore(app.store()).remove(address):
        err_console.print(f"no subscriber {esc(address)}")
        sys.exit(1)
    console.print(f"removed {esc(address)}")


@subscribers.command("export-data")
@click.argument("email")
@click.option(
    "--output",
    "-o",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="Write the JSON here (default: standard output).",
)
@pass_app
def subscribers_export_data(app: AppContext, email: str, output: TextIO) -> None:
    """Print everything held about EMAIL as JSON (no message bodies)."""
    from syndicate.subscribers.privacy import export_data

    address = _address(email)
    data = export_data(app.store(), address, utc_now())
    if data is None:
        err_console.print(f"nothing held about {esc(address)}")
        sys.exit(1)
    output.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@subscribers.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def subscribers_erase(app: AppContext, email: str, yes: bool) -> None:
    """Erase everything held about EMAIL; keep only a hash so it is never mailed again."""
    from syndicate.subscribers.privacy import erase

    address = _address(email)
    if not yes:
        click.confirm(f"Erase everything held about {address}?", abort=True)
    held = erase(app.store(), address, utc_now())
    said = "erased" if held else "nothing was held about"
    console.print(f"{said} {esc(address)}; its hash is kept so it is never mailed again")


@subscribers.command("sunset")
@click.option("--dry-run", is_flag=True, help="Report who would be cleaned; change nothing.")
@click.option(
    "--soft-bounce-days",
    type=click.IntRange(min=0),
    help="Override [subscribe] sunset_soft_bounce_days (0: off).",
)
@click.option(
    "--unconfirmed-days",
    type=click.IntRange(min=0),
    help="Override [subscribe] sunset_unconfirmed_days (0: off).",
)
@pass_app
def subscribers_sunset(
    app: AppContext,
    dry_run: bool,
    soft_bounce_days: int | None,
    unconfirmed_days: int | None,
) -> None:
    """Clean addresses that only soft-bounce, and sign-ups never confirmed."""
    from syndicate.subscribers.sunset import sunset

    rules = app.settings.subscribe
    bounce = rules.sunset_soft_bounce_days if soft_bounce_days is None else soft_bounce_days
    pending = rules.sunset_unconfirmed_days if unconfirmed_days is None else unconfirmed_days
    if not (bounce or pending):
        console.print(
            "sunset is off ([subscribe] sunset_soft_bounce_days and unconfirmed_days)",
            markup=False,
        )
        return
    report = sunset(
        app.store(),
        soft_bounce_days=bounce,
        unconfirmed_days=pending,
        now=utc_now(),
        dry_run=dry_run,
    )
    verb = "would clean" if dry_run else "cleaned"
    for address in report.soft_bounced:
        console.print(f"{verb} {esc(address)}: soft-bounced on every attempt for {bounce} days")
    for address in report.unconfirmed:
        console.print(f"{verb} {esc(address)}: not confirmed after {pending} days")
    console.print(f"{verb} {plural(report.total, 'address', 'addresses')}")


@cli.group()
def suppressions() -> None:
    """Import providers' suppression lists (bounces, complaints, unsubscribes)."""


@suppressions.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--provider",
    type=click.Choice(["postmark", "sendgrid", "mailgun", "ses"]),
    help="The provider FILE came from (default: known by its columns).",
)
@click.option(
    "--reason",
    type=click.Choice(["unsubscribed", "bounced", "complained"]),
    help="Suppress every row for this reason (default: what each row says).",
)
@click.option("--dry-run", is_flag=True, help="Count what would change; change nothing.")
@pass_app
def suppressions_import(
    app: AppContext, file: Path, provider: str | None, reason: str | None, dry_run: bool
) -> None:
    """Suppress every address in FILE, a Postmark, SendGrid, Mailgun or SES export.

    Bad rows are reported with file and line and skipped. Exits 1 if any row was bad.
    """
    from syndicate.subscribers.suppressions import import_suppressions

    report = import_suppressions(
        app.store(), file, provider=provider, reason=reason, now=utc_now, dry_run=dry_run
    )
    for line, why in report.errors:
        click.secho("error: ", fg="red", err=True, nl=False)
        click.echo(f"{file}:{line}: {why}", err=True)
    added = ", ".join(f"{n} {r}" for r, n in sorted(report.added.items())) or "none"
    head = "dry run, nothing changed" if dry_run else "imported"
    console.print(
        f"{head} {esc(file.name)} ({report.provider or 'unknown'}): newly suppressed "
        f"{added}; {report.already} already suppressed, "
        f"{plural(len(report.errors), 'bad row')}"
    )
    if report.errors:
        sys.exit(1)
