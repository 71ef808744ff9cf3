"""``syndicate operators`` and ``syndicate editions hold | approve | cancel | test-send``
with click's runner on a real store: every write lands in the audit log, test sends go
through the configured backend (the file backend here) and never make a delivery row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from syndicate.cli import cli
from syndicate.store import Store, open_store
from syndicate.store.editions import NewEdition, get_edition_by_id, save_edition
from syndicate.store.operators import Operators
from syndicate.store.outbox import Outbox
from tests.deliveryhelpers import HTML, SLOT, TEXT, add_subscribers
from tests.digest.factory import store_articles

PASSWORD = "a long enough password"


@dataclass
class Site:
    root: Path
    config: Path
    store: Store
    draft: int

    def run(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        return CliRunner().invoke(cli, ["--config", str(self.config), *args], input=input, env=env)


@pytest.fixture
def site(tmp_path: Path, store_url: str) -> Iterator[Site]:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "world.toml").write_text(
        'title = "The Review — World"\n[digest]\ntest_addresses = ["seed@news.example"]\n'
    )
    config = tmp_path / "syndicate.toml"
    config.write_text(
        f'[site]\nname = "The Review"\n[store]\nurl = {json.dumps(store_url)}\n'
        '[security]\nsecret_key = "cli-console-secret-0123456789"\n'
        '[delivery]\nbackend = "file"\noutbox_dir = "outbox"\nfrom_email = "news@news.example"\n'
        "[console]\ntest_sends_per_hour = 3\n",
        encoding="utf-8",
    )
    store = open_store(store_url)
    ids = store_articles(store, 3)
    add_subscribers(store, 2)
    record, _ = save_edition(
        store,
        NewEdition(
            channel="world",
            slot=SLOT + timedelta(days=1),
            article_ids=tuple(ids),
            related_ids=(),
            subject="World subject",
            preheader="",
            html=HTML,
            text=TEXT,
            created_at=SLOT,
            status="draft",
        ),
    )
    yield Site(tmp_path, config, store, record.id)
    store.close()


def test_operators_add_list_reset_and_remove_are_audited(site: Site) -> None:
    added = site.run(
        "operators", "add", "Ed@News.example", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert added.exit_code == 0, added.output
    assert "added ed@news.example (admin)" in added.output
    short = site.run(
        "operators", "add", "x@news.example", env={"SYNDICATE_OPERATOR_PASSWORD": "short"}
    )
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    twice = site.run(
        "operators", "add", "ed@news.example", env={"SYNDICATE_OPERATOR_PASSWORD": PASSWORD}
    )
    assert twice.exit_code == 2 and "exists already" in twice.output
    listed = site.run("operators", "list")
    assert "ed@news.example" in listed.output and "admin" in listed.output
    ops = Operators(site.store)
    token = ops.start_session(ops.get("ed@news.example"), SLOT)  # type: ignore[arg-type]
    reset = site.run(
        "operators",
        "reset-password",
        "ed@news.example",
        env={"SYNDICATE_OPERATOR_PASSWORD": "another long password"},
    )
    assert reset.exit_code == 0, reset.output
    # The password change ended the session.
    assert ops.session(token, SLOT, idle=timedelta(hours=1), absolute=timedelta(hours=9)) is None
    removed = site.run("operators", "remove", "ed@news.example")
    assert removed.exit_code == 0 and not ops.any()
    assert site.run("operators", "remove", "ed@news.example").exit_code == 2
    actions = [e.action for e in reversed(ops.audit_entries())]
    assert actions == ["operator.add", "operator.reset-password", "operator.remove"]
    assert ops.audit_entries()[-1].after == {"role": "admin", "channels": []}


def test_hold_approve_and_cancel(site: Site) -> None:
    held = site.run("editions", "hold", str(site.draft), "--reason", "check the lead")
    assert held.exit_code == 0 and f"edition {site.draft}: held" in held.output
    assert site.run("editions", "hold", str(site.draft)).exit_code == 1  # held already
    approved = site.run("editions", "approve", str(site.draft))
    assert approved.exit_code == 0 and "approved" in approved.output
    cancelled = site.run("editions", "cancel", str(site.draft))
    assert cancelled.exit_code == 1 and "approved" in cancelled.output
    record = get_edition_by_id(site.store, site.draft)
    assert record is not None and record.status == "approved"
    assert site.run("editions", "approve", "999").exit_code == 2
    entries = Operators(site.store).audit_entries()
    assert [(e.action, e.before, e.after) for e in reversed(entries)] == [
        ("edition.held", {"status": "draft"}, {"status": "held", "reason": "check the lead"}),
        ("edition.approved", {"status": "held"}, {"status": "approved"}),
    ]


def test_test_send_goes_to_the_seed_list_and_typed_addresses_and_is_limited(site: Site) -> None:
    done = site.run("editions", "test-send", str(site.draft), "--to", "Ana@Example.org")
    assert done.exit_code == 0, done.output
    assert "sent to 2 addresses" in done.output
    files = sorted((site.root / "outbox").rglob("*.eml"))
    assert len(files) == 2
    raw = files[0].read_bytes()
    assert b"Subject: [TEST] World subject" in raw
    assert b"<test-world." in raw  # a List-Id of its own
    assert sorted(b"<seed@news.example>" in f.read_bytes() for f in files) == [False, True]
    # No delivery row, and the draft is still a draft.
    assert Outbox(site.store).status_counts() == {}
    record = get_edition_by_id(site.store, site.draft)
    assert record is not None and record.status == "draft"
    # 3 an hour: 2 sent, 2 more would pass the limit.
    again = site.run("editions", "test-send", str(site.draft), "--to", "b@example.org")
    assert again.exit_code == 1 and "limited to 3 messages an hour" in again.output
    bad = site.run("editions", "test-send", str(site.draft), "--to", "not an address")
    assert bad.exit_code == 1 and "not an email address" in bad.output
    (entry,) = Operators(site.store).audit_entries()
    assert entry.action == "edition.test-send"
    assert entry.after["to"] == ["seed@news.example", "Ana@example.org"]


def test_channels_pause_and_resume_are_audited(site: Site) -> None:
    paused = site.run("channels", "pause", "world", "--reason", "provider trouble")
    assert paused.exit_code == 0 and "paused" in paused.output
    assert Outbox(site.store).paused()["world"][1] == "provider trouble"
    assert "paused already" in site.run("channels", "pause", "world").output
    resumed = site.run("channels", "resume", "world")
    assert resumed.exit_code == 0 and Outbox(site.store).paused() == {}
    assert "was not paused" in site.run("channels", "resume", "world").output
    assert site.run("channels", "pause", "nowhere").exit_code != 0
    entries = list(reversed(Operators(site.store).audit_entries()))
    assert [(e.action, e.after) for e in entries] == [
        ("channel.pause", {"paused": True, "reason": "provider trouble"}),
        ("channel.resume", {"paused": False}),
    ]
