"""A subscriber's data on request (issue 17 item 5), in the store (SQLite, PostgreSQL):
the export holds everything about them and no message bodies; erasure leaves nothing
personal in any table (checked table by table over the store's metadata), keeps the
address's hash so that no import, operator or sign-up mails it again uninvited, and
leaves everybody else alone."""

from __future__ import annotations

import json
from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from syndicate.delivery.dispatch import enqueue_edition
from syndicate.models import Subscription
from syndicate.store import Store
from syndicate.store.consent_schema import erased_addresses
from syndicate.store.consents import email_hash
from syndicate.store.guards import Guards
from syndicate.store.operators import Operators
from syndicate.store.schema import metadata
from syndicate.store.signups import SignupStore
from syndicate.store.subscribers import SubscriberStore
from syndicate.store.webhook_events import WebhookEventStore
from syndicate.subscribers.privacy import erase, export_data
from tests.deliveryhelpers import SLOT, add_subscribers, channel, dispatcher, edition
from tests.importhelpers import personal_traces

ANA = "ana@example.com"
FORM = {
    "source": "web",
    "form": "/subscribe/world",
    "network": "203.0.113.0/24",
    "user_agent": "Mozilla/5.0 (Ana's laptop)",
}


def test_migration_matches_the_table_definitions(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    mine = [d for d in diff if "consent_records" in repr(d) or "erased_addresses" in repr(d)]
    assert mine == []


def ana_with_a_history(store: Store) -> int:
    """Ana signs up by the form, confirms, receives an edition; a provider reports on her."""
    signups = SignupStore(store)
    done = signups.request(
        ANA, name="Ana Alves", subscription=Subscription("world"), consent=FORM, now=SLOT
    )
    assert done.pending is not None
    sid = done.pending.subscriber_id
    click = {**FORM, "form": "confirm", "network": "198.51.100.0/24"}
    assert signups.confirm(sid, "world", consent=click, now=SLOT) == "confirmed"
    add_subscribers(store, 2)  # somebody else, who must keep everything
    enqueue_edition(store, channel(), edition(store), SLOT)
    d, _ = dispatcher(store)
    assert d.run().total == 3
    # The sign-up guard noted her confirmation mail; an operator unsuppressed her once.
    assert Guards(store).note_confirmation(ANA, SLOT, SLOT - timedelta(days=1))
    Operators(store).audit(
        "editor@news.example", "suppression.remove", ANA, SLOT, before={"email": ANA}
    )
    WebhookEventStore(store).record(
        provider="postmark",
        event_id="evt-1",
        kind="delivery",
        email=ANA,
        provider_message_id="pm-1",
        occurred_at=SLOT,
        detail={"Recipient": ANA},
        nonce=None,
        suppress=None,
        suppress_detail="",
        now=SLOT,
    )
    return sid


def test_the_export_holds_everything_and_no_bodies(store: Store) -> None:
    ana_with_a_history(store)
    data = export_data(store, ANA, SLOT)
    assert data is not None
    assert data["email"] == ANA and data["profile"]["name"] == "Ana Alves"
    assert data["subscriptions"] == [
        {"channel": "world", "cadence": "edition", "sections": [], "since": SLOT.isoformat()}
    ]
    (record,) = data["consent_records"]
    assert record["method"] == "form" and record["channel"] == "world"
    assert record["detail"]["network"] == "203.0.113.0/24"
    assert record["detail"]["optin"] == "double"
    (sent,) = data["deliveries"]
    assert sent["status"] == "sent" and sent["subject"].startswith("Moscow Eyes")
    assert [e["kind"] for e in data["provider_events"]] == ["delivery"]
    text = json.dumps(data)
    assert "<html" not in text and "Unsubscribe:" not in text  # no message bodies
    assert export_data(store, "nobody@example.com", SLOT) is None


def test_erasure_leaves_nothing_personal_table_by_table(store: Store) -> None:
    sid = ana_with_a_history(store)
    needles = (ANA, "Ana Alves", "203.0.113.0/24", "198.51.100.0/24", "Ana's laptop")
    assert personal_traces(store, needles, sid)  # the check can see her before...
    others_before = {s.email for s in SubscriberStore(store).iter_all()} - {ANA}

    assert erase(store, ANA, SLOT + timedelta(days=1)) is True
    assert personal_traces(store, needles, sid) == []  # ...and nothing after
    with store.engine.connect() as conn:
        hashes = conn.execute(select(erased_addresses.c.email_hash)).scalars().all()
    assert hashes == [email_hash(ANA)]
    people = SubscriberStore(store)
    assert {s.email for s in people.iter_all()} == others_before
    assert export_data(store, ANA, SLOT) is None
    # Never mailed again uninvited: an import or an operator "add" refuses the address...
    assert people.is_suppressed(ANA)
    outcome = people.upsert(
        ANA, name="Ana", status="active", timezone="UTC", subs=[Subscription("world")], now=SLOT
    )
    assert outcome == "suppressed" and people.get(ANA) is None
    # ...erasing again is harmless...
    assert erase(store, ANA, SLOT) is False
    # ...and only her own fresh, confirmed sign-up lifts it.
    signups = SignupStore(store)
    again = signups.request(
        ANA, name="", subscription=Subscription("world"), consent=FORM, now=SLOT
    )
    assert again.pending is not None
    assert signups.confirm(again.pending.subscriber_id, "world", consent=FORM, now=SLOT) == (
        "confirmed"
    )
    assert not people.is_suppressed(ANA)
