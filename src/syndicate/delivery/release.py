"""Approving an edition and, when its slot has come, enqueueing it at once.

An edition approved before its slot waits for the scheduler, which enqueues it at the
slot. One approved after its slot (an ``approve``-mode draft, or a held one) is
enqueued right away, so it does not wait for the scheduler's next pass; enqueueing is
idempotent, so the scheduler finding it later adds nothing.
"""

from __future__ import annotations

from datetime import datetime

from syndicate.config import ChannelConfig
from syndicate.delivery.dispatch import enqueue_edition
from syndicate.digest.review import approve
from syndicate.store import Store
from syndicate.store.editions import EditionRecord


def approve_and_release(
    store: Store, channel: ChannelConfig | None, edition_id: int, actor: str, now: datetime
) -> tuple[EditionRecord, int]:
    """Approve ``edition_id`` (:func:`syndicate.digest.review.approve`; ReviewError if it
    cannot be) and enqueue it if its slot has passed; the edition and how many
    deliveries were queued."""
    record = approve(store, edition_id, actor, now)
    if channel is None or record.slot > now:
        return record, 0
    return record, enqueue_edition(store, channel, record, now)
