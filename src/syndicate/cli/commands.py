"""Commands over the store and sources: ingest, articles, sources, db, config."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from syndicate.cli.app import AppContext, cli, console, pass_app, plural, when
from syndicate.cli.progress import progress_bar
from syndicate.cli.text import cell
from syndicate.errors import ConfigError
from syndicate.models import Article

if TYPE_CHECKING:
    from syndicate.ingest import SourceReport
    from syndicate.store import Store

# The stages are imported by the commands that run them, so that `--help` loads none
# (tests/test_startup.py).

# --- ingest ------------------------------------------------------------------------------


@cli.command("ingest")
@click.option(
    "--source", "sources", multiple=True, metavar="NAME", help="Only this source (repeatable)."
)
@click.option("--due", is_flag=True, help="Only sources whose next poll time has come.")
@click.option(
    "--full", is_flag=True, help="Re-read everything, ignoring ETags and unchanged-file caches."
)
@click.option(
    "--create", is_flag=True, help="Create the store (and its folder) if it does not exist."
)
@pass_app
def ingest_cmd(
    app: AppContext, sources: tuple[str, ...], due: bool, full: bool, create: bool
) -> None:
    """Read new and changed articles from the configured sources.

    Prints a summary per source; exits 1 if any source failed. A SQLite store whose
    folder does not exist is an error (exit 3) unless --create or [store] create.
    """
    from syndicate.ingest import ingest
    from syndicate.related.semantic import for_settings

    settings = app.settings
    store = app.store(create=create)
    names = list(sources) or [s.name for s in settings.sources if s.enabled]
    with _progress(len(names)) as advance:
        reports = ingest(
            store,
            settings,
            only=sources or None,
            force=not due,
            on_progress=advance,
            embedder=for_settings(settings),
        )
    _index_terms(store)
    _print_ingest(reports)
    if any(r.failed for r in reports):
        sys.exit(1)


def _progress(total: int) -> Any:
    """A progress bar over sources (hidden when output is not a terminal)."""
    from contextlib import contextmanager

    @contextmanager
    def bar() -> Any:
        progress = progress_bar("ingest", described=True)
        with progress:
            task = progress.add_task("", total=total)

            def advance(report: SourceReport) -> None:
                progress.update(task, advance=1, description=report.name)

            yield advance

    return bar()


def _print_ingest(reports: list[SourceReport]) -> None:
    table = Table(title="ingest", title_justify="left")
    for column in ("source", "kind"):
        table.add_column(column)
    for column in ("new", "updated", "unchanged", "warnings"):
        table.add_column(column, justify="right")
    table.add_column("status")
    for r in reports:
        if r.error:
            status = cell(f"error: {r.error}", "red")
        elif r.skipped_not_due:
            status = cell("not due")
        elif r.not_modified:
            status = cell("not modified")
        else:
            status = cell("ok")
        table.add_row(
            cell(r.name),
            cell(r.kind),
            str(r.new),
            str(r.updated),
            str(r.unchanged),
            str(len(r.warnings)),
            status,
        )
    console.print(table)
    for r in reports:
        for warning in r.warnings:
            click.secho("warning: ", fg="yellow", err=True, nl=False)
            click.echo(f"{r.name}: {warning}", err=True)


# --- articles ----------------------------------------------------------------------------


@cli.group()
def articles() -> None:
    """Look at the articles in the store."""


@articles.command("list")
@click.option("--section", help="Only this section (case-insensitive).")
@click.option("--source", help="Only articles from this source.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one article per line.")
@pass_app
def articles_list(
    app: AppContext, section: str | None, source: str | None, limit: int | None, as_json: bool
) -> None:
    """List articles, newest first."""
    items = app.store().list_articles(section=section, source=source, limit=limit)
    if as_json:
        for article in items:
            click.echo(json.dumps(_article_json(article), ensure_ascii=False))
        return
    table = Table(title=plural(len(items), "article"), title_justify="left")
    for column in ("published", "section", "title", "authors", "id"):
        table.add_column(column, overflow="fold")
    for a in items:
        table.add_row(
            when(a.published_at),
            cell(a.section),
            cell(a.title),
            cell(", ".join(x.name for x in a.authors if x.name)),
            cell(a.id),
        )
    console.print(table)


def _article_json(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "source": article.source,
        "url": article.url,
        "title": article.title,
        "dek": article.dek,
        "section": article.section,
        "tags": list(article.tags),
        "authors": [{"name": a.name, "bio": a.bio, "url": a.url} for a in article.authors],
        "image": None
        if article.image is None
        else {
            "url": article.image.url,
            "alt": article.image.alt,
            "credit": article.image.credit,
            "caption": article.image.caption,
            "width": article.image.width,
            "height": article.image.height,
        },
        "featured": article.featured,
        "published_at": article.published_at.isoformat(),
        "updated_at": article.updated_at.isoformat(),
        "content_hash": article.content_hash,
    }


# --- sources -----------------------------------------------------------------------------


@cli.group()
def sources() -> None:
    """Look at the configured sources and their state."""


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one source per line.")
@pass_app
def sources_list(app: AppContext, as_json: bool) -> None:
    """Each source with its state: last success, errors, next poll."""
    states = app.store().list_source_states()
    rows = []
    for src in app.settings.sources:
        state, error_at = states.get(src.name, (None, None))
        rows.append(
            {
                "name": src.name,
                "kind": src.kind,
                "enabled": src.enabled,
                "last_success_at": _iso(state.last_success_at if state else None),
                "consecutive_errors": state.consecutive_errors if state else 0,
                "last_error": state.last_error if state else None,
                "last_error_at": _iso(error_at),
                "next_poll_at": _iso(state.next_poll_at if state else None),
            }
        )
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    table = Table(title="sources", title_justify="left")
    for column in ("name", "kind", "state", "last success", "next poll", "last error"):
        table.add_column(column, overflow="fold")
    for row in rows:
        if not row["enabled"]:
            state_text = cell("disabled")
        elif row["consecutive_errors"]:
            state_text = cell(f"failing ({row['consecutive_errors']}×)", "red")
        elif row["last_success_at"]:
            state_text = cell("ok")
        else:
            state_text = cell("never polled")
        table.add_row(
            cell(row["name"]),
            cell(row["kind"]),
            state_text,
            when(row["last_success_at"]),
            when(row["next_poll_at"]),
            cell(row["last_error"] or ""),
        )
    console.print(table)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


# --- db and config -----------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Manage the store's schema."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: AppContext) -> None:
    """Create the store if needed and apply pending migrations.

    Every command also migrates on first use; only this one (and ingest --create)
    creates a SQLite store whose folder does not exist yet.
    """
    from syndicate.store import current_revision, head_revision

    store = app.store(upgrade=False, create=True)
    before = current_revision(store.engine)
    ran = store.upgrade_if_needed()
    head = head_revision()
    if ran:
        console.print(f"store migrated from {before or 'empty'} to {head}")
    else:
        console.print(f"store already at {head}")
    indexed = _index_terms(store)
    if indexed:
        console.print(f"related index: {plural(indexed, 'article')} indexed")


def _index_terms(store: Store) -> int:
    """Fill the related index's term vectors (syndicate.related.sync) with a progress bar."""
    from syndicate.related.sync import sync_terms  # numpy: load on use

    progress = progress_bar("related index")
    with progress:
        task = progress.add_task("", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return sync_terms(store, on_progress=advance)


@db.command("status")
@pass_app
def db_status(app: AppContext) -> None:
    """Print the store's migration and article count."""
    from syndicate.store import current_revision, head_revision

    store = app.store(upgrade=False)
    current = current_revision(store.engine)
    console.print(f"revision: {current or 'empty'} (newest: {head_revision()})")
    if current is not None:
        console.print(f"articles: {store.count_articles()}")


@cli.group("config")
def config_group() -> None:
    """Check the configuration."""


@config_group.command("check")
@pass_app
def config_check(app: AppContext) -> None:
    """Validate syndicate.toml, feeds/*.toml and everything a send needs.

    Checks the delivery backend and its [delivery.<backend>] table, the DKIM key and
    the digest templates; prints the file it read and what it found. Exits 2 on any
    problem, listing each one.
    """
    from syndicate.cli.checks import sending_problems, template_problems
    from syndicate.config import find_config, load_channels

    path = find_config(app.config_path)
    settings = app.settings
    channels = load_channels(settings)
    console.print(cell(f"config: {path}"))
    console.print(cell(f"sources: {', '.join(s.name for s in settings.sources) or 'none'}"))
    console.print(cell(f"channels: {', '.join(c.name for c in channels) or 'none'}"))
    console.print(cell(f"backend: {settings.delivery.backend}"))
    problems = sending_problems(settings) + template_problems(settings, channels)
    if problems:
        raise ConfigError(f"{path}: cannot send", problems)
    console.print("[green]configuration is valid")
