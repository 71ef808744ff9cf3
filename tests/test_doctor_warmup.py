"""The warm-up check of ``syndicate doctor`` (issue 16 item 2: "on by default when doctor
sees a domain that has never sent"): it switches the ramp on in the store for an
instance that has sent nothing, leaves a configured ramp or a sending history alone, and
``syndicate deliveries warmup`` shows and drops what it switched on."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from syndicate.config import WarmupSettings, load_settings
from syndicate.delivery.dispatch import enqueue_edition
from syndicate.delivery.warmup import Warmup
from syndicate.doctor.warmup import warmup_check
from syndicate.store import Store
from tests.deliveryhelpers import SLOT, add_subscribers, channel, dispatcher, edition
from tests.feeds.fixtures import make_instance
from tests.test_cli import run

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def settings_for(root: Path, warmup: str = "") -> Path:
    make_instance(root, {"desk": 'title = "Desk"\n'})
    config = root / "syndicate.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + '\n[delivery]\nbackend = "file"\nfrom_email = "news@example.org"\n'
        + warmup,
        encoding="utf-8",
    )
    return config


def test_a_store_that_never_sent_gets_the_default_ramp(tmp_path: Path, store: Store) -> None:
    settings = load_settings(settings_for(tmp_path))
    assert Warmup(store, None).config() is None
    result = warmup_check(settings, store, NOW)
    assert result.status == "warn" and "switched on" in result.summary
    assert Warmup(store, None).config() == WarmupSettings()
    again = warmup_check(settings, store, NOW)
    assert again.status == "pass" and "switched on by doctor" in again.summary


def test_a_store_that_has_sent_is_left_at_full_speed(tmp_path: Path, store: Store) -> None:
    add_subscribers(store, 3)
    enqueue_edition(store, channel(), edition(store), SLOT)
    sender, _ = dispatcher(store)
    assert sender.run().counts == Counter(sent=3)
    settings = load_settings(settings_for(tmp_path))
    result = warmup_check(settings, store, NOW)
    assert result.status == "pass" and "3 messages sent" in result.summary
    assert Warmup(store, None).config() is None


def test_warmup_off_says_a_configured_ramp_stays(tmp_path: Path) -> None:
    settings_for(tmp_path, "warmup = { start = 50, days = 10 }\n")
    shown = run(tmp_path, "deliveries", "warmup")
    assert "warm-up ([delivery] warmup): 50 a day" in shown.stdout
    off = run(tmp_path, "deliveries", "warmup", "--off").stdout
    assert "no warm-up was switched on by doctor" in off
    assert "[delivery] warmup is set in the settings and stays in force" in off


def test_a_configured_ramp_is_reported_and_nothing_is_stored(tmp_path: Path, store: Store) -> None:
    config = settings_for(tmp_path, "warmup = { start = 50, days = 10 }\n")
    result = warmup_check(load_settings(config), store, NOW)
    assert result.status == "pass" and "50 a day" in result.summary
    assert Warmup(store, None).config() is None


def test_doctor_switches_it_on_and_deliveries_warmup_drops_it(tmp_path: Path) -> None:
    settings_for(tmp_path)
    assert "no warm-up" in run(tmp_path, "deliveries", "warmup").stdout
    done = run(tmp_path, "doctor", "--json", "--only", "warmup")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["checks"]
    assert (row["check"], row["status"]) == ("delivery.warmup", "warn")
    shown = run(tmp_path, "deliveries", "warmup")
    assert "switched on by 'syndicate doctor'" in shown.stdout
    assert "200 a day" in shown.stdout and "42 days" in shown.stdout
    assert "switched off" in run(tmp_path, "deliveries", "warmup", "--off").stdout
    assert "no warm-up" in run(tmp_path, "deliveries", "warmup").stdout
