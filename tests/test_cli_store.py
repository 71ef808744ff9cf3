"""Opening the store from the command line: a missing folder is an error, not a new
empty store; a locked or read-only store, or an output folder that cannot be written,
is one clear line and an exit status, never a traceback (issue 12, items 19 and 20)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_instance
from tests.test_cli import run

SHIPPED = 'url = "sqlite:///var/syndicate.db"'


def run_env(instance: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    full.update(COLUMNS="200", **env)
    return subprocess.run(
        [sys.executable, "-m", "syndicate", *args],
        cwd=instance,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def with_store(instance: Path, url: str) -> Path:
    """Point the instance at ``url``, without the example's ``[store] create = true``."""
    config = instance / "syndicate.toml"
    text = config.read_text(encoding="utf-8")
    assert SHIPPED in text
    text = text.replace(SHIPPED, f'url = "{url}"').replace("create = true", "create = false")
    config.write_text(text, encoding="utf-8")
    return instance


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("command", [["articles", "list"], ["ingest"], ["subscribers", "list"]])
def test_a_missing_store_folder_is_an_error_naming_the_path(
    config_instance: Path, command: list[str]
) -> None:
    instance = with_store(config_instance, "sqlite:///nowhere/deeper/syndicate.db")
    done = run(instance, *command)
    assert done.returncode == 3, done.stderr
    line = one_error_line(done.stderr)
    assert str(instance / "nowhere" / "deeper") in line
    assert not (instance / "nowhere").exists()


def test_ingest_create_and_db_upgrade_create_the_store(tmp_path: Path) -> None:
    instance = with_store(copy_instance(tmp_path / "a"), "sqlite:///var/new/syndicate.db")
    created = run(instance, "ingest", "--create")
    assert created.returncode == 0, created.stderr
    assert (instance / "var" / "new" / "syndicate.db").is_file()
    assert run(instance, "articles", "list").returncode == 0  # it exists now

    other = with_store(copy_instance(tmp_path / "b"), "sqlite:///var/new/syndicate.db")
    upgraded = run(other, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (other / "var" / "new" / "syndicate.db").is_file()


def test_the_example_instance_creates_its_store(config_instance: Path) -> None:
    assert "create = true" in (config_instance / "syndicate.toml").read_text(encoding="utf-8")
    (config_instance / "var").rmdir()  # as on a fresh checkout
    assert run(config_instance, "subscribers", "list").returncode == 0
    assert (config_instance / "var" / "syndicate.db").is_file()


def test_a_locked_store_is_one_line_and_exit_3(config_instance: Path) -> None:
    assert run(config_instance, "db", "upgrade").returncode == 0
    holder = sqlite3.connect(config_instance / "var" / "syndicate.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        done = run_env(
            config_instance,
            {"SYNDICATE_STORE__BUSY_TIMEOUT": "0.2"},
            "subscribers",
            "add",
            "ann@example.com",
        )
    finally:
        holder.close()
    assert done.returncode == 3, done.stderr
    assert "locked" in one_error_line(done.stderr)


def test_a_read_only_store_is_one_line_and_exit_3(config_instance: Path) -> None:
    # mode=ro works whoever runs the tests (chmod does not stop root).
    assert run(config_instance, "db", "upgrade").returncode == 0
    path = config_instance / "var" / "syndicate.db"
    instance = with_store(config_instance, f"sqlite:///file:{path}?mode=ro&uri=true")
    listed = run(instance, "subscribers", "list")
    assert listed.returncode == 0, listed.stderr  # reading works
    done = run(instance, "subscribers", "add", "ann@example.com")
    assert done.returncode == 3, done.stderr
    assert "read" in one_error_line(done.stderr)


def test_build_into_an_output_path_that_is_a_file_exits_1(config_instance: Path) -> None:
    assert run(config_instance, "ingest").returncode == 0
    (config_instance / "public").write_text("not a folder")
    done = run(config_instance, "build")
    assert done.returncode == 1, done.stderr
    assert "public" in one_error_line(done.stderr)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod; see the test above")
def test_build_into_a_read_only_output_folder_exits_1(config_instance: Path) -> None:
    assert run(config_instance, "ingest").returncode == 0
    (config_instance / "public").mkdir()
    (config_instance / "public").chmod(0o555)
    try:
        done = run(config_instance, "build")
    finally:
        (config_instance / "public").chmod(0o755)
    assert done.returncode == 1, done.stderr
    assert "public" in one_error_line(done.stderr)
