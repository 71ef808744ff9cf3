"""The console's tables and queries on SQLite and PostgreSQL: migration 0018 creates
exactly the schema; passwords are argon2id hashes; a draft's notice is claimed once;
the outbox views the console shows."""

from __future__ import annotations

from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from syndicate.delivery.dispatch import enqueue_edition
from syndicate.store import Store
from syndicate.store.console_schema import operators
from syndicate.store.editions import NewEdition, save_edition
from syndicate.store.operators import Operators
from syndicate.store.outbox import Outbox
from syndicate.store.oversight import (
    delivery_of,
    pause_channel,
    progress,
    retry_failed,
    suppression_of,
    unsuppress,
)
from syndicate.store.reviews import claim_notice, review_of
from syndicate.store.schema import metadata
from syndicate.store.subscribers import SubscriberStore
from tests.deliveryhelpers import HTML, SLOT, TEXT, add_subscribers, channel

TABLES = ("operators", "console_sessions", "audit_log", "edition_reviews")


def test_migration_matches_the_table_definitions(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if any(t in repr(d) for t in TABLES)] == []


def test_passwords_are_stored_as_argon2id_hashes(store: Store) -> None:
    Operators(store).add("Ana@News.example", "editor", "a long enough password", SLOT)
    with store.engine.connect() as conn:
        row = conn.execute(operators.select()).one()
    assert row.email == "ana@news.example"
    assert row.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in row.password_hash


def test_a_drafts_notice_is_claimed_once(store: Store) -> None:
    record, _ = save_edition(
        store,
        NewEdition("world", SLOT, ("a",), (), "s", "", HTML, TEXT, SLOT, status="draft"),
    )
    assert claim_notice(store, record.id, SLOT) is True
    assert claim_notice(store, record.id, SLOT + timedelta(minutes=5)) is False
    assert review_of(store, record.id).notified_at == SLOT


def test_the_outbox_views_and_controls(store: Store) -> None:
    record, _ = save_edition(
        store, NewEdition("world", SLOT, ("a",), (), "s", "", HTML, TEXT, SLOT)
    )
    emails = add_subscribers(store, 3)
    assert enqueue_edition(store, channel(), record, SLOT) == 3
    row = delivery_of(store, record.id, emails[0].upper())
    assert row is not None and row.status == "queued" and row.attempts == 0
    assert delivery_of(store, record.id, "nobody@example.com") is None
    assert progress(store, record.id).counts == {"queued": 3}
    with store.engine.begin() as conn:
        from syndicate.store.delivery_schema import deliveries

        conn.execute(deliveries.update().values(status="failed", last_error="550 no"))
    assert retry_failed(store, record.id, SLOT) == 3
    assert progress(store, record.id).counts == {"queued": 3}
    assert pause_channel(store, "world", "by hand", SLOT) is True
    assert pause_channel(store, "world", "again", SLOT) is False
    assert Outbox(store).paused() == {"world": (SLOT, "by hand")}
    people = SubscriberStore(store)
    people.suppress(emails[1], "bounced", source="test", detail="550", now=SLOT)
    assert suppression_of(store, emails[1]) == {
        "reason": "bounced",
        "source": "test",
        "detail": "550",
    }
    assert unsuppress(store, emails[1], SLOT) is True
    found = people.get(emails[1])
    assert found is not None and found.status == "active"
    people.suppress(emails[2], "unsubscribed", source="test", detail="", now=SLOT)
    unsuppress(store, emails[2], SLOT)
    gone = people.get(emails[2])
    assert gone is not None and gone.status == "unsubscribed"  # only they can undo that
