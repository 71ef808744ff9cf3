"""`syndicate run` as a real process: end to end against a local feed server and the
aiosmtpd test server; SIGTERM during a dispatch; two daemons on one store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from syndicate.config import load_settings
from syndicate.store import open_store
from syndicate.store.outbox import Outbox
from tests.deliveryhelpers import add_subscribers
from tests.httpserver import LocalServer
from tests.smtpserver import SMTPTestServer

pytest_plugins = ["tests.httpserver"]

WAIT = 90.0  # generous: CI machines are slow; no test asserts on how fast it was


def wait_for(what: str, check: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def write_instance(
    folder: Path,
    smtp_port: int,
    *,
    feed_url: str | None = None,
    channel: str = 'schedule = "on_new"\nmin_interval_minutes = 0\n',
    batch: int = 100,
    lookback_hours: float = 48,
    store_url: str | None = None,
) -> Path:
    (folder / "feeds").mkdir(parents=True, exist_ok=True)
    (folder / "var").mkdir(exist_ok=True)  # the default store's folder (db upgrade creates one)
    (folder / "feeds" / "wire.toml").write_text(
        'title = "The Wire"\n\n[digest]\n' + channel + 'daily_rollup = ""\nweekly_rollup = ""\n'
        f"first_lookback_hours = {lookback_hours}\nrelated_k = 0\n"
    )
    source = ""
    if feed_url:
        source = f"""
[[sources]]
name = "upstream"
kind = "feed"
url = "{feed_url}"
poll_interval = 1
allow_private = true
"""
    store = f'\n[store]\nurl = "{store_url}"\n' if store_url else ""
    config = folder / "syndicate.toml"
    config.write_text(
        f"""{store}
[site]
name = "The Meridian Review"
base_url = "https://meridian.example"
tag_authority = "meridian.example,2026"

[security]
secret_key = "daemon-test-secret-0123456789"

[delivery]
backend = "smtp"
from_email = "digest@meridian.example"

[delivery.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
connections = 1

[dispatch]
batch_size = {batch}
lease_seconds = 600

[scheduler]
tick_seconds = 0.5
poll_jitter = 0
shutdown_seconds = 30
{source}"""
    )
    return config


@contextmanager
def daemon(
    config: Path, *args: str, log_format: str = "text"
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A `syndicate run` process; its log goes to a file the test can read while it runs."""
    log = config.parent / f"run-{time.monotonic_ns()}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    command = [sys.executable, "-m", "syndicate", "--config", str(config)]
    command += ["--log-format", log_format, "run", *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def rss(items: list[tuple[str, str, datetime]]) -> bytes:
    entries = "".join(
        f"<item><title>{title}</title><link>https://wire.example/{slug}</link>"
        f"<guid>https://wire.example/{slug}</guid><pubDate>{format_datetime(when)}</pubDate>"
        f"<description>&lt;p&gt;{title}: the full story, in a paragraph.&lt;/p&gt;"
        "</description></item>"
        for slug, title, when in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Upstream</title>'
        f"<link>https://wire.example/</link><description>d</description>{entries}"
        "</channel></rss>"
    ).encode()


def test_end_to_end_new_upstream_article_reaches_feed_and_inbox(
    tmp_path: Path, http_server: LocalServer
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    items = [("first", "Harbour Reopens After Storm", now - timedelta(hours=2))]
    http_server.route("/rss.xml", body=rss(items), headers={"Content-Type": "application/rss+xml"})
    with SMTPTestServer() as smtp:
        config = write_instance(tmp_path, smtp.port, feed_url=http_server.url("/rss.xml"))
        settings = load_settings(config)
        store = open_store(settings.store_url)
        emails = add_subscribers(store, 3, channel_name="wire")
        feed = tmp_path / "public" / "feeds" / "wire.atom"

        def inbox_has(title: str) -> bool:
            return all(
                sum(title.encode() in m.content for m in smtp.messages if e in m.rcpt_tos) == 1
                for e in emails
            )

        with daemon(config) as (proc, log):
            wait_for(
                "the first feed", lambda: feed.exists() and b"Harbour Reopens" in feed.read_bytes()
            )
            wait_for("the first digest", lambda: inbox_has("Harbour Reopens"))
            # Publish a new upstream article: the daemon polls, rebuilds, sends.
            items.append(("second", "Tidal Power Plan Approved", now - timedelta(minutes=1)))
            http_server.route(
                "/rss.xml", body=rss(items), headers={"Content-Type": "application/rss+xml"}
            )
            wait_for("the updated feed", lambda: b"Tidal Power Plan" in feed.read_bytes())
            wait_for("the second digest", lambda: inbox_has("Tidal Power Plan"))
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(WAIT) == 0, log.read_text()
        text = log.read_text()
        assert "job sources:" in text and "job dispatch:" in text
        # Each subscriber got exactly two digests: one per upstream article.
        assert all(smtp.count(e) == 2 for e in emails), smtp.counts()
        assert Outbox(store).status_counts() == {"sent": 6}
        store.close()


def test_sigterm_during_a_dispatch_leaves_nothing_sending(tmp_path: Path) -> None:
    with SMTPTestServer() as smtp:
        smtp.data_delay = 0.02  # slow enough that SIGTERM lands mid-send
        config = write_instance(tmp_path, smtp.port, batch=25, lookback_hours=24 * 3650)
        settings = load_settings(config)
        store = open_store(settings.store_url)
        emails = add_subscribers(store, 400, channel_name="wire")
        # One article in the store: the on_new channel composes it on the first tick.
        from tests.digest.factory import store_articles

        store_articles(store, 1)
        with daemon(config, log_format="json") as (proc, log):
            wait_for("the send to start", lambda: len(smtp.messages) >= 30)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(WAIT) == 0, log.read_text()
        counts = Outbox(store).status_counts()
        assert "sending" not in counts, counts
        assert 0 < counts.get("sent", 0) < 400, counts  # it stopped part-way
        assert counts.get("sent", 0) == len(smtp.messages)
        assert '"job": "dispatch"' in log.read_text() or '"job": "digests"' in log.read_text()
        # Restarted, it sends the rest: every subscriber gets exactly one message.
        smtp.data_delay = 0.0
        again = subprocess.run(
            [sys.executable, "-m", "syndicate", "--config", str(config), "run", "--once"],
            env={k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")},
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        assert again.returncode == 0, again.stderr
        assert Outbox(store).status_counts() == {"sent": 400}
        assert all(smtp.count(e) == 1 for e in emails)
        store.close()


def test_a_second_daemon_refuses_and_a_standby_takes_over(tmp_path: Path, store_url: str) -> None:
    # SQLite: a file lock beside the database; PostgreSQL: an advisory lock.
    with SMTPTestServer() as smtp:
        config = write_instance(tmp_path, smtp.port, store_url=store_url)
        with daemon(config) as (first, first_log):
            wait_for("the first daemon", lambda: "scheduler started" in first_log.read_text())
            second = subprocess.run(
                [sys.executable, "-m", "syndicate", "--config", str(config), "run"],
                env={k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")},
                capture_output=True,
                text=True,
                timeout=WAIT,
            )
            assert second.returncode == 4
            assert "another scheduler holds this store's lock" in second.stderr
            assert f"pid {first.pid}" in second.stderr
            # `run --once` also respects the lock: it must not run beside a daemon.
            once = subprocess.run(
                [sys.executable, "-m", "syndicate", "--config", str(config), "run", "--once"],
                env={k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")},
                capture_output=True,
                text=True,
                timeout=WAIT,
            )
            assert once.returncode == 4, once.stderr
            with daemon(config, "--standby") as (standby, standby_log):
                wait_for("the standby to wait", lambda: "standby" in standby_log.read_text())
                assert "scheduler started" not in standby_log.read_text()
                first.send_signal(signal.SIGTERM)
                assert first.wait(WAIT) == 0
                wait_for(
                    "the standby to take over",
                    lambda: "scheduler started" in standby_log.read_text(),
                )
                standby.send_signal(signal.SIGINT)
                assert standby.wait(WAIT) == 0, standby_log.read_text()


def test_json_logs_one_object_per_line_and_a_summary_per_job(tmp_path: Path) -> None:
    import json

    from tests.digest.factory import store_articles

    with SMTPTestServer() as smtp:
        config = write_instance(tmp_path, smtp.port, lookback_hours=24 * 3650)
        store = open_store(load_settings(config).store_url)
        add_subscribers(store, 2, channel_name="wire")
        store_articles(store, 1)
        store.close()
        with daemon(config, log_format="json") as (proc, log):
            wait_for("a dispatch summary", lambda: '"job": "dispatch"' in log.read_text())
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(WAIT) == 0, log.read_text()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert all({"ts", "level", "logger", "message"} <= set(x) for x in lines)
    (sent,) = [x for x in lines if x.get("job") == "dispatch"]
    assert sent["sent"] == 2 and sent["seconds"] >= 0 and sent["message"].startswith("job dispatch")
    digests = [x for x in lines if x.get("job") == "digests"]
    assert digests[0]["composed"] == 1 and digests[0]["queued"] == 2


def test_run_serve_answers_http_beside_the_scheduler(tmp_path: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with SMTPTestServer() as smtp:
        config = write_instance(tmp_path, smtp.port)
        with daemon(config, "--serve", "--port", str(port)) as (proc, log):
            # The sources job builds the feeds at start-up; then /healthz says ok.
            def healthy() -> bool:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
                        return bool(r.status == 200)
                except OSError:
                    return False

            wait_for("the web app", healthy)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(WAIT) == 0, log.read_text()
