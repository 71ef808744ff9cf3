"""Reservations for queued tasks and claims of a task's ids, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from syndicate.delivery.dispatch import enqueue_edition
from syndicate.store import Store
from syndicate.store.outbox import Outbox
from tests.deliveryhelpers import SLOT, add_subscribers, channel, edition

LEASE = timedelta(seconds=60)
HOUR = timedelta(hours=1)


def queued(store: Store, count: int) -> tuple[Outbox, int]:
    add_subscribers(store, count)
    ed = edition(store)
    enqueue_edition(store, channel(), ed, SLOT)
    return Outbox(store), ed.id


def test_reserved_rows_are_not_due_for_others_until_the_reservation_ends(store: Store) -> None:
    outbox, edition_id = queued(store, 5)
    ids = outbox.reserve("task-a", now=SLOT, until=SLOT + HOUR, limit=3)
    assert len(ids) == 3
    # A second publishing pass and an inline sender only see the two free rows.
    assert len(outbox.reserve("task-b", now=SLOT, until=SLOT + HOUR, limit=10)) == 2
    assert outbox.claim("inline", now=SLOT, lease=LEASE, limit=10) == []
    assert outbox.due_editions(SLOT) == []
    assert outbox.status_counts(edition_id) == {"queued": 5}  # reserved rows stay queued
    assert outbox.next_due() == SLOT + HOUR  # a scheduler sleeps until reservations end
    # When the reservation ends (the task was lost), the rows are due again.
    later = SLOT + HOUR + timedelta(seconds=1)
    assert outbox.due_editions(later) == [edition_id]
    assert len(outbox.claim("inline", now=later, lease=LEASE, limit=10)) == 5


def test_a_task_claims_its_reserved_ids_once(store: Store) -> None:
    outbox, edition_id = queued(store, 4)
    ids = outbox.reserve("task-a", now=SLOT, until=SLOT + HOUR, limit=4)
    first = outbox.claim("w1-x", now=SLOT, lease=LEASE, limit=4, ids=ids[:2], reserved_by="task-a")
    assert [c.id for c in first] == ids[:2]
    assert all(c.attempts == 1 for c in first)  # reserving did not count an attempt
    # The same task run again (redelivered) finds its claimed rows held, not due.
    again = outbox.claim("w2-y", now=SLOT, lease=LEASE, limit=4, ids=ids, reserved_by="task-a")
    assert [c.id for c in again] == ids[2:]
    assert outbox.held_until(ids, SLOT) == SLOT + LEASE
    assert outbox.claim("w3-z", now=SLOT, lease=LEASE, limit=4, ids=ids) == []
    assert outbox.held_until([], SLOT) is None
    assert outbox.status_counts(edition_id) == {"sending": 4}


def test_reserving_takes_back_rows_of_a_dead_sender_and_unreserve_frees(store: Store) -> None:
    outbox, _ = queued(store, 2)
    dead = outbox.claim("dead", now=SLOT, lease=LEASE, limit=1)
    after = SLOT + LEASE + timedelta(seconds=1)
    ids = outbox.reserve("task-a", now=after, until=after + HOUR, limit=10)
    assert [dead[0].id] == ids[:1] and len(ids) == 2
    assert outbox.status_counts() == {"queued": 2}
    assert outbox.held_until(ids, after) is None
    assert outbox.unreserve("task-a") == 2
    assert len(outbox.claim("inline", now=after, lease=LEASE, limit=10)) == 2


def test_paused_channels_are_not_reserved(store: Store) -> None:
    outbox, _ = queued(store, 2)
    assert outbox.note_policy("world", 5, 5, SLOT, "5.7.1 blocked")
    assert outbox.reserve("task-a", now=SLOT, until=SLOT + HOUR, limit=10) == []
