"""The root command group and what every command shares (settings, store, consoles).

Command modules import ``cli``, ``pass_app`` and the consoles from here, and
:mod:`syndicate.cli` imports every command module, so commands register on import.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console

from syndicate import __version__
from syndicate.config import Settings, load_settings
from syndicate.logs import LogFormat
from syndicate.logs import configure as configure_logging
from syndicate.store import Store, open_store

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


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
            self._settings = load_settings(self.config_path)
        return self._settings

    def store(self, *, upgrade: bool = True, create: bool = False) -> Store:
        """The store, migrated on first use; created only with ``create`` or ``[store]
        create`` (a missing SQLite folder is otherwise an error, exit 3)."""
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SYNDICATE_CONFIG",
    help="Config file [default: ./syndicate.toml; env SYNDICATE_CONFIG].",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
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
    configure_logging(level, log_format, err_console, show_path=verbose > 1)
    app = AppContext(config_path)
    ctx.obj = app
    ctx.call_on_close(app.close)
