"""Applying normalised events to the store: suppress on hard bounce, complaint and
unsubscribe; record a soft bounce; change nothing for an event seen before."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from syndicate.delivery.breakers import Breakers
from syndicate.errors import WebhookAuthError
from syndicate.store import Store
from syndicate.store.webhook_events import WebhookEventStore
from syndicate.webhooks.events import Event

log = logging.getLogger(__name__)

MAX_DETAIL = 2000  # characters of the suppression's ``detail`` text


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying a request's events did, by outcome (see ``WebhookEventStore.record``)."""

    outcomes: Counter[str]

    @property
    def duplicates(self) -> int:
        """Events seen before, which changed nothing."""
        return self.outcomes["duplicate"]

    @property
    def new(self) -> int:
        """Events recorded now (with or without a new suppression)."""
        return sum(n for k, n in self.outcomes.items() if k != "duplicate")


def apply_events(
    store: Store, events: Iterable[Event], now: datetime, *, breakers: Breakers | None = None
) -> Applied:
    """Record each event and apply its suppression, each in its own transaction.

    A new hard bounce or complaint also counts against ``breakers`` (a duplicate
    counts once), which may pause the recipient group of the edition it is about.

    A one-use token (``Event.nonce``) that another event already used means the request
    was replayed with a different event: WebhookAuthError, and nothing of that event is
    applied.
    """
    events_store = WebhookEventStore(store)
    outcomes: Counter[str] = Counter()
    for event in events:
        outcome = events_store.record(
            provider=event.provider,
            event_id=event.event_id,
            kind=event.kind,
            email=event.email,
            provider_message_id=event.provider_message_id,
            occurred_at=event.occurred_at,
            detail=event.detail,
            nonce=event.nonce,
            suppress=event.suppresses,
            suppress_detail=_summary(event),
            now=now,
        )
        if outcome == "replayed":
            raise WebhookAuthError(
                f"{event.provider}: signing token already used by another event (a replay)",
                provider=event.provider,
            )
        log.info(
            "%s webhook: %s for %s (event %s): %s",
            event.provider,
            event.kind,
            event.email,
            event.event_id,
            outcome,
        )
        outcomes[outcome] += 1
        if breakers is not None and outcome != "duplicate":
            breakers.note_event(event.kind, event.email, event.provider_message_id, now)
    return Applied(outcomes)


def _summary(event: Event) -> str:
    text = json.dumps({"kind": event.kind, "event_id": event.event_id, **event.detail}, default=str)
    return text[:MAX_DETAIL]
