"""Exit codes tell cron the truth: `digest send` and `dispatch` exit 1, with one line
saying why, when there was mail to send and none of it could be sent (issue 12,
item 21). A real SMTP server answers 4xx to every transaction."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import REPO
from tests.smtpserver import SMTPTestServer
from tests.test_cli import run

DEFER = "451 4.3.0 mailbox busy, try again later"


def smtp_instance(instance: Path, port: int) -> Path:
    config = instance / "syndicate.toml"
    text = config.read_text(encoding="utf-8").replace('backend = "file"', 'backend = "smtp"')
    text += (
        f'\n[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        # Deferred rows come due again at once, so a second dispatch has work to do.
        "\n[dispatch]\nmin_backoff = 0.01\nmax_backoff = 0.02\n"
    )
    config.write_text(text, encoding="utf-8")
    shutil.copy(REPO / "subscribers.csv", instance / "subscribers.csv")
    assert run(instance, "ingest").returncode == 0
    assert run(instance, "subscribers", "import", "subscribers.csv").returncode == 0
    return instance


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def test_send_and_dispatch_exit_1_when_everything_is_deferred(config_instance: Path) -> None:
    with SMTPTestServer() as server:
        server.fail("mail", DEFER)
        instance = smtp_instance(config_instance, server.port)
        sent = run(instance, "digest", "send", "all")
        assert sent.returncode == 1, sent.stdout + sent.stderr
        (line,) = error_lines(sent.stderr)
        assert "nothing was sent" in line and "deferred" in line and "451" in line

        again = run(instance, "dispatch")
        assert again.returncode == 1, again.stdout + again.stderr
        (line,) = error_lines(again.stderr)
        assert "nothing was sent" in line and "451" in line
        assert not server.messages

        server.faults.clear()  # the server recovers: the retry sends, and says so with 0
        recovered = run(instance, "dispatch")
        assert recovered.returncode == 0, recovered.stdout + recovered.stderr
        assert server.messages and not error_lines(recovered.stderr)


def test_dispatch_exits_1_when_the_server_is_gone(config_instance: Path) -> None:
    with SMTPTestServer() as server:
        port = server.port
        server.fail("mail", DEFER)
        instance = smtp_instance(config_instance, port)
        assert run(instance, "digest", "send", "all").returncode == 1
    # The port is closed now: every delivery is deferred again.
    done = run(instance, "dispatch")
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = error_lines(done.stderr)
    assert "nothing was sent" in line


def test_nothing_due_is_not_a_failure(config_instance: Path) -> None:
    done = run(config_instance, "dispatch")
    assert done.returncode == 0, done.stderr
    assert "nothing due" in done.stdout
