"""``syndicate digest``: look at editions before they are sent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from syndicate.cli.app import (
    DIGEST_COMMANDS,
    AppContext,
    LazyGroup,
    cli,
    console,
    pass_app,
    plural,
)
from syndicate.cli.text import cell
from syndicate.errors import ConfigError

if TYPE_CHECKING:
    from syndicate.config import ChannelConfig


@cli.group(cls=LazyGroup, lazy=DIGEST_COMMANDS)
def digest() -> None:
    """Compose and preview email digests."""


def channel_named(app: AppContext, name: str) -> ChannelConfig:
    """The configured channel called ``name``; a ConfigError naming the others if none."""
    from syndicate.config import load_channels

    channels = {c.name: c for c in load_channels(app.settings)}
    if name not in channels:
        known = ", ".join(sorted(channels)) or "none"
        raise ConfigError(f"no channel named {name!r} (configured: {known})")
    return channels[name]


def _parse_time(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint="--slot") from err
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@digest.command("preview")
@click.argument("channel_name", metavar="CHANNEL")
@click.option(
    "--slot",
    "slot_text",
    metavar="ISO-TIME",
    help="Preview the edition of the slot this time falls in [default: the next slot].",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the files [default: <output>/preview/<channel>/].",
)
@pass_app
def preview(
    app: AppContext, channel_name: str, slot_text: str | None, out_dir: Path | None
) -> None:
    """Write preview.html, preview.txt and preview.eml for CHANNEL's next edition.

    Uses real articles and a sample recipient; sends nothing and records nothing.
    Exits 1 when there is no edition (fewer new articles than min_items).
    """
    from syndicate.delivery.preview import write_preview
    from syndicate.digest import next_slot, slot_for
    from syndicate.digest.build import build_edition  # the composing stack: load on use

    settings = app.settings
    channel = channel_named(app, channel_name)
    now = datetime.now(UTC)
    if slot_text is None:
        slot = next_slot(channel.digest, now)
        if channel.digest.schedule == "on_new":
            slot = slot_for(channel.digest, now)
    else:
        slot = slot_for(channel.digest, _parse_time(slot_text))
    built = build_edition(app.store(), settings, channel, slot, save=False, rerender=True)
    if built is None:
        click.echo(
            f"no edition for {channel.name} at {slot.isoformat()}: fewer than "
            f"{plural(channel.digest.min_items, 'new article')}",
            err=True,
        )
        raise SystemExit(1)
    target = out_dir or settings.resolve(settings.output.dir) / "preview" / channel.name
    files = write_preview(
        settings,
        built.rendered,
        target,
        date=slot,
        channel=channel.name,
        channel_title=channel.title,
    )
    edition = built.edition
    # The preview shows the first related_k candidates: what a reader who received
    # none of them gets (the others are spares for those who did).
    shown = min(channel.digest.related_k, len(edition.related))
    spares = f" (of {len(edition.related)} candidates)" if len(edition.related) > shown else ""
    size = files.html.stat().st_size
    console.print(
        f"{channel.name} @ {slot.isoformat()}: {plural(len(edition.articles), 'story')}, "
        f"{shown} related{spares}, HTML {size:,} bytes",
        highlight=False,
    )
    console.print(cell(f"subject: {built.rendered.subject}"), highlight=False)
    for path in (files.html, files.text, files.eml):
        click.echo(str(path))
