"""A subscriber's data on request: everything the store holds about one address, and
its erasure (keeping only a hash so the address is never mailed again).

What the store holds about a person: ``subscribers`` (profile), ``subscriptions``,
``subscription_requests``, ``consent_records``, ``deliveries`` (the outbox, which
editions were sent when), ``suppressions``, ``webhook_events`` and the sign-up guard's
``confirmation_sends`` (by address), and the console's ``audit_log`` (entries whose
target is the address). Every table that refers to a subscriber does so with ``ON
DELETE CASCADE``; those that hold the address itself are cleared by address, and an
audit entry keeps only that an operator acted, on a hash of the address.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from syndicate.store.consent_schema import consent_records, erased_addresses
from syndicate.store.consents import email_hash, erased_in
from syndicate.store.console_schema import audit_log
from syndicate.store.core import Store
from syndicate.store.deliverability_schema import confirmation_sends
from syndicate.store.delivery_schema import deliveries, subscribers, subscriptions, suppressions
from syndicate.store.schema import editions
from syndicate.store.signup_schema import subscription_requests
from syndicate.store.webhook_schema import webhook_events


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class PrivacyStore:
    """Reading out and erasing one person's data in ``store``."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def data_of(self, email: str) -> dict[str, Any] | None:
        """Everything held about ``email`` as JSON-ready values (no message bodies),
        or ``None`` when the store knows nothing about it."""
        with self.engine.connect() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.email == email)).first()
            suppressed = conn.execute(
                select(suppressions).where(suppressions.c.email == email)
            ).first()
            events = conn.execute(
                select(webhook_events)
                .where(webhook_events.c.email == email)
                .order_by(webhook_events.c.id)
            ).all()
            if row is None and suppressed is None and not events:
                return None
            data: dict[str, Any] = {"email": email}
            if row is not None:
                data.update(_person(conn, row))
            data["suppression"] = (
                None
                if suppressed is None
                else {
                    "reason": suppressed.reason,
                    "source": suppressed.source,
                    "detail": suppressed.detail,
                    "since": _iso(suppressed.created_at),
                }
            )
            data["provider_events"] = [
                {
                    "provider": e.provider,
                    "kind": e.kind,
                    "occurred_at": _iso(e.occurred_at),
                    "received_at": _iso(e.received_at),
                    "outcome": e.outcome,
                }
                for e in events
            ]
        return data

    def erase(self, email: str, now: datetime) -> bool:
        """Delete everything held about ``email`` in one transaction and keep only its
        hash, so no import, operator or send mails it again. True if anything was held."""
        with self.engine.begin() as conn:
            held = conn.execute(delete(subscribers).where(subscribers.c.email == email)).rowcount
            held += conn.execute(delete(suppressions).where(suppressions.c.email == email)).rowcount
            held += conn.execute(
                delete(webhook_events).where(webhook_events.c.email == email)
            ).rowcount
            # The sign-up guard's "one confirmation a day" row names the address too.
            held += conn.execute(
                delete(confirmation_sends).where(confirmation_sends.c.email == email)
            ).rowcount
            # The console's audit log keeps that an operator acted, not on whom.
            conn.execute(
                update(audit_log)
                .where(audit_log.c.target == email)
                .values(target=f"erased:{email_hash(email)[:16]}", before=None, after=None)
            )
            if not erased_in(conn, email):
                conn.execute(
                    insert(erased_addresses).values(email_hash=email_hash(email), erased_at=now)
                )
        return bool(held)


def _person(conn: Connection, row: Any) -> dict[str, Any]:
    sid = row.id
    subs = conn.execute(
        select(subscriptions)
        .where(subscriptions.c.subscriber_id == sid)
        .order_by(subscriptions.c.channel)
    ).all()
    waiting = conn.execute(
        select(subscription_requests)
        .where(subscription_requests.c.subscriber_id == sid)
        .order_by(subscription_requests.c.id)
    ).all()
    records = conn.execute(
        select(consent_records)
        .where(consent_records.c.subscriber_id == sid)
        .order_by(consent_records.c.id)
    ).all()
    sent = conn.execute(
        select(
            deliveries.c.edition_id,
            deliveries.c.status,
            deliveries.c.attempts,
            deliveries.c.created_at,
            deliveries.c.sent_at,
            deliveries.c.last_error,
            editions.c.channel,
            editions.c.cadence,
            editions.c.slot,
            editions.c.subject,
        )
        .join(editions, editions.c.id == deliveries.c.edition_id)
        .where(deliveries.c.subscriber_id == sid)
        .order_by(deliveries.c.id)
    ).all()
    return {
        "profile": {
            "name": row.name,
            "status": row.status,
            "timezone": row.timezone,
            "created_at": _iso(row.created_at),
            "confirmed_at": _iso(row.confirmed_at),
            "unsubscribed_at": _iso(row.unsubscribed_at),
        },
        "subscriptions": [
            {
                "channel": s.channel,
                "cadence": s.cadence,
                "sections": list(s.sections),
                "since": _iso(s.created_at),
            }
            for s in subs
        ],
        "pending_requests": [
            {
                "channel": r.channel,
                "cadence": r.cadence,
                "sections": list(r.sections),
                "requested_at": _iso(r.requested_at),
                "consent": r.consent,
            }
            for r in waiting
        ],
        "consent_records": [
            {
                "channel": c.channel,
                "method": c.method,
                "source": c.source,
                "given_at": _iso(c.given_at),
                "confirmed_at": _iso(c.confirmed_at),
                "recorded_at": _iso(c.recorded_at),
                "detail": c.detail,
            }
            for c in records
        ],
        "legacy_consent": row.consent,
        "deliveries": [
            {
                "edition": d.edition_id,
                "channel": d.channel,
                "cadence": d.cadence,
                "slot": _iso(d.slot),
                "subject": d.subject,
                "status": d.status,
                "attempts": d.attempts,
                "queued_at": _iso(d.created_at),
                "sent_at": _iso(d.sent_at),
                "last_error": d.last_error,
            }
            for d in sent
        ],
    }
