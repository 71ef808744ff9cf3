"""Start-up of every command (issue 15, item 4): `syndicate COMMAND --help` and
`syndicate COMMAND SUBCOMMAND --help` load no stage, no web framework and no database
layer, like `syndicate --help` (tests/test_cli.py); what a command needs is imported when
it runs. Which modules load is asserted, not how long it takes."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from syndicate.cli import choices
from syndicate.cli.app import COMMANDS, cli
from tests.test_cli import HEAVY

# What the commands themselves use when they run, and must not load to show their help.
STAGES = (
    "syndicate.config",
    "syndicate.store",
    "syndicate.ingest",
    "syndicate.feeds",
    "syndicate.related",
    "syndicate.digest",
    "syndicate.subscribers",
    "syndicate.delivery",
    "syndicate.webhooks",
    "syndicate.doctor",
    "syndicate.scheduler",
    "syndicate.scale",
    "syndicate.web",
)
RUN_ONLY = (*HEAVY, "numpy", "argon2", "starlette", "uvicorn", "celery", *STAGES)


def _help_pages() -> list[list[str]]:
    """Every command of the root group, and every subcommand of a group among them."""
    ctx = click.Context(cli)
    pages = []
    for name in COMMANDS:
        pages.append([name])
        command = cli.get_command(ctx, name)
        if isinstance(command, click.Group):
            pages += [[name, sub] for sub in command.list_commands(click.Context(command))]
    return pages


PAGES = _help_pages()


def test_every_group_and_its_subcommands_are_covered() -> None:
    assert ["digest", "send"] in PAGES and ["subscribers", "import"] in PAGES
    assert len(PAGES) > len(COMMANDS) + 20


@pytest.mark.parametrize("args", PAGES, ids=" ".join)
def test_command_help_imports_no_stage(args: list[str]) -> None:
    # A fresh interpreter: what answering `syndicate ... --help` pulls in. Only the root
    # group's own set-up (the logging console) and the tables are allowed to load rich.
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from syndicate.cli import cli\n"
        f"result = CliRunner().invoke(cli, [*{args!r}, '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'Usage:' in result.output, result.output\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert [m for m in RUN_ONLY if m in loaded and m != "rich"] == []


def test_the_choices_shown_by_help_are_the_real_vocabularies() -> None:
    from syndicate.doctor import GROUPS
    from syndicate.store.delivery_schema import CADENCES, SUBSCRIBER_STATUSES
    from syndicate.store.operators import ROLES
    from syndicate.subscribers.importers.apply import FORMATS

    assert choices.CADENCES == CADENCES
    assert choices.SUBSCRIBER_STATUSES == SUBSCRIBER_STATUSES
    assert choices.ROLES == ROLES
    assert tuple(FORMATS) == choices.IMPORT_FORMATS
    assert choices.DOCTOR_GROUPS == GROUPS
