"""`syndicate build` and `syndicate serve` as a user runs them: real processes."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.test_cli import run


def rows(stdout: str) -> dict[tuple[str, str], list[str]]:
    out = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 7 and cells[0] != "channel":
            out[(cells[0], cells[1])] = cells[2:]
    return out


def test_build_prints_a_summary_then_reports_unchanged(instance: Path) -> None:
    assert run(instance, "ingest").returncode == 0
    first = run(instance, "build")
    assert first.returncode == 0, first.stderr
    table = rows(first.stdout)
    assert set(table) == {
        (c, f) for c in ("all", "energy", "science-tech", "world") for f in ("rss", "atom", "json")
    }
    assert table[("all", "rss")] == ["written", "20", "26", "1", "1"]
    assert table[("world", "json")][0] == "written"
    assert (instance / "public" / "feeds" / "all.xml.gz").is_file()

    second = run(instance, "build")
    assert second.returncode == 0, second.stderr
    assert {cells[0] for cells in rows(second.stdout).values()} == {"unchanged"}
    assert rows(second.stdout)[("all", "atom")][-1] == "0"  # no archive page rewritten


def test_build_one_channel_and_an_unknown_one(instance: Path) -> None:
    done = run(instance, "build", "--channel", "world")
    assert done.returncode == 0, done.stderr
    assert {channel for channel, _ in rows(done.stdout)} == {"world"}
    unknown = run(instance, "build", "--channel", "nope")
    assert unknown.returncode == 2
    assert "no channel named 'nope'" in unknown.stderr


def test_help_texts(instance: Path) -> None:
    build_help = run(instance, "build", "--help")
    assert build_help.returncode == 0 and "--channel NAME" in build_help.stdout
    serve_help = run(instance, "serve", "--help")
    assert serve_help.returncode == 0
    assert "--host" in serve_help.stdout and "--port" in serve_help.stdout
    assert "127.0.0.1" in serve_help.stdout and "8080" in serve_help.stdout


def test_a_killed_builds_temporary_files_are_removed_by_the_next_build(
    config_instance: Path,
) -> None:
    assert run(config_instance, "ingest").returncode == 0
    assert run(config_instance, "build").returncode == 0
    feeds = config_instance / "public" / "feeds"
    archive = next(p for p in (config_instance / "public").rglob("*.xml") if p.parent != feeds)
    # What a build killed between staging and renaming leaves: mkstemp names.
    left = [feeds / ".all.xml.k1ll3d_x.tmp", archive.parent / f".{archive.name}.a8c_d9ef.tmp"]
    an_hour_ago = time.time() - 3600
    for path in left:
        path.write_bytes(b"half a feed")
        os.utime(path, (an_hour_ago, an_hour_ago))
    # A temporary file just staged by a build running beside this one is left alone.
    running = feeds / ".world.xml.r9nn1ng_.tmp"
    running.write_bytes(b"being written")
    done = run(config_instance, "build")
    assert done.returncode == 0, done.stderr
    assert not any(path.exists() for path in left)
    assert running.exists()
