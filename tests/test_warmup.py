"""Warm-up: each recipient group gets exactly the day's cap, in order, nothing lost."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from syndicate.config import DispatchSettings, Settings, WarmupSettings
from syndicate.delivery.compose import EditionMessages
from syndicate.delivery.dispatch import Dispatcher, enqueue_edition
from syndicate.delivery.guards import deliveries_waiting
from syndicate.delivery.tokens import TokenSigner
from syndicate.delivery.warmup import Warmup, daily_cap, enable_warmup
from syndicate.models import utc_now
from syndicate.store import Store
from syndicate.store.delivery_schema import deliveries
from syndicate.store.domain_groups import GROUPS, domain_group
from syndicate.testing import FixedClock, RecordingBackend
from tests.deliveryhelpers import SECRET, SLOT, channel, edition
from tests.guardhelpers import DOMAINS, bulk_subscribers

RAMP = WarmupSettings(start=200, days=42)


def test_domain_groups() -> None:
    assert domain_group("a@googlemail.com") == "gmail"
    assert domain_group("a@live.com") == "microsoft"
    assert domain_group("a@hotmail.com") == "microsoft"
    assert domain_group("a@yahoo.com") == "yahoo"
    assert domain_group("a@gmail.com.example.org") == "other"


def test_daily_cap_grows_exponentially_to_the_whole_list() -> None:
    caps = [daily_cap(200, 42, day, 200_000) for day in range(42)]
    assert caps[0] == 200
    assert caps[40] is not None and 160_000 < caps[40] < 200_000
    assert caps[41] is None  # the last day: no cap
    steady = [c for c in caps[1:41] if c is not None]
    ratios = {round(b / a, 2) for a, b in pairwise(steady)}
    assert ratios <= {1.18, 1.19}  # one steady growth factor (1000 ** (1/41))
    assert daily_cap(200, 42, 5, 150) == 200  # a list smaller than start


def _dispatcher(
    store: Store, clock: FixedClock, warmup: Warmup | None
) -> tuple[Dispatcher, RecordingBackend]:
    backend = RecordingBackend()
    messages = EditionMessages(
        store, Settings(), {"world": channel()}, signer=None, tokens=TokenSigner(SECRET)
    )
    d = Dispatcher(
        store, backend, messages, DispatchSettings(batch_size=500), clock=clock, warmup=warmup
    )
    return d, backend


def test_three_days_send_exactly_the_cap_per_group_in_order(store: Store) -> None:
    clock = FixedClock(SLOT)
    bulk_subscribers(store, DOMAINS, SLOT - timedelta(days=1))
    sizes = Counter(domain_group(f"x@{d}") for d, n in DOMAINS for _ in range(n))
    sent_ids: dict[str, list[int]] = defaultdict(list)
    for day in range(3):
        now = SLOT + timedelta(days=day)
        clock.now = now
        record = edition(store, slot=now)
        assert enqueue_edition(store, channel(), record, now) == 10_000
        dispatcher, backend = _dispatcher(store, clock, Warmup(store, RAMP))
        dispatcher.run()
        today = Counter(domain_group(m.to_email) for m in backend.sent)
        for group in GROUPS:
            assert today[group] == daily_cap(200, 42, day, sizes[group]), (day, group)
        for m in backend.sent:
            sent_ids[domain_group(m.to_email)].append(m.delivery_id)
        # What waits says why and until when; nothing failed, nothing was lost.
        waiting = deliveries_waiting(store, now).warmup
        assert set(waiting) == set(GROUPS)
        assert all(
            until == SLOT.replace(hour=0) + timedelta(days=day + 1) for _, until in waiting.values()
        )
        with store.engine.connect() as conn:
            by_status: dict[str, int] = dict(
                conn.execute(
                    select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
                ).all()
            )
        total = 10_000 * (day + 1)
        assert by_status.get("sent", 0) == sum(len(v) for v in sent_ids.values())
        assert by_status["sent"] + by_status["queued"] == total
        assert sum(n for n, _ in waiting.values()) == by_status["queued"]
        # Running again the same day sends nothing more.
        again, backend = _dispatcher(store, clock, Warmup(store, RAMP))
        again.run()
        assert backend.sent == []
    for group, ids in sent_ids.items():
        assert ids == sorted(ids), group  # oldest first: yesterday's waiting rows go first
        assert len(ids) == len(set(ids))  # nobody twice


def test_warmup_off_by_default_and_on_from_the_store(store: Store) -> None:
    clock = FixedClock(SLOT)
    bulk_subscribers(store, (("gmail.com", 300),), SLOT)
    record = edition(store)
    enqueue_edition(store, channel(), record, SLOT)
    warmup = Warmup(store, None)
    assert warmup.config() is None
    enable_warmup(store, WarmupSettings(start=100, days=10), SLOT)  # the doctor's hook
    dispatcher, backend = _dispatcher(store, clock, warmup)
    dispatcher.run()
    assert len(backend.sent) == 100


def test_deliveries_status_shows_warmup_waiting(store: Store, tmp_path: Path) -> None:
    from syndicate.cli.app import cli

    now = utc_now()  # the command reads the real clock
    clock = FixedClock(now)
    bulk_subscribers(store, (("yahoo.com", 250),), now)
    enqueue_edition(store, channel(), edition(store, slot=now), now)
    _dispatcher(store, clock, Warmup(store, RAMP))[0].run()
    url = str(store.engine.url.render_as_string(hide_password=False))
    config = tmp_path / "syndicate.toml"
    config.write_text(f'[store]\nurl = "{url}"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "deliveries", "status", "--json"])
    assert result.exit_code == 0, result.output
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    until = tomorrow.isoformat()
    assert f'"warmup_waiting": {{"yahoo": {{"until": "{until}", "waiting": 50}}}}' in result.output
    result = CliRunner().invoke(cli, ["--config", str(config), "deliveries", "status"])
    assert "50 deliveries to yahoo wait for the warm-up's next daily cap" in result.output
