"""The roster commands as an operator runs them (a real process on the example
instance): import from another tool with a dry run first, show consent, export a
person's data and erase it, import a provider's suppressions, sunset."""

from __future__ import annotations

import json
from pathlib import Path

from tests.importhelpers import FIXTURES
from tests.test_cli import run


def test_import_show_export_erase(instance: Path) -> None:
    mailchimp = [str(FIXTURES / f"mailchimp_{k}.csv") for k in ("subscribed", "unsubscribed")]
    args = ["--from", "mailchimp", "--channel", "world", "--map-tag", "Science=science-tech"]
    dry = run(instance, "subscribers", "import", mailchimp[0], *args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would add ana@example.com (line 2)" in dry.stdout
    assert "dry run, nothing changed" in dry.stdout
    assert run(instance, "subscribers", "list", "--json").stdout == ""

    for path in mailchimp:
        done = run(instance, "subscribers", "import", path, *args)
        assert done.returncode == 0, done.stderr
    assert "1 newly suppressed" in done.stdout or "2 newly suppressed" in done.stdout
    listed = [
        json.loads(x)
        for x in run(instance, "subscribers", "list", "--json").stdout.split("\n")
        if x
    ]
    assert {r["email"]: r["status"] for r in listed} == {
        "ana@example.com": "active",
        "ben@example.com": "active",
    }

    shown = run(instance, "subscribers", "show", "ana@example.com", "--json")
    assert shown.returncode == 0, shown.stderr
    ana = json.loads(shown.stdout)
    assert [(c["channel"], c["method"], c["source"]) for c in ana["consent"]] == [
        ("science-tech", "import", "mailchimp_subscribed.csv")
    ]
    assert ana["consent"][0]["detail"]["network"] == "203.0.113.0/24"
    table = run(instance, "subscribers", "show", "ana@example.com")
    assert "mailchimp_subscribed.csv" in table.stdout and "import" in table.stdout

    added = run(
        instance,
        "subscribers",
        "add",
        "dee@example.com",
        "--channel",
        "world",
        "--note",
        "ticket 42",
    )
    assert added.returncode == 0, added.stderr
    dee = json.loads(run(instance, "subscribers", "show", "dee@example.com", "--json").stdout)
    assert [(c["method"], c["source"], c["detail"]) for c in dee["consent"]] == [
        ("operator", "cli", {"note": "ticket 42"})
    ]

    data = run(instance, "subscribers", "export-data", "ana@example.com")
    assert data.returncode == 0, data.stderr
    exported = json.loads(data.stdout)
    assert exported["email"] == "ana@example.com" and exported["consent_records"]

    erased = run(instance, "subscribers", "erase", "ana@example.com", "--yes")
    assert erased.returncode == 0, erased.stderr
    assert run(instance, "subscribers", "show", "ana@example.com").returncode == 1
    assert run(instance, "subscribers", "export-data", "ana@example.com").returncode == 1
    again = run(instance, "subscribers", "import", mailchimp[0], *args)
    assert "would" not in again.stdout and "1 suppressed" in again.stdout


def test_bad_rows_name_file_and_line(instance: Path) -> None:
    path = FIXTURES / "substack.csv"
    done = run(
        instance, "subscribers", "import", str(path), "--from", "substack", "--channel", "world"
    )
    assert done.returncode == 1
    assert f"{path}:5: invalid email address 'not-an-address'" in done.stderr
    assert "2 added" in done.stdout and "1 newly suppressed" in done.stdout


def test_suppressions_import_and_sunset(instance: Path) -> None:
    path = FIXTURES / "postmark_suppressions.csv"
    dry = run(instance, "suppressions", "import", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run, nothing changed" in dry.stdout
    done = run(instance, "suppressions", "import", str(path))
    assert "(postmark): newly suppressed 1 bounced, 1 complained, 1 unsubscribed" in done.stdout
    add = run(instance, "subscribers", "add", "ana@example.com", "--channel", "world")
    assert add.returncode == 1 and "suppressed" in add.stdout

    off = run(instance, "subscribers", "sunset", "--dry-run")
    assert off.returncode == 0 and "sunset is off ([subscribe] sunset_soft" in off.stdout
    run(
        instance,
        "subscribers",
        "add",
        "pat@example.com",
        "--channel",
        "world",
        "--status",
        "pending",
    )
    on = run(instance, "subscribers", "sunset", "--dry-run", "--unconfirmed-days", "1")
    assert on.returncode == 0 and "would clean 0 addresses" in on.stdout
