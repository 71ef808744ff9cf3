"""``syndicate related``: an article's "More from" picks and why; ``related reindex``.

``related ARTICLE`` is short for ``related show ARTICLE``: any first word that is not a
subcommand is the article (an id, a URL or a slug).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from syndicate.cli.app import AppContext, cli, console, pass_app, plural
from syndicate.cli.progress import progress_bar
from syndicate.cli.text import cell
from syndicate.models import utc_now

if TYPE_CHECKING:
    from syndicate.config import ChannelConfig


class _ArticleOrCommand(click.Group):
    """A group whose first argument is a subcommand or, failing that, an article."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@cli.group("related", cls=_ArticleOrCommand)
def related() -> None:
    """Show an article's "More from" picks and why; embed articles (reindex).

    \b
    syndicate related ARTICLE [--json] [--channel NAME]   its picks, each signal's part,
                      [--subscriber EMAIL]                and the refused candidates
    syndicate related --all --json                        every article's, one per line
    syndicate related reindex [--all]                     embed what is missing or stale
    """


@related.command("show")
@click.argument("article", required=False)
@click.option("--all", "every", is_flag=True, help="Every article (with --json: one per line).")
@click.option("--json", "as_json", is_flag=True, help="JSON: one object per article.")
@click.option("--channel", metavar="NAME", help="Rank as NAME's digest does (pool and bans).")
@click.option("-k", "k", type=click.IntRange(1, 12), help="Picks [default: the digest's, 4].")
@click.option(
    "--subscriber",
    metavar="EMAIL",
    help="Leave out what EMAIL already received (per-reader memory; reason 'memory').",
)
@pass_app
def show(
    app: AppContext,
    article: str | None,
    every: bool,
    as_json: bool,
    channel: str | None,
    k: int | None,
    subscriber: str | None,
) -> None:
    """ARTICLE's picks (by id, URL or slug), each signal's part, and why the
    best-scoring refused candidates were refused."""
    from syndicate.related import RelatedIndex
    from syndicate.related.explain import audit_pool, explain_all
    from syndicate.related.semantic import index_inputs
    from syndicate.store.lookup import find_articles

    if every == bool(article):
        raise click.UsageError("name one ARTICLE, or --all")
    if every and not as_json:
        raise click.UsageError("--all prints JSON lines: add --json")
    settings = app.settings
    store = app.store()
    config = _channel(app, channel) if channel else None
    now = utc_now()
    pool, banned = audit_pool(store, settings, config, now)
    remembered = _remembered(app, subscriber, config, now) if subscriber else frozenset()
    if every:
        stories = sorted(pool, key=lambda a: a.id)
    else:
        assert article is not None
        stories = find_articles(store, article)
        if not stories:
            raise click.BadParameter(f"no article with id, URL or slug {article!r}")
        if len(stories) > 1:
            ids = ", ".join(a.id for a in stories)
            raise click.BadParameter(f"{article!r} names several articles ({ids}): give an id")
    index = RelatedIndex(pool, **index_inputs(store, settings, [a.id for a in pool], stories))
    picks = k or (config.digest.related_k if config and config.digest.related_k else 4)
    explanations = explain_all(
        index,
        stories,
        picks,
        banned=banned,
        not_related_sources=settings.not_related_sources(),
        remembered=remembered,
        reference=now,
        channel=channel,
    )
    if as_json:
        with _progress(len(stories) if every else 0) as advance:
            for explanation in explanations:
                click.echo(json.dumps(explanation.to_json(), ensure_ascii=False))
                advance()
        return
    for explanation in explanations:
        _print(explanation.to_json())


def _remembered(
    app: AppContext, email: str, config: ChannelConfig | None, now: datetime
) -> frozenset[str]:
    """What ``email`` received within the memory window (the channel's, else 60 days)."""
    from syndicate.store.ledger import Ledger
    from syndicate.store.subscribers import SubscriberStore

    store = app.store()
    found = SubscriberStore(store).get(email)
    if found is None:
        raise click.BadParameter(f"no subscriber {email!r}", param_hint="--subscriber")
    days = config.digest.related_memory_days if config else 60
    if days <= 0:
        return frozenset()
    received = Ledger(store).received([found.id], now - timedelta(days=days))
    return frozenset(received[found.id])


def _channel(app: AppContext, name: str) -> ChannelConfig:
    from syndicate.config import load_channels

    channels = {c.name: c for c in load_channels(app.settings)}
    if name not in channels:
        known = ", ".join(sorted(channels)) or "none"
        raise click.BadParameter(f"no channel {name!r} (channels: {known})", param_hint="--channel")
    return channels[name]


def _print(data: dict[str, Any]) -> None:
    story = data["article"]
    console.print(cell(f"{story['title']}  ({story['id']})", "bold"))
    for title, rows, last in (
        (plural(len(data["picks"]), "pick"), data["picks"], "pinned"),
        (plural(len(data["excluded"]), "refused candidate"), data["excluded"], "reason"),
    ):
        table = Table(title=title, title_justify="left")
        table.add_column("title", overflow="fold")
        for name in ("text", "section", "tag", "author", "semantic", "decay", "total"):
            table.add_column(name, justify="right")
        table.add_column(last)
        for row in rows:
            parts = row["signals"]
            table.add_row(
                cell(row["title"]),
                *(f"{parts[n]:.3f}" for n in ("text", "section", "tag", "author", "semantic")),
                f"{parts['decay']:.3f}",
                f"{parts['total']:.3f}",
                cell(row.get("reason") or ("yes" if row.get("pinned") else "")),
            )
        console.print(table)


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    """A progress bar on standard error when it is a terminal (standard output stays
    the JSON lines)."""
    progress = progress_bar("related", shown=bool(total))
    with progress:
        task = progress.add_task("", total=total)
        yield lambda: progress.update(task, advance=1)


@related.command("reindex")
@click.option("--all", "redo", is_flag=True, help="Embed every article again, fresh or not.")
@pass_app
def reindex(app: AppContext, redo: bool) -> None:
    """Embed the articles whose embedding is missing or stale (edited since, or made by
    another model), for [related] semantic. Needs pip install 'syndicate[semantic]'."""
    from syndicate.ingest.embeddings import refresh
    from syndicate.related.semantic import MODEL_NAME, Model, require
    from syndicate.store.embeddings import count_stale

    require()
    store = app.store()
    total = count_stale(store, MODEL_NAME, redo=redo)
    progress = progress_bar("reindex")
    with progress:
        task = progress.add_task("", total=total)
        done = refresh(
            store, Model(), redo=redo, on_progress=lambda n: progress.update(task, advance=n)
        )
    console.print(f"embedded {plural(done, 'article')} with {MODEL_NAME}")
    if not app.settings.related.semantic:
        click.echo("note: [related] semantic is off: digests do not use them yet", err=True)
