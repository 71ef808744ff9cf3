"""Task-shaped queries for sunsetting: who has soft-bounced for days, who never confirmed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select

from syndicate.store.core import Store
from syndicate.store.delivery_schema import deliveries, subscribers
from syndicate.store.subscribers import suppress_in

# Outbox statuses of an attempt that did not reach the mailbox: ``deferred`` (a soft
# bounce, retried) and ``failed`` (retries used up, or a permanent answer).
FAILING = ("deferred", "failed")


class SunsetStore:
    """The two kinds of address a sunset cleans, and cleaning them."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def soft_bounced_since(self, cutoff: datetime) -> list[str]:
        """Active subscribers failing since at least ``cutoff``: a delivery to them made
        at or before ``cutoff`` was attempted and failed (or is still deferred), and no
        delivery to them has been sent since it was made. By address."""
        failing = (
            select(
                deliveries.c.subscriber_id.label("sid"),
                func.max(deliveries.c.created_at).label("failing_at"),
            )
            .where(
                deliveries.c.status.in_(FAILING),
                deliveries.c.attempts > 0,
                deliveries.c.created_at <= cutoff,
            )
            .group_by(deliveries.c.subscriber_id)
            .subquery()
        )
        sent = (
            select(
                deliveries.c.subscriber_id.label("sid"),
                func.max(deliveries.c.sent_at).label("sent_at"),
            )
            .where(deliveries.c.status == "sent")
            .group_by(deliveries.c.subscriber_id)
            .subquery()
        )
        query = (
            select(subscribers.c.email)
            .join(failing, failing.c.sid == subscribers.c.id)
            .outerjoin(sent, sent.c.sid == subscribers.c.id)
            .where(
                subscribers.c.status == "active",
                or_(sent.c.sent_at.is_(None), sent.c.sent_at < failing.c.failing_at),
            )
            .order_by(subscribers.c.email)
        )
        with self.engine.connect() as conn:
            return [r.email for r in conn.execute(query)]

    def unconfirmed_since(self, cutoff: datetime) -> list[str]:
        """Pending subscribers (never confirmed) added at or before ``cutoff``."""
        query = (
            select(subscribers.c.email)
            .where(subscribers.c.status == "pending", subscribers.c.created_at <= cutoff)
            .order_by(subscribers.c.email)
        )
        with self.engine.connect() as conn:
            return [r.email for r in conn.execute(query)]

    def clean_bounced(self, emails: list[str], *, detail: str, now: datetime) -> int:
        """Suppress ``emails`` as bounced (source ``sunset``); the number newly suppressed."""
        with self.engine.begin() as conn:
            return sum(
                suppress_in(conn, e, "bounced", source="sunset", detail=detail, now=now)
                for e in emails
            )

    def drop_unconfirmed(self, emails: list[str]) -> int:
        """Delete pending subscribers ``emails`` (and their requests); they never
        agreed, so nothing of them is kept. The number deleted."""
        if not emails:
            return 0
        with self.engine.begin() as conn:
            done = conn.execute(
                delete(subscribers).where(
                    subscribers.c.email.in_(emails), subscribers.c.status == "pending"
                )
            )
        return int(done.rowcount)
