"""The delivery commands as a user runs them, on the example instance with the file
backend: import subscribers, send a digest, send again (nothing new), inspect."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
from pathlib import Path

from syndicate.delivery.tokens import TokenSigner
from tests.conftest import REPO as REPO_ROOT
from tests.test_cli import run


def prepare(instance: Path) -> None:
    shutil.copy(REPO_ROOT / "subscribers.csv", instance / "subscribers.csv")
    assert run(instance, "ingest").returncode == 0


def test_demo_flow_sends_each_subscriber_once(instance: Path) -> None:
    prepare(instance)
    imported = run(instance, "subscribers", "import", "subscribers.csv")
    assert imported.returncode == 0, imported.stderr
    assert "10 added" in imported.stdout
    again = run(instance, "subscribers", "import", "subscribers.csv")
    assert "0 added, 0 updated, 10 unchanged" in again.stdout

    first = run(instance, "digest", "send", "all")
    assert first.returncode == 0, first.stderr
    assert "10 stories" in first.stdout
    outbox = sorted((instance / "var" / "outbox").rglob("*.eml"))
    status = json.loads(run(instance, "deliveries", "status", "--json").stdout)
    assert status["counts"] == {"sent": len(outbox)} and len(outbox) >= 5

    second = run(instance, "digest", "send", "all")
    assert second.returncode == 0
    assert "0 new deliveries" in second.stdout and "nothing due" in second.stdout
    assert sorted((instance / "var" / "outbox").rglob("*.eml")) == outbox

    recipients = set()
    signer = TokenSigner((instance / "var" / "secret.key").read_text().strip())
    for path in outbox:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        recipients.add(str(msg["To"].addresses[0].addr_spec))
        assert msg["From"] == "The Meridian Review <digest@meridian.example>"
        url = str(msg["List-Unsubscribe"]).split(">")[0].lstrip("<")
        claims = signer.verify(url.rsplit("/", 1)[1], "unsubscribe")
        assert claims.channel == "all"
        html = msg.get_body(("html",)).get_content()
        assert url in html  # the visible unsubscribe link is the same signed URL
    assert len(recipients) == len(outbox)
    # The weekly subscriber does not get the daily channel's edition.
    assert "tom.becker@example.com" not in recipients
    # Subscribers who chose sections get only those sections' stories.
    texts = {}
    for path in outbox:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        texts[msg["To"].addresses[0].addr_spec] = text
    lead = "Moscow Eyes a Launch Pad… in the Caribbean?"  # the World lead story
    assert lead in texts["ana.ruiz@example.com"]
    kai = texts["kai.tanaka@example.com"]  # Science;Technology
    assert lead not in kai
    assert "\nTECHNOLOGY\n" in kai and "\nWORLD\n" not in kai


def test_subscribers_add_list_export_remove(instance: Path) -> None:
    added = run(
        instance,
        "subscribers",
        "add",
        "New.Reader@Example.com",
        "--name",
        "New",
        "--channel",
        "world",
        "--cadence",
        "weekly",
    )
    assert added.returncode == 0 and "new.reader@example.com: added" in added.stdout
    bad = run(instance, "subscribers", "add", "nope@", "--channel", "world")
    assert bad.returncode == 2 and "invalid email address" in bad.stderr
    listed = [
        json.loads(x) for x in run(instance, "subscribers", "list", "--json").stdout.splitlines()
    ]
    assert listed[0]["subscriptions"] == [{"channel": "world", "cadence": "weekly", "sections": []}]
    exported = run(instance, "subscribers", "export")
    assert exported.stdout.splitlines() == [
        "email,name,channels,cadence,sections,timezone",
        "new.reader@example.com,New,world,weekly,,UTC",
    ]
    assert run(instance, "subscribers", "remove", "new.reader@example.com").returncode == 0
    assert run(instance, "subscribers", "remove", "new.reader@example.com").returncode == 1


def test_import_reports_bad_rows_with_line_numbers(instance: Path) -> None:
    (instance / "bad.csv").write_text("email,channels\nok@example.com,world\nbroken,world\n")
    done = run(instance, "subscribers", "import", "bad.csv")
    assert done.returncode == 1
    assert "bad.csv:3: invalid email address 'broken'" in done.stderr
    assert "1 added" in done.stdout
