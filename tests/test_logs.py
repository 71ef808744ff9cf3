"""Log lines as an operator reads them off a terminal: cron mail, journald, a file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) WARNING syndicate\.ingest\.run: "
    r"source gone failed \(1 in a row\): .*does not exist$"
)


def broken_instance(folder: Path) -> Path:
    """An instance whose one source is a folder that does not exist, with a long path so
    that the warning is longer than any terminal line."""
    missing = "a-folder-with-a-rather-long-name-that-does-not-exist/" * 3
    (folder / "syndicate.toml").write_text(
        '[site]\nname = "The Review"\n'
        f'[store]\nurl = "sqlite:///{folder / "store.db"}"\n'
        f'[[sources]]\nname = "gone"\nkind = "folder"\npath = "{missing}"\n',
        encoding="utf-8",
    )
    return folder


def run(folder: Path, *args: str, tz: str = "America/New_York") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env["TZ"] = tz  # a local time that is not UTC, so a local stamp would show
    env.pop("COLUMNS", None)
    return subprocess.run(
        [sys.executable, "-m", "syndicate", *args],
        cwd=folder,
        env=env,
        capture_output=True,  # stderr is a pipe, not a terminal
        text=True,
        timeout=120,
        check=False,
    )


def test_a_warning_off_a_terminal_is_one_line_stamped_in_utc(tmp_path: Path) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    done = run(broken_instance(tmp_path), "ingest")
    after = datetime.now(UTC)
    assert done.returncode == 1
    lines = [x for x in done.stderr.splitlines() if "WARNING" in x]
    assert len(lines) == 1, done.stderr
    found = LINE.match(lines[0])
    assert found is not None, lines[0]
    stamp = datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    # UTC, not New York time (five hours off): the stamp falls within the run.
    assert before - timedelta(seconds=1) <= stamp <= after


@pytest.mark.parametrize("quiet", [False, True])
def test_json_lines_stay_json_off_a_terminal(tmp_path: Path, quiet: bool) -> None:
    args = ["--log-format", "json", *(["-q"] if quiet else []), "ingest"]
    done = run(broken_instance(tmp_path), *args)
    records = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    warning = next(r for r in records if r["level"] == "warning")
    assert warning["logger"] == "syndicate.ingest.run"
    assert warning["ts"].endswith("+00:00")
