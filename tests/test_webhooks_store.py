"""Applying webhook events to the store, on SQLite and PostgreSQL: hard bounces,
complaints and unsubscribes suppress; soft bounces are only recorded; a repeated event
changes nothing; a replayed Mailgun token applies nothing; migration 0006 creates
exactly the table the code declares."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from syndicate.errors import WebhookAuthError
from syndicate.store import Store
from syndicate.store.schema import metadata
from syndicate.store.subscribers import SubscriberStore
from syndicate.store.webhook_schema import webhook_events
from syndicate.webhooks.apply import apply_events
from syndicate.webhooks.events import Event
from tests.deliveryhelpers import add_subscribers
from tests.webhookhelpers import snapshot

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def event(kind: str = "hard-bounce", n: int = 1, **changes: Any) -> Event:
    base = Event(
        provider="postmark",
        event_id=f"evt-{kind}-{n}",
        kind=kind,  # type: ignore[arg-type]
        email=f"reader{n:05d}@example.com",
        provider_message_id="msg-1",
        occurred_at=T0 - timedelta(minutes=5),
        detail={"Type": "HardBounce", "Details": "550 5.1.1 user unknown"},
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(
    ("kind", "status"),
    [("hard-bounce", "bounced"), ("complaint", "complained"), ("unsubscribe", "unsubscribed")],
)
def test_suppressing_events(store: Store, kind: str, status: str) -> None:
    add_subscribers(store, 3)
    applied = apply_events(store, [event(kind)], T0)
    assert dict(applied.outcomes) == {"suppressed": 1}
    subs = SubscriberStore(store)
    assert subs.is_suppressed("reader00001@example.com")
    reader = subs.get("reader00001@example.com")
    assert reader is not None and reader.status == status
    others = [subs.get(f"reader0000{n}@example.com") for n in (0, 2)]
    assert [o.status for o in others if o] == ["active", "active"]
    row = snapshot(store)["suppressions"][0]
    assert row[1:3] == (status, "webhook:postmark")
    assert '"event_id": "evt-' in row[3] and "550 5.1.1" in row[3]


def test_soft_bounce_is_recorded_and_suppresses_nothing(store: Store) -> None:
    add_subscribers(store, 2)
    applied = apply_events(store, [event("soft-bounce")], T0)
    assert dict(applied.outcomes) == {"recorded": 1}
    subs = SubscriberStore(store)
    assert not subs.is_suppressed("reader00001@example.com")
    reader = subs.get("reader00001@example.com")
    assert reader is not None and reader.status == "active"
    with store.engine.connect() as conn:
        stored = conn.execute(select(webhook_events)).one()
    assert (stored.provider, stored.event_id, stored.kind, stored.outcome) == (
        "postmark",
        "evt-soft-bounce-1",
        "soft-bounce",
        "recorded",
    )
    assert stored.occurred_at == T0 - timedelta(minutes=5) and stored.received_at == T0
    assert stored.detail == {"Type": "HardBounce", "Details": "550 5.1.1 user unknown"}


def test_a_repeated_event_changes_nothing(store: Store) -> None:
    add_subscribers(store, 2)
    # A bounce, then a complaint for the same address, then the bounce again: were it
    # applied twice, the subscriber's status would go back from complained to bounced.
    apply_events(store, [event("hard-bounce")], T0)
    apply_events(store, [event("complaint", event_id="evt-c")], T0 + timedelta(minutes=1))
    before = snapshot(store)
    again = apply_events(store, [event("hard-bounce")], T0 + timedelta(hours=1))
    assert dict(again.outcomes) == {"duplicate": 1} and again.new == 0
    assert snapshot(store) == before
    reader = SubscriberStore(store).get("reader00001@example.com")
    assert reader is not None and reader.status == "complained"


def test_same_event_id_from_another_provider_is_another_event(store: Store) -> None:
    first = apply_events(store, [event("soft-bounce")], T0)
    second = apply_events(store, [event("soft-bounce", provider="sendgrid")], T0)
    assert first.new == second.new == 1
    assert len(snapshot(store)["events"]) == 2


def test_an_address_nobody_subscribed_is_still_suppressed(store: Store) -> None:
    apply_events(store, [event("hard-bounce", email="stranger@example.org")], T0)
    assert SubscriberStore(store).is_suppressed("stranger@example.org")
    # An import later does not bring it in.
    assert add_subscribers_outcome(store, "stranger@example.org") == "suppressed"


def add_subscribers_outcome(store: Store, email: str) -> str:
    return SubscriberStore(store).upsert(
        email, name="", status="active", timezone="UTC", subs=[], now=T0
    )


def test_a_replayed_token_applies_nothing(store: Store) -> None:
    add_subscribers(store, 3)
    apply_events(store, [event("soft-bounce", provider="mailgun", nonce="tok-1")], T0)
    before = snapshot(store)
    forged = event("hard-bounce", n=2, provider="mailgun", event_id="evt-forged", nonce="tok-1")
    with pytest.raises(WebhookAuthError, match="already used"):
        apply_events(store, [forged], T0)
    assert snapshot(store) == before
    # Mailgun retrying the very same event with its token is a harmless duplicate.
    retry = apply_events(store, [event("soft-bounce", provider="mailgun", nonce="tok-1")], T0)
    assert dict(retry.outcomes) == {"duplicate": 1}


def test_migration_creates_the_declared_table(store: Store) -> None:
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    mine = [d for d in diffs if "webhook_events" in repr(d)]
    assert mine == []
