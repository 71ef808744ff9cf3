"""Task-shaped queries over consent records and erased addresses.

A consent record says how and when a subscriber agreed to receive a channel: a form
(with the client's network only), an import (file name and row) or an operator. Erased
addresses are kept only as :func:`email_hash`, so they are never mailed again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from syndicate.store.consent_schema import consent_records, erased_addresses
from syndicate.store.core import Store

# A fixed prefix: the hash is of "syndicate-erased:" + the normalised address, so the
# table cannot be joined with an unsalted hash list made for another purpose.
_HASH_PREFIX = b"syndicate-erased:"


def email_hash(email: str) -> str:
    """The hex SHA-256 an erased address is remembered by (``email`` normalised)."""
    return hashlib.sha256(_HASH_PREFIX + email.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """How and when consent for ``channel`` ("" for every channel) was given."""

    channel: str
    method: str
    source: str
    given_at: datetime | None
    confirmed_at: datetime | None
    recorded_at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The record as JSON-ready values (times in ISO 8601)."""
        return {
            "channel": self.channel,
            "method": self.method,
            "source": self.source,
            "given_at": _iso(self.given_at),
            "confirmed_at": _iso(self.confirmed_at),
            "recorded_at": _iso(self.recorded_at),
            "detail": dict(self.detail),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def record_in(conn: Connection, subscriber_id: int, record: ConsentRecord) -> None:
    """Add ``record`` for the subscriber inside the caller's transaction."""
    conn.execute(
        insert(consent_records).values(
            subscriber_id=subscriber_id,
            channel=record.channel,
            method=record.method,
            source=record.source,
            given_at=record.given_at,
            confirmed_at=record.confirmed_at,
            recorded_at=record.recorded_at,
            detail=dict(record.detail),
        )
    )


def erased_in(conn: Connection, email: str) -> bool:
    """True if ``email`` was erased (its hash is kept), inside the caller's transaction."""
    found = conn.execute(
        select(erased_addresses.c.email_hash).where(
            erased_addresses.c.email_hash == email_hash(email)
        )
    )
    return found.first() is not None


class ConsentStore:
    """Consent records in ``store``."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def add(self, subscriber_id: int, record: ConsentRecord) -> None:
        """Keep ``record`` for the subscriber."""
        with self.engine.begin() as conn:
            record_in(conn, subscriber_id, record)

    def of(self, subscriber_id: int) -> list[ConsentRecord]:
        """The subscriber's records, oldest first."""
        query = (
            select(consent_records)
            .where(consent_records.c.subscriber_id == subscriber_id)
            .order_by(consent_records.c.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            ConsentRecord(
                r.channel, r.method, r.source, r.given_at, r.confirmed_at, r.recorded_at, r.detail
            )
            for r in rows
        ]

    def is_erased(self, email: str) -> bool:
        """True if ``email`` was erased."""
        with self.engine.connect() as conn:
            return erased_in(conn, email)
