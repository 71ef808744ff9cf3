"""The outbox and dispatch: exactly once, retries, suppression, pauses, crash recovery."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import text

from syndicate.config import DispatchSettings
from syndicate.delivery.dispatch import audience, backoff, edition_cadence, enqueue_edition
from syndicate.errors import BackendConfigError
from syndicate.models import DeliveryResult, OutboundMessage
from syndicate.store import Store
from syndicate.store.outbox import Claimed, Outbox
from syndicate.store.subscribers import SubscriberStore
from syndicate.testing import FixedClock
from tests.deliveryhelpers import SLOT, add_subscribers, channel, dispatcher, edition


def test_enqueue_is_idempotent_and_dispatch_sends_each_once(store: Store) -> None:
    emails = add_subscribers(store, 25)
    ed = edition(store)
    assert enqueue_edition(store, channel(), ed, SLOT) == 25
    assert enqueue_edition(store, channel(), ed, SLOT) == 0
    d, backend = dispatcher(store)
    report = d.run()
    assert report.counts == Counter(sent=25)
    assert sorted(backend.recipients()) == emails
    assert Outbox(store).status_counts(ed.id) == {"sent": 25}
    again, backend2 = dispatcher(store)
    assert again.run().total == 0 and backend2.sent == []


def test_audience_honours_status_suppression_cadence_and_sections(store: Store) -> None:
    add_subscribers(store, 2)  # 0, 1: every edition
    add_subscribers(store, 1, start=2, cadence="weekly")  # 2: weekly only
    add_subscribers(store, 1, start=3, sections=("Science",))  # 3: other section
    add_subscribers(store, 1, start=4, sections=("world",))  # 4: matching section
    add_subscribers(store, 1, start=5, channel_name="economy")  # 5: other channel
    subs = SubscriberStore(store)
    subs.suppress("reader00001@example.com", "complained", source="t", detail="", now=SLOT)
    ids = {s.email: s.id for s in subs.iter_all()}
    daily = channel()
    assert edition_cadence(daily, SLOT) == "daily"
    assert edition_cadence(channel(schedule="0 7 * * 1"), SLOT) == "weekly"
    assert edition_cadence(channel(schedule="on_new"), SLOT) == "edition"
    got = set(audience(store, daily, SLOT, ["World"]))
    assert got == {ids["reader00000@example.com"], ids["reader00004@example.com"]}
    weekly = set(audience(store, channel(schedule="0 7 * * 1"), SLOT, ["World"]))
    assert ids["reader00002@example.com"] in weekly


def test_suppressed_after_enqueue_is_not_sent(store: Store) -> None:
    add_subscribers(store, 3)
    ed = edition(store)
    enqueue_edition(store, channel(), ed, SLOT)
    SubscriberStore(store).suppress(
        "reader00001@example.com", "unsubscribed", source="web", detail="", now=SLOT
    )
    d, backend = dispatcher(store)
    assert d.run().counts == Counter(sent=2, suppressed=1)
    assert "reader00001@example.com" not in backend.recipients()


def test_deferred_is_retried_with_backoff_then_sent(store: Store) -> None:
    add_subscribers(store, 2)
    enqueue_edition(store, channel(), edition(store), SLOT)
    failures = {"reader00000@example.com": 2}

    def script(m: OutboundMessage) -> DeliveryResult | None:
        if failures.get(m.to_email, 0) > 0:
            failures[m.to_email] -= 1
            return DeliveryResult(m.delivery_id, "deferred", retryable=True, error="451 later")
        return None

    clock = FixedClock(SLOT)
    d, backend = dispatcher(store, script=script, clock=clock)
    assert d.run().counts == Counter(sent=1, deferred=1)
    assert d.run().total == 0  # not due yet
    clock.advance(seconds=400)  # past min_backoff (300 s) with jitter ≤ 20%
    assert d.run().counts == Counter(deferred=1)
    clock.advance(seconds=800)
    assert d.run().counts == Counter(sent=1)
    assert sorted(backend.recipients()) == ["reader00000@example.com", "reader00001@example.com"]


def test_retry_after_is_honoured_and_old_deferrals_give_up(store: Store) -> None:
    add_subscribers(store, 1)
    enqueue_edition(store, channel(), edition(store), SLOT)

    def script(m: OutboundMessage) -> DeliveryResult:
        return DeliveryResult(m.delivery_id, "deferred", retryable=True, retry_after=3600)

    clock = FixedClock(SLOT)
    settings = DispatchSettings(batch_size=10, max_age_hours=2)
    d, _ = dispatcher(store, script=script, clock=clock, settings=settings)
    d.run()
    clock.advance(seconds=3000)
    assert d.run().total == 0  # Retry-After (3600 s) beats the 300 s backoff
    clock.advance(seconds=700)
    assert d.run().counts == Counter(deferred=1)
    clock.advance(hours=3)
    assert d.run().counts == Counter(failed=1)  # older than max_age_hours: give up
    assert Outbox(store).status_counts() == {"failed": 1}


def test_rejected_fails_and_suppresses_the_address(store: Store) -> None:
    add_subscribers(store, 2)
    enqueue_edition(store, channel(), edition(store), SLOT)

    def script(m: OutboundMessage) -> DeliveryResult | None:
        if m.to_email == "reader00000@example.com":
            return DeliveryResult(m.delivery_id, "rejected", error="550 5.1.1 no such user")
        return None

    d, _ = dispatcher(store, script=script)
    assert d.run().counts == Counter(sent=1, failed=1)
    subs = SubscriberStore(store)
    assert subs.is_suppressed("reader00000@example.com")
    got = subs.get("reader00000@example.com")
    assert got is not None and got.status == "bounced"


def test_policy_rejections_pause_the_channel_and_lose_nothing(store: Store) -> None:
    add_subscribers(store, 12)
    enqueue_edition(store, channel(), edition(store), SLOT)

    def script(m: OutboundMessage) -> DeliveryResult:
        return DeliveryResult(
            m.delivery_id, "failed", retryable=True, policy=True, error="550 5.7.1 blocked"
        )

    clock = FixedClock(SLOT)
    settings = DispatchSettings(batch_size=3, pause_after_policy_failures=5)
    d, _ = dispatcher(store, script=script, clock=clock, settings=settings)
    report = d.run()
    assert report.paused == ["world"]
    outbox = Outbox(store)
    assert "world" in outbox.paused()
    counts = outbox.status_counts()
    assert counts.get("deferred", 0) == 6 and counts.get("queued", 0) == 6  # nothing lost
    clock.advance(hours=2)
    assert d.run().total == 0  # paused: nothing claimed
    assert outbox.resume("world")
    ok, backend = dispatcher(store, clock=clock, settings=settings)
    assert ok.run().counts == Counter(sent=12)
    assert len(set(backend.recipients())) == 12


def test_expired_lease_is_claimed_again_after_a_crash(store: Store) -> None:
    add_subscribers(store, 5)
    enqueue_edition(store, channel(), edition(store), SLOT)
    clock = FixedClock(SLOT)
    outbox = Outbox(store)
    # A sender claims everything and "dies" before recording anything.
    dead = outbox.claim("dead-sender", now=clock(), lease=timedelta(seconds=300), limit=100)
    assert len(dead) == 5
    d, backend = dispatcher(store, clock=clock)
    assert d.run().total == 0  # leases still held
    clock.advance(seconds=301)
    assert d.run().counts == Counter(sent=5)
    assert len(backend.sent) == 5
    # The dead sender's late results cannot overwrite what was recorded.
    from syndicate.store.outbox import Outcome

    outbox.record("dead-sender", [Outcome(dead[0].id, "deferred", error="late")], clock())
    assert outbox.status_counts() == {"sent": 5}


def test_two_senders_never_claim_the_same_row(store: Store) -> None:
    add_subscribers(store, 30)
    enqueue_edition(store, channel(), edition(store), SLOT)
    outbox = Outbox(store)
    a = outbox.claim("a", now=SLOT, lease=timedelta(minutes=5), limit=20)
    b = outbox.claim("b", now=SLOT, lease=timedelta(minutes=5), limit=20)
    assert len(a) == 20 and len(b) == 10
    assert not {x.id for x in a} & {x.id for x in b}
    assert [x.id for x in a] == sorted(x.id for x in a)
    assert outbox.release("a") == 20


def test_backend_config_error_stops_and_requeues(store: Store) -> None:
    add_subscribers(store, 4)
    enqueue_edition(store, channel(), edition(store), SLOT)

    def script(m: OutboundMessage) -> DeliveryResult:
        raise BackendConfigError("401 bad token", backend="recording")

    d, _ = dispatcher(store, script=script)
    with pytest.raises(BackendConfigError):
        d.run()
    assert Outbox(store).status_counts() == {"queued": 4}


def test_backoff_doubles_and_is_capped() -> None:
    import random

    settings = DispatchSettings(min_backoff=300, max_backoff=4000)
    rng = random.Random(1)
    waits = [backoff(n, settings, rng) for n in (1, 2, 3, 4, 5, 9)]
    assert 240 <= waits[0] <= 360
    assert 480 <= waits[1] <= 720
    assert all(w <= 4800 for w in waits)
    assert waits[-1] >= 3200


def test_the_first_picks_recorded_for_a_delivery_stay(store: Store) -> None:
    """``record_picks`` writes a delivery's "More from" choice only where none is
    recorded, and returns what each row holds: a retry shows the first choice, never
    its own."""
    add_subscribers(store, 4)
    ed = edition(store)
    assert enqueue_edition(store, channel(), ed, SLOT) == 4
    with store.engine.connect() as conn:
        ids = sorted(conn.execute(text("SELECT id FROM deliveries")).scalars())
    outbox = Outbox(store)
    assert outbox.record_picks({}) == {}
    assert outbox.record_picks({ids[0]: 5, ids[1]: 2**40}) == {ids[0]: 5, ids[1]: 2**40}
    again = outbox.record_picks({ids[0]: 9, ids[1]: 1, ids[2]: 3})
    assert again == {ids[0]: 5, ids[1]: 2**40, ids[2]: 3}
    with store.engine.connect() as conn:
        held = dict(conn.execute(text("SELECT id, picks FROM deliveries")).all())
    assert held == {ids[0]: 5, ids[1]: 2**40, ids[2]: 3, ids[3]: None}


def test_a_claim_records_the_picks_it_is_given_and_keeps_the_first(store: Store) -> None:
    """``claim(choose=…)`` records the picks of the rows it takes that have none (on
    PostgreSQL in the claim's own UPDATE), returns the rows with them, leaves a blocked
    row's alone, and a row claimed again keeps its first picks."""
    add_subscribers(store, 3)
    enqueue_edition(store, channel(), edition(store), SLOT)
    SubscriberStore(store).suppress(
        "reader00002@example.com", "complained", source="test", detail="", now=SLOT
    )
    outbox = Outbox(store)
    asked: list[list[int]] = []

    def choose(rows: Sequence[Claimed]) -> dict[int, int]:
        ids = [c.id for c in rows]
        asked.append(ids)
        return {key: 0b101 for key in ids}

    lease = timedelta(seconds=60)
    first = outbox.claim("a", now=SLOT, lease=lease, limit=10, choose=choose)
    assert len(first) == 3 and len(asked) == 1 and len(asked[0]) == 2
    assert [c.picks for c in first if not c.blocked] == [0b101, 0b101]
    assert [c.picks for c in first if c.blocked] == [None]
    assert all(c.attempts == 1 for c in first)
    with store.engine.connect() as conn:
        held = dict(conn.execute(text("SELECT id, picks FROM deliveries")).all())
    assert sorted(held.values(), key=str) == [5, 5, None]
    # The lease runs out; another sender claims the rows again and keeps those picks.
    later = SLOT + timedelta(seconds=61)
    again = outbox.claim("b", now=later, lease=lease, limit=10, choose=lambda rows: {})
    assert [c.picks for c in again] == [c.picks for c in first]
    assert all(c.attempts == 2 for c in again)
