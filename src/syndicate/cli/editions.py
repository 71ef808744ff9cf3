"""``syndicate editions``: the composed editions, and what became of their deliveries."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from syndicate.cli.app import AppContext, cli, console, pass_app, plural, when
from syndicate.models import Article, utc_now

if TYPE_CHECKING:
    from syndicate.delivery import AudienceCounts
    from syndicate.store import Store
    from syndicate.store.editions import EditionListing, EditionRecord

# The store and the stages are imported by the commands that use them, so that `--help`
# loads none (tests/test_startup.py).

# The order statuses are printed in: the way a delivery goes.
STATUS_ORDER = ("queued", "sending", "sent", "deferred", "failed", "suppressed")


@cli.group()
def editions() -> None:
    """Look at editions; hold, approve, cancel and test-send them."""


@editions.command("list")
@click.option("--channel", metavar="NAME", help="Only this channel's editions.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one edition per line.")
@pass_app
def editions_list(app: AppContext, channel: str | None, limit: int | None, as_json: bool) -> None:
    """List editions, newest slot first, with their deliveries by status."""
    from syndicate.store.editions import OWN, edition_listings
    from syndicate.store.stats import delivery_counts_by_edition

    store = app.store()
    found = edition_listings(store, channel, limit)
    counts = delivery_counts_by_edition(store, [e.id for e in found])
    if as_json:
        for e in found:
            click.echo(json.dumps(_summary_json(e, counts.get(e.id, {})), ensure_ascii=False))
        return
    if not found:
        console.print(f"no editions{f' of {channel}' if channel else ''}", highlight=False)
        return
    table = Table(title=plural(len(found), "edition"), title_justify="left")
    for column in ("id", "channel", "slot", "status", "stories", "deliveries"):
        right = column in ("id", "stories")
        table.add_column(column, justify="right" if right else "left", no_wrap=True)
    table.add_column("subject", overflow="fold", min_width=20)
    for e in found:
        table.add_row(
            str(e.id),
            escape(e.channel if e.cadence == OWN else f"{e.channel} ({e.cadence})"),
            when(e.slot),
            e.status,
            str(e.stories),
            counts_text(counts.get(e.id, {})),
            escape(e.subject),  # upstream text: never read as markup
        )
    console.print(table)


@editions.command("show")
@click.argument("edition_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the edition as one JSON object.")
@pass_app
def editions_show(app: AppContext, edition_id: int, as_json: bool) -> None:
    """Show EDITION_ID: slot, cadence, status, subject, stories, related picks and its
    deliveries by status."""
    from syndicate.store.editions import articles_by_ids
    from syndicate.store.stats import delivery_counts_by_edition

    store = app.store()
    record = edition_or_exit(store, edition_id)
    stories = articles_by_ids(store, record.article_ids)
    related = articles_by_ids(store, record.related_ids)
    counts = delivery_counts_by_edition(store, [record.id]).get(record.id, {})
    if as_json:
        click.echo(json.dumps(_record_json(record, stories, related, counts), ensure_ascii=False))
        return
    lines = [
        f"edition {record.id}: {record.channel} ({record.cadence})",
        f"slot: {when(record.slot)}",
        f"status: {record.status}, composed {when(record.created_at)}",
        f"subject: {record.subject}",
        f"preheader: {record.preheader or '-'}",
        f"deliveries: {counts_text(counts)}",
        f"stories ({len(stories)}):",
        *(f"  {i}. {a.title} [{a.section}]" for i, a in enumerate(stories, 1)),
        f"related picks ({len(related)}):",
        *(f"  - {a.title}" for a in related),
    ]
    for line in lines:
        # Plain text, not markup: titles and subjects come from upstream sources.
        console.print(line, markup=False, highlight=False)


def edition_or_exit(store: Store, edition_id: int) -> EditionRecord:
    """The edition with this id; a usage error (exit 2) naming the way to list them if
    there is none."""
    from syndicate.store.editions import get_edition_by_id

    record = get_edition_by_id(store, edition_id)
    if record is None:
        raise click.BadParameter(
            f"no edition {edition_id} (see 'syndicate editions list')", param_hint="EDITION_ID"
        )
    return record


def audience_text(counts: AudienceCounts, channel: str) -> str:
    """Who gets an edition and why the others do not, for ``digest send``: ``7 of 11
    subscribers get this edition; not sent to: 2 not subscribed to all, …``."""
    if counts.total == 0:
        return "no active subscribers yet: add some with 'syndicate subscribers add' or 'import'"
    verb = "gets" if counts.reached == 1 else "get"
    text = f"{counts.reached} of {plural(counts.total, 'subscriber')} {verb} this edition"
    reasons = [
        (counts.other_channel, f"not subscribed to {channel}"),
        (counts.other_cadence, "on another cadence"),
        (counts.no_sections, "with no story in their sections"),
    ]
    left_out = ", ".join(f"{n} {why}" for n, why in reasons if n)
    return f"{text}; not sent to: {left_out}" if left_out else text


def counts_text(counts: dict[str, int]) -> str:
    """``3 sent, 1 deferred`` in the order a delivery goes; ``none`` for no deliveries."""
    known = [s for s in STATUS_ORDER if counts.get(s)]
    others = sorted(s for s in counts if s not in STATUS_ORDER and counts[s])
    return ", ".join(f"{counts[s]} {s}" for s in known + others) or "none"


def _summary_json(e: EditionListing, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": e.id,
        "channel": e.channel,
        "cadence": e.cadence,
        "slot": e.slot.isoformat(),
        "status": e.status,
        "subject": e.subject,
        "stories": e.stories,
        "related": e.related,
        "created_at": e.created_at.isoformat(),
        "deliveries": counts,
    }


def _record_json(
    record: EditionRecord, stories: list[Article], related: list[Article], counts: dict[str, int]
) -> dict[str, Any]:
    def article(a: Article) -> dict[str, Any]:
        return {"id": a.id, "title": a.title, "section": a.section, "url": a.url}

    return {
        "id": record.id,
        "channel": record.channel,
        "cadence": record.cadence,
        "slot": record.slot.isoformat(),
        "status": record.status,
        "subject": record.subject,
        "preheader": record.preheader,
        "created_at": record.created_at.isoformat(),
        "stories": [article(a) for a in stories],
        "related": [article(a) for a in related],
        "missing_articles": len(record.article_ids)
        + len(record.related_ids)
        - len(stories)
        - len(related),
        "deliveries": counts,
    }


def _review_move(app: AppContext, edition_id: int, move: str, reason: str = "") -> None:
    """Hold, approve or cancel EDITION_ID as the command's user (audited)."""
    from syndicate.cli.operators import cli_actor
    from syndicate.digest import review
    from syndicate.digest.errors import ReviewError

    store = app.store()
    edition_or_exit(store, edition_id)
    now = utc_now()
    actor = cli_actor()
    try:
        if move == "hold":
            record = review.hold(store, edition_id, actor, now, reason)
        elif move == "approve":
            from syndicate.config import load_channels
            from syndicate.delivery.release import approve_and_release

            target = edition_or_exit(store, edition_id)
            channels = {c.name: c for c in load_channels(app.settings)}
            record, queued = approve_and_release(
                store, channels.get(target.channel), edition_id, actor, now
            )
            if queued:
                console.print(f"{plural(queued, 'delivery', 'deliveries')} queued", highlight=False)
        else:
            record = review.cancel(store, edition_id, actor, now, reason)
    except ReviewError as err:
        raise click.ClickException(str(err)) from err
    console.print(f"edition {record.id}: {record.status}", highlight=False)


@editions.command("hold")
@click.argument("edition_id", type=int)
@click.option("--reason", default="", help="Why, for the audit log and the console.")
@pass_app
def editions_hold(app: AppContext, edition_id: int, reason: str) -> None:
    """Hold the draft EDITION_ID: it is not sent until approved."""
    _review_move(app, edition_id, "hold", reason)


@editions.command("approve")
@click.argument("edition_id", type=int)
@pass_app
def editions_approve(app: AppContext, edition_id: int) -> None:
    """Approve (and freeze) EDITION_ID: it goes out at its slot, or now if that has passed."""
    _review_move(app, edition_id, "approve")


@editions.command("cancel")
@click.argument("edition_id", type=int)
@click.option("--reason", default="", help="Why, for the audit log and the console.")
@pass_app
def editions_cancel(app: AppContext, edition_id: int, reason: str) -> None:
    """Cancel the draft or held EDITION_ID: it is never sent."""
    _review_move(app, edition_id, "cancel", reason)


@editions.command("test-send")
@click.argument("edition_id", type=int)
@click.option("--to", "addresses", multiple=True, metavar="EMAIL", help="An address (repeatable).")
@click.option(
    "--section",
    "sections",
    multiple=True,
    metavar="NAME",
    help="Send the copy of readers who chose this section (repeatable) [default: all].",
)
@pass_app
def editions_test_send(
    app: AppContext, edition_id: int, addresses: tuple[str, ...], sections: tuple[str, ...]
) -> None:
    """Send EDITION_ID as a test to the channel's seed list and --to addresses."""
    from syndicate.cli.operators import cli_actor
    from syndicate.config import load_channels
    from syndicate.delivery import make_backend
    from syndicate.delivery.testsend import TestSendRefused, send_test

    settings = app.settings
    store = app.store()
    record = edition_or_exit(store, edition_id)
    channel = next((c for c in load_channels(settings) if c.name == record.channel), None)
    if channel is None:
        raise click.ClickException(f"edition {edition_id}'s channel {record.channel} is gone")
    to = [*channel.digest.test_addresses, *addresses]
    try:
        results = send_test(
            store,
            settings,
            channel,
            record,
            to,
            actor=cli_actor(),
            now=utc_now(),
            make_backend=lambda: make_backend(settings),
            sections=sections,
        )
    except TestSendRefused as err:
        raise click.ClickException(str(err)) from err
    failed = [r for r in results if r.status not in ("sent", "queued")]
    reached = plural(len(results) - len(failed), "address", "addresses")
    console.print(
        f"test of edition {record.id} sent to {reached}"
        + (f"; {len(failed)} not sent: {failed[0].error}" if failed else ""),
        markup=False,
        highlight=False,
    )
    if failed:
        raise SystemExit(1)
