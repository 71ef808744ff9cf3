"""``syndicate channels pause | resume``: stop and restart a channel's sending by hand
(the console's Pause and Resume), recorded in the audit log."""

from __future__ import annotations

import click

from syndicate.cli.app import AppContext, cli, console, pass_app
from syndicate.cli.digest import channel_named
from syndicate.cli.operators import cli_actor
from syndicate.cli.text import esc
from syndicate.models import utc_now

# The store is imported by the commands that use it, so that `--help` loads no stage
# (tests/test_startup.py).


@cli.group()
def channels() -> None:
    """Pause and resume a channel's sending."""


@channels.command("pause")
@click.argument("channel_name", metavar="CHANNEL")
@click.option("--reason", default="", help="Why, shown in the console and the audit log.")
@pass_app
def channels_pause(app: AppContext, channel_name: str, reason: str) -> None:
    """Pause CHANNEL's sending: nothing of it is sent until it is resumed."""
    from syndicate.store.operators import Operators
    from syndicate.store.oversight import pause_channel

    channel = channel_named(app, channel_name)
    store = app.store()
    now = utc_now()
    why = reason or f"paused by {cli_actor()}"
    if not pause_channel(store, channel.name, why, now):
        console.print(f"channel {esc(channel.name)} was paused already")
        return
    Operators(store).audit(
        cli_actor(),
        "channel.pause",
        channel.name,
        now,
        before={"paused": False},
        after={"paused": True, "reason": why},
    )
    console.print(f"channel {esc(channel.name)} paused")


@channels.command("resume")
@click.argument("channel_name", metavar="CHANNEL")
@pass_app
def channels_resume(app: AppContext, channel_name: str) -> None:
    """Resume CHANNEL's sending (a pause by hand or by policy failures)."""
    from syndicate.store.operators import Operators
    from syndicate.store.outbox import Outbox

    channel = channel_named(app, channel_name)
    store = app.store()
    paused = Outbox(store).paused()
    if not Outbox(store).resume(channel.name):
        console.print(f"channel {esc(channel.name)} was not paused")
        return
    Operators(store).audit(
        cli_actor(),
        "channel.resume",
        channel.name,
        utc_now(),
        before={"paused": True, "reason": paused.get(channel.name, (None, ""))[1]},
        after={"paused": False},
    )
    console.print(f"channel {esc(channel.name)} resumed")
