"""Task-shaped writes of provider webhook events: record once, apply in the same commit.

A provider redelivers until it gets a 2xx, and may deliver the same event twice anyway
(STANDARDS PV-6). Recording an event and applying its suppression happen in one
transaction, keyed unique on (provider, event id): a repeat finds the row and changes
nothing, and a crash between the two cannot leave one without the other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from syndicate.errors import StoreError
from syndicate.store.core import Store
from syndicate.store.subscribers import suppress_in
from syndicate.store.webhook_schema import webhook_events

Recorded = Literal["suppressed", "already-suppressed", "recorded", "duplicate", "replayed"]


class _LostRace(Exception):
    """Another request recorded the same event (or nonce) first: roll back ours."""


class WebhookEventStore:
    """Provider webhook events in ``store``."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def record(
        self,
        *,
        provider: str,
        event_id: str,
        kind: str,
        email: str,
        provider_message_id: str | None,
        occurred_at: datetime,
        detail: dict[str, Any],
        nonce: str | None,
        suppress: str | None,
        suppress_detail: str,
        now: datetime,
    ) -> Recorded:
        """Record one event and, when ``suppress`` names a reason, suppress ``email``.

        Returns ``duplicate`` (and changes nothing) when (provider, event id) is already
        recorded, ``replayed`` (changing nothing) when ``nonce`` was already used by
        another event of the provider; otherwise ``suppressed`` (newly),
        ``already-suppressed`` or ``recorded`` (no suppression asked).
        """
        try:
            with self.engine.begin() as conn:
                seen = _seen(conn, provider, event_id, nonce)
                if seen is not None:
                    return seen
                outcome: Recorded = "recorded"
                if suppress is not None:
                    source = f"webhook:{provider}"
                    new = suppress_in(
                        conn, email, suppress, source=source, detail=suppress_detail, now=now
                    )
                    outcome = "suppressed" if new else "already-suppressed"
                insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert
                done = conn.execute(
                    insert(webhook_events)
                    .values(
                        provider=provider,
                        event_id=event_id,
                        kind=kind,
                        email=email,
                        provider_message_id=provider_message_id,
                        occurred_at=occurred_at,
                        received_at=now,
                        nonce=nonce,
                        outcome=outcome,
                        detail=detail,
                    )
                    .on_conflict_do_nothing()
                )
                if done.rowcount == 0:
                    raise _LostRace
                return outcome
        except _LostRace:
            with self.engine.connect() as conn:
                return _seen(conn, provider, event_id, nonce) or "duplicate"
        except SQLAlchemyError as err:
            raise StoreError(f"recording {provider} event {event_id!r} failed: {err}") from err


def _seen(
    conn: Connection, provider: str, event_id: str, nonce: str | None
) -> Literal["duplicate", "replayed"] | None:
    same = webhook_events.c.provider == provider
    query = select(webhook_events.c.event_id).where(same, webhook_events.c.event_id == event_id)
    if conn.execute(query).first() is not None:
        return "duplicate"
    if nonce is not None:
        query = select(webhook_events.c.event_id).where(same, webhook_events.c.nonce == nonce)
        if conn.execute(query).first() is not None:
            return "replayed"
    return None
