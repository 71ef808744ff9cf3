"""Helpers for the deliverability guards' tests: many subscribers at once, by domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select

from syndicate.store import Store
from syndicate.store.delivery_schema import subscribers, subscriptions

# 10,000 readers over the four recipient groups, every domain of a group present.
DOMAINS: tuple[tuple[str, int], ...] = (
    ("gmail.com", 3000),
    ("googlemail.com", 1000),
    ("outlook.com", 1500),
    ("hotmail.com", 1000),
    ("live.com", 500),
    ("yahoo.com", 1000),
    ("example.org", 1200),
    ("mail.example.net", 800),
)


def bulk_subscribers(
    store: Store, domains: Sequence[tuple[str, int]], now: datetime, channel: str = "world"
) -> list[str]:
    """Active subscribers of ``channel`` (``reader<n>@<domain>``), interleaved across the
    domains so that the outbox's id order mixes the groups; returns the addresses."""
    emails: list[str] = []
    left = {d: n for d, n in domains}
    i = 0
    while any(left.values()):
        for domain, _ in domains:
            if left[domain]:
                left[domain] -= 1
                emails.append(f"reader{i:05d}@{domain}")
                i += 1
    with store.engine.begin() as conn:
        conn.execute(
            insert(subscribers),
            [
                {
                    "email": e,
                    "name": "",
                    "status": "active",
                    "timezone": "UTC",
                    "consent": {},
                    "created_at": now,
                    "updated_at": now,
                    "confirmed_at": now,
                }
                for e in emails
            ],
        )
        ids = dict(conn.execute(select(subscribers.c.email, subscribers.c.id)).all())
        conn.execute(
            insert(subscriptions),
            [
                {
                    "subscriber_id": ids[e],
                    "channel": channel,
                    "cadence": "edition",
                    "sections": [],
                    "created_at": now,
                }
                for e in emails
            ],
        )
    return emails
