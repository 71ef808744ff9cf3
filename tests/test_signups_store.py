"""Double opt-in in the store (SQLite and PostgreSQL): a request is never a subscription
until it is confirmed; confirming is one transaction that keeps the proof of consent;
nothing confirmed can be changed by someone who only typed an address."""

from __future__ import annotations

from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from syndicate.delivery.dispatch import audience
from syndicate.models import Subscription
from syndicate.store import Store
from syndicate.store.schema import metadata
from syndicate.store.signups import SignupStore
from syndicate.store.subscribers import SubscriberStore
from tests.deliveryhelpers import SLOT, add_subscribers, channel

WORLD = Subscription("world", "edition", ("World",))
PROOF = {"source": "web", "ip": "192.0.2.7", "user_agent": "test", "form": "/subscribe/world"}


def world_audience(store: Store) -> list[int]:
    return list(audience(store, channel(), SLOT, ["World"]))


def test_migration_matches_the_table_definition(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    mine = [d for d in diff if "subscription_requests" in repr(d)]
    assert mine == []


def test_a_request_is_not_a_subscription_until_confirmed(store: Store) -> None:
    signups = SignupStore(store)
    done = signups.request(
        "ana@example.com", name="Ana", subscription=WORLD, consent=PROOF, now=SLOT
    )
    assert done.outcome == "mail" and done.pending is not None
    sid = done.pending.subscriber_id
    ana = SubscriberStore(store).get("ana@example.com")
    assert ana is not None and ana.status == "pending" and ana.subscriptions == ()
    assert world_audience(store) == []
    pending = signups.pending(sid, "world")
    assert (
        pending is not None and pending.subscription == WORLD and pending.email == "ana@example.com"
    )

    later = SLOT + timedelta(hours=1)
    click = {"source": "web", "ip": "198.51.100.1", "user_agent": "browser", "form": "confirm"}
    assert signups.confirm(sid, "world", consent=click, now=later) == "confirmed"
    ana = SubscriberStore(store).get("ana@example.com")
    assert ana is not None and ana.status == "active" and ana.confirmed_at == later
    assert ana.subscriptions == (WORLD,)
    assert world_audience(store) == [sid]
    assert signups.pending(sid, "world") is None
    with store.engine.connect() as conn:
        from sqlalchemy import select

        from syndicate.store.delivery_schema import subscribers

        proof = conn.execute(select(subscribers.c.consent)).scalar_one()
    assert proof["web"]["world"]["requested"]["ip"] == "192.0.2.7"
    assert proof["web"]["world"]["confirmed"]["ip"] == "198.51.100.1"
    assert proof["web"]["world"]["confirmed"]["at"] == later.isoformat()
    # A second click changes nothing and says so.
    assert signups.confirm(sid, "world", consent=click, now=later) == "already"
    assert signups.confirm(sid, "economy", consent=click, now=later) == "missing"
    assert signups.confirm(sid + 100, "world", consent=click, now=later) == "missing"


def test_a_request_for_an_active_subscriber_changes_nothing_confirmed(store: Store) -> None:
    add_subscribers(store, 1)  # reader00000, active on world with every section
    signups = SignupStore(store)
    email = "reader00000@example.com"
    same = signups.request(email, name="Mallory", subscription=WORLD, consent=PROOF, now=SLOT)
    assert same.outcome == "subscribed" and same.pending is None
    economy = Subscription("economy", "daily")
    other = signups.request(email, name="Mallory", subscription=economy, consent=PROOF, now=SLOT)
    assert other.outcome == "mail"
    reader = SubscriberStore(store).get(email)
    assert reader is not None and reader.name == "Reader 0"  # not renamed by a stranger
    assert [s.channel for s in reader.subscriptions] == ["world"]
    assert reader.subscriptions[0].sections == ()  # WORLD's sections were not applied


def test_asking_again_replaces_the_request(store: Store) -> None:
    signups = SignupStore(store)
    first = signups.request(
        "bo@example.com", name="Bo", subscription=WORLD, consent=PROOF, now=SLOT
    )
    weekly = Subscription("world", "weekly")
    again = signups.request(
        "bo@example.com", name="Bo B", subscription=weekly, consent=PROOF, now=SLOT
    )
    assert first.pending is not None and again.pending is not None
    assert again.pending.id != first.pending.id
    assert again.pending.subscriber_id == first.pending.subscriber_id
    pending = signups.pending(first.pending.subscriber_id, "world")
    assert pending is not None and pending.subscription == weekly
    bo = SubscriberStore(store).get("bo@example.com")
    assert bo is not None and bo.name == "Bo B"  # still pending: their own latest word


def test_bounced_and_complained_addresses_get_nothing(store: Store) -> None:
    people = SubscriberStore(store)
    add_subscribers(store, 2)
    people.suppress("reader00000@example.com", "bounced", source="smtp", detail="5.1.1", now=SLOT)
    people.suppress("reader00001@example.com", "complained", source="fbl", detail="", now=SLOT)
    people.suppress("never@example.com", "complained", source="fbl", detail="", now=SLOT)
    signups = SignupStore(store)
    economy = Subscription("economy")
    for email in ("reader00000@example.com", "reader00001@example.com", "never@example.com"):
        done = signups.request(email, name="", subscription=economy, consent=PROOF, now=SLOT)
        assert done.outcome == "blocked", email
    assert people.get("never@example.com") is None


def test_an_unsubscribed_address_can_come_back_by_confirming(store: Store) -> None:
    add_subscribers(store, 1)
    people = SubscriberStore(store)
    people.unsubscribe(1, "world", source="web", now=SLOT)
    assert people.is_suppressed("reader00000@example.com")
    signups = SignupStore(store)
    done = signups.request(
        "reader00000@example.com", name="", subscription=WORLD, consent=PROOF, now=SLOT
    )
    assert done.outcome == "mail"
    assert world_audience(store) == []  # still out until the click
    assert signups.confirm(1, "world", consent=PROOF, now=SLOT) == "confirmed"
    assert not people.is_suppressed("reader00000@example.com")
    assert world_audience(store) == [1]


def test_expired_requests_and_unconfirmed_addresses_are_purged(store: Store) -> None:
    signups = SignupStore(store)
    old = signups.request("old@example.com", name="", subscription=WORLD, consent=PROOF, now=SLOT)
    fresh_time = SLOT + timedelta(days=6)
    signups.request("new@example.com", name="", subscription=WORLD, consent=PROOF, now=fresh_time)
    add_subscribers(store, 1)  # active: never purged
    assert signups.purge_expired(SLOT + timedelta(days=1)) == 1
    people = SubscriberStore(store)
    assert people.get("old@example.com") is None
    assert people.get("new@example.com") is not None
    assert people.get("reader00000@example.com") is not None
    assert old.pending is not None
    assert signups.confirm(old.pending.subscriber_id, "world", consent=PROOF, now=SLOT) == "missing"


def test_preferences_change_only_existing_subscriptions(store: Store) -> None:
    add_subscribers(store, 1)
    signups = SignupStore(store)
    changed = signups.update_preferences(
        1,
        name="Reader Zero",
        timezone="Europe/Paris",
        subs=[Subscription("world", "weekly", ("World",)), Subscription("economy", "daily")],
        now=SLOT,
    )
    assert changed
    reader = SubscriberStore(store).get_by_id(1)
    assert reader is not None
    assert (reader.name, reader.timezone) == ("Reader Zero", "Europe/Paris")
    assert reader.subscriptions == (Subscription("world", "weekly", ("World",)),)
    unchanged = signups.update_preferences(
        1,
        name="Reader Zero",
        timezone="Europe/Paris",
        subs=[Subscription("world", "weekly", ("World",))],
        now=SLOT,
    )
    assert not unchanged
