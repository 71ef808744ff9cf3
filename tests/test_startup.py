"""Start-up of the commands that publish and run (issue 15, item 4): `build --help`,
`serve --help` and `run --help` load no stage, no web framework and no database layer, like
`syndicate --help` (tests/test_cli.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.test_cli import HEAVY

# What the commands themselves use when they run, and must not load to show their help.
RUN_ONLY = (*HEAVY, "starlette", "uvicorn", "syndicate.web", "syndicate.feeds", "syndicate.config")


@pytest.mark.parametrize("command", ["build", "serve", "run"])
def test_command_help_imports_no_stage(command: str) -> None:
    # A fresh interpreter: what answering `syndicate COMMAND --help` pulls in. Only the
    # root group's own set-up (the logging console) is allowed to load rich.
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from syndicate.cli import cli\n"
        f"result = CliRunner().invoke(cli, [{command!r}, '--help'])\n"
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
