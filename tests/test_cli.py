"""The command line, run as a user runs it: a real process on the example instance."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tests.conftest import REPO


def run(instance: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "syndicate", *args],
        cwd=instance,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ingest_twice_reports_new_then_unchanged(instance: Path) -> None:
    first = run(instance, "ingest")
    assert first.returncode == 0, first.stderr
    row = next(line for line in first.stdout.splitlines() if "newsroom" in line)
    assert row.split("│")[3].strip() == "26"  # new
    if "sqlite" in (instance / "syndicate.toml").read_text(encoding="utf-8"):
        assert (instance / "var" / "syndicate.db").is_file()

    second = run(instance, "ingest")
    assert second.returncode == 0, second.stderr
    cells = [
        c.strip()
        for c in next(line for line in second.stdout.splitlines() if "newsroom" in line).split("│")
    ]
    assert cells[3:6] == ["0", "0", "26"]  # new, updated, unchanged


def test_failed_source_exits_1_and_others_still_run(instance: Path) -> None:
    config = instance / "syndicate.toml"
    config.write_text(
        config.read_text()
        + '\n[[sources]]\nname = "gone"\nkind = "folder"\npath = "no-such-folder"\n'
    )
    done = run(instance, "ingest")
    assert done.returncode == 1
    assert "does not exist" in done.stdout
    listed = run(instance, "articles", "list", "--json")
    assert len(listed.stdout.splitlines()) == 26
    sources = [
        json.loads(x) for x in run(instance, "sources", "list", "--json").stdout.splitlines()
    ]
    by_name = {s["name"]: s for s in sources}
    assert by_name["gone"]["consecutive_errors"] == 1
    assert by_name["newsroom"]["consecutive_errors"] == 0
    assert by_name["newsroom"]["last_success_at"]


def test_articles_list_json_and_filters(instance: Path) -> None:
    run(instance, "ingest")
    done = run(instance, "articles", "list", "--section", "science", "--json")
    assert done.returncode == 0
    items = [json.loads(line) for line in done.stdout.splitlines()]
    assert items and {i["section"] for i in items} == {"Science"}
    dates = [i["published_at"] for i in items]
    assert dates == sorted(dates, reverse=True)
    table = run(instance, "articles", "list", "--limit", "3")
    assert "3 articles" in table.stdout


def test_unknown_source_name_exits_2(instance: Path) -> None:
    done = run(instance, "ingest", "--source", "nope")
    assert done.returncode == 2
    assert "no source named 'nope' (configured: newsroom)" in done.stderr


def test_db_upgrade_and_status(instance: Path) -> None:
    done = run(instance, "db", "upgrade")
    assert done.returncode == 0
    assert "migrated from empty" in done.stdout
    again = run(instance, "db", "upgrade")
    assert "already at" in again.stdout
    status = run(instance, "db", "status")
    assert "articles: 0" in status.stdout


def test_config_check(instance: Path) -> None:
    done = run(instance, "config", "check")
    assert done.returncode == 0
    assert "channels: all, energy, science-tech, world" in done.stdout


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["ingest"],
        ["articles"],
        ["articles", "list"],
        ["sources"],
        ["sources", "list"],
        ["db"],
        ["db", "upgrade"],
        ["db", "status"],
        ["config"],
        ["config", "check"],
        ["run"],
        ["dispatch"],
        ["digest", "send"],
        ["subscribers", "import"],
        ["deliveries", "status"],
        ["related"],
        ["related", "reindex"],
    ],
)
def test_help_everywhere(tmp_path: Path, command: list[str]) -> None:
    done = run(tmp_path, *command, "--help")  # no config file needed for --help
    assert done.returncode == 0
    assert "Usage: syndicate" in done.stdout


COMMANDS = [
    "articles",
    "build",
    "channels",
    "config",
    "db",
    "deliveries",
    "digest",
    "dispatch",
    "doctor",
    "editions",
    "ingest",
    "operators",
    "related",
    "run",
    "serve",
    "sources",
    "subscribers",
    "suppressions",
    "worker",
]
HEAVY = (
    "sqlalchemy",
    "feedgen",
    "sklearn",
    "mjml",
    "pydantic",
    "rich",
    "jinja2",
    "syndicate.store",
)


def test_help_lists_every_command_with_its_short_help(tmp_path: Path) -> None:
    done = run(tmp_path, "--help")
    assert done.returncode == 0
    listed = done.stdout.split("Commands:")[1].split()
    for name in COMMANDS:
        assert name in listed, name
    from syndicate.cli.app import cli

    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == COMMANDS
    for name in COMMANDS:
        # The short help printed by --help comes from the lazy table; it must be the
        # command's own, and the table's name the command's name.
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        line = next(x for x in done.stdout.splitlines() if x.split()[:1] == [name])
        assert command.get_short_help_str(limit=200) in " ".join(line.split()[1:]), name


@pytest.mark.parametrize("args", [["--help"], ["--version"], []])
def test_help_imports_no_pipeline_module(args: list[str]) -> None:
    # A fresh interpreter: what importing the CLI and answering --help pulls in.
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from syndicate.cli import cli\n"
        f"result = CliRunner().invoke(cli, {args!r})\n"
        "assert result.exit_code in (0, 2), result.output\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert [m for m in HEAVY if m in loaded] == []


TABLE_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$")


def test_quiet_prints_no_table_and_times_share_one_format(instance: Path) -> None:
    quiet = run(instance, "-q", "ingest")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == ""  # no summary table
    assert run(instance, "-q", "articles", "list").stdout == ""
    assert len(run(instance, "-q", "articles", "list", "--json").stdout.splitlines()) == 26

    listed = run(instance, "articles", "list", "--limit", "1").stdout
    row = next(x for x in listed.splitlines() if "tag:" in x)
    assert TABLE_TIME.match(row.split("│")[1].strip()), row
    sources = run(instance, "sources", "list").stdout
    row = next(x for x in sources.splitlines() if "newsroom" in x)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert TABLE_TIME.match(cells[3]) and TABLE_TIME.match(cells[4]), row


def test_digest_send_says_who_was_left_out_and_why(instance: Path) -> None:
    shutil.copy(REPO / "subscribers.csv", instance / "subscribers.csv")
    assert run(instance, "ingest").returncode == 0
    assert run(instance, "subscribers", "import", "subscribers.csv").returncode == 0
    sport = ["subscribers", "add", "fan@example.com", "--channel", "all", "--sections", "Sport"]
    assert run(instance, *sport).returncode == 0
    sent = run(instance, "digest", "send", "all")
    assert sent.returncode == 0, sent.stderr
    # 11 active subscribers: Mia and Priya take other channels only, Tom the weekly
    # round-up, and the Sport fan's section has no story in this edition.
    assert "7 new deliveries queued" in sent.stdout
    assert (
        "7 of 11 subscribers get this edition; not sent to: 2 not subscribed to all, "
        "1 on another cadence, 1 with no story in their sections"
    ) in sent.stdout
    assert "10 stories" in sent.stdout
    late = ["subscribers", "add", "late@example.com", "--channel", "all"]
    assert run(instance, *late).returncode == 0
    again = run(instance, "digest", "send", "all")
    assert "1 new delivery queued" in again.stdout, again.stdout
