"""A real RSS reader reads the served feeds (issue "Feeds": done when).

`syndicate ingest`, `build` and `serve` run as real processes on the example instance;
Debian's newsboat fetches each RSS and Atom feed from 127.0.0.1 into its own cache
(newsboat stores a guid once per cache, and channels share items, so one cache per
feed), and every item of the feed must be in that cache, by guid, with content.
newsboat's exit code does not report feed failures, so its log is checked too.
newsboat 2.21 (Debian 12) has no JSON Feed support; JSON Feed is checked elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def _newsboat() -> str:
    # Never installed from here: a test that runs apt-get changes the machine it runs on
    # and waits minutes on the network. .ci/run installs newsboat before the suite.
    found = shutil.which("newsboat")
    if not found:
        pytest.skip("newsboat is not installed (Debian package newsboat; .ci/run installs it)")
    return found


def _syndicate(instance: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    done = subprocess.run(
        [sys.executable, "-m", "syndicate", *args],
        cwd=instance,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(instance: Path) -> Iterator[str]:
    _syndicate(instance, "ingest")
    _syndicate(instance, "build")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env["COLUMNS"] = "300"  # keep the log line with the address on one line
    log = (instance / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "syndicate", "serve", "--port", str(port), "--no-access-log"],
        cwd=instance,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"syndicate serve did not start: {(instance / 'serve.log').read_text()}"
                )
            time.sleep(0.1)
        assert f"on {base}" in (instance / "serve.log").read_text()  # says where it listens
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def _read_with_newsboat(newsboat: str, folder: Path, url: str) -> tuple[dict[str, str], str]:
    folder.mkdir(parents=True)
    (folder / "urls").write_text(url + "\n")
    (folder / "config").write_text("download-timeout 30\n")
    env = {**os.environ, "HOME": str(folder), "LANG": "C.UTF-8"}
    subprocess.run(
        [
            newsboat,
            "-C",
            str(folder / "config"),
            "-u",
            str(folder / "urls"),
            "-c",
            str(folder / "cache.db"),
            "-l",
            "4",
            "-d",
            str(folder / "log"),
            "-x",
            "reload",
        ],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,  # the exit code says nothing about the feeds: read cache and log
    )
    with sqlite3.connect(folder / "cache.db") as db:
        rows = db.execute("SELECT guid, content FROM rss_item WHERE feedurl = ?", (url,))
        items = {guid: content for guid, content in rows}
    return items, (folder / "log").read_text(errors="replace")


def test_newsboat_reads_every_item_of_every_feed(
    served: str, instance: Path, tmp_path: Path
) -> None:
    newsboat = _newsboat()
    manifest = json.loads((instance / "public/.syndicate/manifest.json").read_text())
    checked = 0
    for channel in manifest["channels"]:
        name = channel["name"]
        # The ids each feed must deliver: those of the built JSON Feed, same document.
        expected = {
            item["id"]
            for item in json.loads((instance / f"public/feeds/{name}.json").read_text())["items"]
        }
        assert expected
        for ext in ("xml", "atom"):
            url = f"{served}/feeds/{name}.{ext}"
            items, log = _read_with_newsboat(newsboat, tmp_path / f"{name}-{ext}", url)
            assert "USERERROR" not in log and "ERROR" not in log.replace("No error", ""), log[
                -2000:
            ]
            assert set(items) == expected, (url, set(items) ^ expected)
            assert all(content.strip() for content in items.values()), url
            checked += 1
    assert checked == 8
