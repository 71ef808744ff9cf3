"""``syndicate editions list/show`` and ``deliveries status`` of an unknown edition, with
click's runner on a store holding composed editions, some of them sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from syndicate.cli import cli
from syndicate.delivery.dispatch import enqueue_edition
from syndicate.store import Store, open_store
from syndicate.store.editions import EditionRecord, NewEdition, save_edition
from syndicate.store.outbox import Outbox
from syndicate.store.subscribers import SubscriberStore
from tests.deliveryhelpers import HTML, SLOT, TEXT, add_subscribers, channel, dispatcher
from tests.digest.factory import store_articles


@dataclass
class Instance:
    config: Path
    store: Store
    sent: EditionRecord  # world, three deliveries sent
    queued: EditionRecord  # world, the next day, two deliveries queued
    other: EditionRecord  # economy, no deliveries

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(self.config), *args])


def _save(
    store: Store, name: str, slot_days: int, ids: list[str], related: list[str]
) -> EditionRecord:
    record, _ = save_edition(
        store,
        NewEdition(
            channel=name,
            slot=SLOT + timedelta(days=slot_days),
            article_ids=tuple(ids),
            related_ids=tuple(related),
            subject=f"{name} subject {slot_days}",
            preheader="",
            html=HTML,
            text=TEXT,
            created_at=SLOT + timedelta(days=slot_days),
        ),
    )
    return record


@pytest.fixture
def site(tmp_path: Path, store_url: str) -> Iterator[Instance]:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "world.toml").write_text('title = "The Review — World"\n')
    config = tmp_path / "syndicate.toml"
    config.write_text(
        f'[site]\nname = "The Review"\n[store]\nurl = {json.dumps(store_url)}\n', encoding="utf-8"
    )
    store = open_store(store_url)
    ids = store_articles(store, 4)
    sent = _save(store, "world", 0, ids[:3], ids[3:])
    queued = _save(store, "world", 1, ids[3:], [])
    other = _save(store, "economy", 0, ids[:1], [])
    add_subscribers(store, 3)
    world = channel()
    assert enqueue_edition(store, world, sent, SLOT) == 3
    d, _ = dispatcher(store)
    d.run(edition_id=sent.id)
    later = set(add_subscribers(store, 2, start=3))
    new = [s.id for s in SubscriberStore(store).iter_all() if s.email in later]
    Outbox(store).enqueue(queued.id, new, SLOT)
    yield Instance(config, store, sent, queued, other)
    store.close()


def test_list_json_is_one_edition_per_line_newest_first(site: Instance) -> None:
    done = site.run("editions", "list", "--json")
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    # Newest slot first, then by channel.
    assert [r["id"] for r in rows] == [site.queued.id, site.other.id, site.sent.id]
    first = rows[2]
    assert first == {
        "id": site.sent.id,
        "channel": "world",
        "cadence": "edition",
        "slot": "2026-11-25T07:00:00+00:00",
        "status": "ready",
        "subject": "world subject 0",
        "stories": 3,
        "related": 1,
        "created_at": "2026-11-25T07:00:00+00:00",
        "deliveries": {"sent": 3},
    }
    assert rows[0]["deliveries"] == {"queued": 2}
    assert rows[1]["deliveries"] == {}
    world = site.run("editions", "list", "--channel", "world", "--json")
    assert {json.loads(x)["channel"] for x in world.stdout.splitlines()} == {"world"}


def test_list_table_shows_slot_in_utc_and_delivery_counts(site: Instance) -> None:
    done = site.run("editions", "list")
    assert done.exit_code == 0, done.output
    rows = [[c.strip() for c in x.split("│")[1:-1]] for x in done.stdout.splitlines()]
    row = next(cells for cells in rows if cells[:1] == [str(site.sent.id)])
    assert row[1:6] == ["world", "2026-11-25 07:00 UTC", "ready", "3", "3 sent"]
    assert "3 editions" in done.stdout
    none = site.run("editions", "list", "--channel", "gone")
    assert none.exit_code == 0 and "no editions" in none.stdout


def test_show_json_has_stories_picks_and_counts(site: Instance) -> None:
    done = site.run("editions", "show", str(site.sent.id), "--json")
    assert done.exit_code == 0, done.output
    shown = json.loads(done.stdout)
    assert shown["subject"] == "world subject 0"
    assert shown["slot"] == "2026-11-25T07:00:00+00:00"
    assert shown["cadence"] == "edition" and shown["status"] == "ready"
    assert [s["title"] for s in shown["stories"]] == [
        "Story number 0",
        "Story number 1",
        "Story number 2",
    ]
    assert [s["id"] for s in shown["related"]] == list(site.sent.related_ids)
    assert shown["deliveries"] == {"sent": 3}


def test_show_prints_a_readable_summary(site: Instance) -> None:
    done = site.run("editions", "show", str(site.sent.id))
    assert done.exit_code == 0, done.output
    out = done.stdout
    assert f"edition {site.sent.id}: world" in out
    assert "slot: 2026-11-25 07:00 UTC" in out
    assert "subject: world subject 0" in out
    assert "Story number 1" in out and "Story number 3" in out  # a story and a pick
    assert "deliveries: 3 sent" in out


@pytest.mark.parametrize("command", [["editions", "show", "999"], ["deliveries", "status", "999"]])
def test_unknown_edition_exits_2_with_a_clear_message(site: Instance, command: list[str]) -> None:
    done = site.run(*command)
    assert done.exit_code == 2
    assert "no edition 999" in done.output
    assert "syndicate editions list" in done.output
