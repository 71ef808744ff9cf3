"""Commands that publish feeds: ``build`` and ``serve``.

The stages they run (the feed builder, the web app) and rich are imported inside the
commands, so ``syndicate build --help`` and ``syndicate serve --help`` load neither
SQLAlchemy, pydantic nor Starlette (tests/test_startup.py).
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from syndicate.cli.app import AppContext, cli, pass_app, plural

if TYPE_CHECKING:
    from syndicate.feeds import BuildReport, ChannelReport

log = logging.getLogger("syndicate.serve")

PROGRESS_FROM = 3  # channels; fewer finish before a bar would be worth drawing


@cli.command("build")
@click.option(
    "--channel", "channels", multiple=True, metavar="NAME", help="Only this channel (repeatable)."
)
@click.option(
    "--repick",
    is_flag=True,
    help='Choose every item\'s embedded "More from" picks anew (related_in_content).',
)
@pass_app
def build_cmd(app: AppContext, channels: tuple[str, ...], repick: bool) -> None:
    """Write every channel's feeds (RSS, Atom, JSON Feed), archives and gzip copies.

    Files are rewritten only when their bytes change. Afterwards each changed feed's
    WebSub hubs are pinged; a hub that fails is retried on the next build and never
    fails this one. Prints a summary per channel and format; exits 1 if a channel
    could not be built. An item's "More from" picks are chosen once and kept; --repick
    chooses them all again (their items, and archive pages, change).
    """
    from syndicate.config import load_channels
    from syndicate.feeds import build

    settings = app.settings
    store = app.store()
    count = len(channels) or len(load_channels(settings))
    with _progress(count) as advance:
        report = build(store, settings, only=channels, on_channel=advance, repick=repick)
    _print_build(report)
    if report.failed:
        sys.exit(1)


@contextmanager
def _progress(total: int) -> Iterator[Callable[[ChannelReport], None]]:
    """A progress bar over channels, drawn only on a terminal and for several channels."""
    from syndicate.cli.progress import progress_bar

    progress = progress_bar("build", described=True, shown=total >= PROGRESS_FROM)
    with progress:
        task = progress.add_task("", total=total)

        def advance(report: ChannelReport) -> None:
            progress.update(task, advance=1, description=report.name)

        yield advance


def _print_build(report: BuildReport) -> None:
    from rich.table import Table

    from syndicate.cli.app import console
    from syndicate.cli.text import cell

    table = Table(title="build", title_justify="left")
    for column in ("channel", "format", "feed"):
        table.add_column(column)
    for column in ("items", "of", "archive pages", "pages written"):
        table.add_column(column, justify="right")
    for c in report.channels:
        if c.error:
            table.add_row(c.name, "-", cell(f"error: {c.error}", "red"), "", "", "", "")
            continue
        for fmt, status in c.formats.items():
            table.add_row(
                c.name,
                fmt,
                status,
                str(c.items),
                str(c.total),
                str(c.archive_pages),
                str(c.archives_written),
            )
    console.print(table)
    pings = report.pings
    if pings.sent or pings.failed:
        console.print(
            f"WebSub: {plural(len(pings.sent), 'ping')} sent, {len(pings.failed)} failed "
            "(retried on the next build)"
        )
    for ping, error in pings.failed:
        click.secho("warning: ", fg="yellow", err=True, nl=False)
        click.echo(f"WebSub hub {ping.hub} for {ping.url}: {error}", err=True)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="TCP port."
)
@click.option(
    "--access-log/--no-access-log", default=True, show_default=True, help="Log every request."
)
@pass_app
def serve_cmd(app: AppContext, host: str, port: int, access_log: bool) -> None:
    """Serve the built feeds over HTTP, with an index page at / and /healthz.

    Answers conditional GETs with 304, sends the prebuilt gzip copy to clients that
    accept it, and picks up rebuilt files without a restart. Run `syndicate build`
    to publish; put a TLS-terminating proxy in front for the public internet.
    """
    import uvicorn

    from syndicate.web import create_app, server_config

    settings = app.settings
    web_app = create_app(settings)
    output = settings.resolve(settings.output.dir)
    log.info("serving %s on http://%s:%d (Ctrl-C to stop)", output, host, port)
    config = server_config(web_app, host, port, access_log=access_log)
    # Everything loaded so far lives as long as the process: keep it out of the cyclic
    # garbage collector's full passes, which each request's few objects would otherwise
    # trigger over the whole heap of imported modules (docs/serving.md).
    gc.collect()
    gc.freeze()
    uvicorn.Server(config).run()
