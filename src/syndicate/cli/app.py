"""The root command group and what every command shares (settings, store, consoles).

Command modules import ``cli``, ``pass_app`` and the consoles from here. The root group
knows every command by name (:data:`COMMANDS`) and imports a command's module only when
that command runs or shows its own help, so ``syndicate --help`` loads neither rich,
pydantic nor SQLAlchemy. The consoles are made on first use for the same reason.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from syndicate import __version__
from syndicate.logs import LogFormat
from syndicate.logs import configure as configure_logging

if TYPE_CHECKING:
    from rich.console import Console

    from syndicate.config import Settings
    from syndicate.store import Store

    # Made on first use by __getattr__ below; declared here for the type checker.
    console: Console
    err_console: Console

# Every command of the root group: name → ("module:attribute", its short help). The
# short help is what ``syndicate --help`` prints without importing the module;
# tests/test_cli.py checks it against the command's own.
COMMANDS: dict[str, tuple[str, str]] = {
    "articles": ("syndicate.cli.commands:articles", "Look at the articles in the store."),
    "build": (
        "syndicate.cli.feeds:build_cmd",
        "Write every channel's feeds (RSS, Atom, JSON Feed), archives and gzip copies.",
    ),
    "channels": ("syndicate.cli.channels:channels", "Pause and resume a channel's sending."),
    "config": ("syndicate.cli.commands:config_group", "Check the configuration."),
    "db": ("syndicate.cli.commands:db", "Manage the store's schema."),
    "deliveries": ("syndicate.cli.delivery:deliveries", "Look at the outbox."),
    "digest": ("syndicate.cli.digest:digest", "Compose and preview email digests."),
    "dispatch": (
        "syndicate.cli.delivery:dispatch_cmd",
        "Send every delivery that is due (queued, or deferred and due again).",
    ),
    "doctor": (
        "syndicate.cli.doctor:doctor_cmd",
        "Check DNS, one-click unsubscribe, feeds, the next edition and the warm-up.",
    ),
    "editions": (
        "syndicate.cli.editions:editions",
        "Look at editions; hold, approve, cancel and test-send them.",
    ),
    "ingest": (
        "syndicate.cli.commands:ingest_cmd",
        "Read new and changed articles from the configured sources.",
    ),
    "operators": (
        "syndicate.cli.operators:operators",
        "Add, list and remove the console's operators.",
    ),
    "related": (
        "syndicate.cli.related:related",
        'Show an article\'s "More from" picks and why; embed articles (reindex).',
    ),
    "run": (
        "syndicate.cli.run:run_cmd",
        "Run the scheduler: poll sources, rebuild feeds, send digests on their schedules.",
    ),
    "serve": (
        "syndicate.cli.feeds:serve_cmd",
        "Serve the built feeds over HTTP, with an index page at / and /healthz.",
    ),
    "sources": (
        "syndicate.cli.commands:sources",
        "Look at the configured sources and their state.",
    ),
    "subscribers": (
        "syndicate.cli.subscribers:subscribers",
        "Add, import, export, list and remove subscribers; their data and consent.",
    ),
    "suppressions": (
        "syndicate.cli.subscribers:suppressions",
        "Import providers' suppression lists (bounces, complaints, unsubscribes).",
    ),
    "worker": (
        "syndicate.cli.worker:worker_cmd",
        "Run a Celery worker that sends the deliveries published to the queue.",
    ),
}

# Subcommands of ``digest`` that live in other modules.
DIGEST_COMMANDS: dict[str, tuple[str, str]] = {
    "send": (
        "syndicate.cli.delivery:digest_send",
        "Compose CHANNEL's due edition, enqueue it for its subscribers, and send it.",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands are imported when used, listed from a table of names."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Commands defined here and in the table, sorted."""
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its module first if it is in the table."""
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module_name, attr = self.lazy[cmd_name][0].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            if not isinstance(command, click.Command):  # pragma: no cover - a bad table
                raise TypeError(f"{module_name}:{attr} is not a click command")
            self.commands.setdefault(cmd_name, command)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, with the table's short help for commands not yet imported."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is None:
                # click's own shortening, without importing the command's module
                stub = click.Command(name, help=self.lazy[name][1])
                rows.append((name, stub.get_short_help_str(limit)))
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def when(value: object) -> str:
    """A time as every table and summary shows it: ``YYYY-MM-DD HH:MM UTC`` (``-`` for
    ``None``); a string is read as ISO 8601 (the rows the ``--json`` listings print)."""
    if value is None:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a time: {value!r}")
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 delivery``, ``2 deliveries``, ``0 stories``: the count and the right noun."""
    if count == 1:
        return f"{count} {singular}"
    if plural_form is None:
        consonant_y = singular.endswith("y") and singular[-2:-1] not in tuple("aeiou")
        plural_form = singular[:-1] + "ies" if consonant_y else singular + "s"
    return f"{count} {plural_form}"


_consoles: dict[str, Console] = {}


def _console(name: str) -> Console:
    if name not in _consoles:
        from rich.console import Console

        _consoles[name] = Console(stderr=name == "err_console", soft_wrap=True)
    return _consoles[name]


def __getattr__(name: str) -> Any:
    # ``console`` (standard output) and ``err_console``: rich loads on first use.
    if name in ("console", "err_console"):
        return _console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class AppContext:
    """What every command shares: where the config is, and the settings once loaded."""

    config_path: Path | None
    _settings: Settings | None = None
    _stores: list[Store] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        """The settings, loaded on first use (so ``--help`` needs no config file)."""
        if self._settings is None:
            from syndicate.config import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings

    def store(self, *, upgrade: bool = True, create: bool = False) -> Store:
        """The store, migrated on first use; created only with ``create`` or ``[store]
        create`` (a missing SQLite folder is otherwise an error, exit 3)."""
        from syndicate.store import open_store

        s = self.settings
        store = open_store(
            s.store_url,
            upgrade=upgrade,
            create=create or s.store.create,
            busy_timeout=s.store.busy_timeout,
        )
        self._stores.append(store)
        return store

    def close(self) -> None:
        """Close every store opened by the command."""
        for store in self._stores:
            store.close()


pass_app = click.make_pass_decorator(AppContext)

# The --workers option of the commands that dispatch (dispatch, digest send, run --once);
# here, not beside dispatching, so "run --help" does not load the delivery stack.
WORKERS = click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Dispatch processes working side by side (use the machine's cores).",
)


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SYNDICATE_CONFIG",
    help="Config file [default: ./syndicate.toml; env SYNDICATE_CONFIG].",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Only warnings and errors: no tables or summaries (--json output still prints).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="SYNDICATE_LOG_FORMAT",
    help="Readable log lines, or one JSON object per line [env SYNDICATE_LOG_FORMAT].",
)
@click.version_option(__version__, prog_name="syndicate")
@click.pass_context
def cli(
    ctx: click.Context, config_path: Path | None, verbose: int, quiet: bool, log_format: LogFormat
) -> None:
    """Ingest articles, publish feeds, and send digests exactly once.

    Run from a folder holding syndicate.toml, or name one with --config.
    """
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    # Tables and summaries go to standard output through ``console``; -q mutes it.
    _console("console").quiet = quiet
    configure_logging(level, log_format, _console("err_console"), show_path=verbose > 1)
    app = AppContext(config_path)
    ctx.obj = app
    ctx.call_on_close(app.close)
