"""Aggregate figures for monitoring (``/metrics``), read in one connection.

Every figure is one ``GROUP BY`` or aggregate query, so a scrape costs a handful of
index or table scans however often it runs; nothing here loads rows one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, extract, func, select
from sqlalchemy.exc import SQLAlchemyError

from syndicate.errors import StoreError
from syndicate.store.core import Store
from syndicate.store.delivery_schema import deliveries, subscribers, suppressions
from syndicate.store.schema import articles, source_state
from syndicate.store.webhook_schema import webhook_events


@dataclass(frozen=True, slots=True)
class Latency:
    """Seconds from enqueue to acceptance of every sent delivery, as histogram buckets:
    ``cumulative[i]`` deliveries took at most ``bounds[i]`` seconds."""

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    count: int
    total_seconds: float


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One polled source's error state."""

    name: str
    consecutive_errors: int
    last_error_at: datetime | None
    last_success_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoreFigures:
    """Everything ``/metrics`` reads from the store."""

    articles_by_source: dict[str, int]
    deliveries_by_status: dict[str, int]
    send_latency: Latency
    sources: tuple[SourceHealth, ...]
    suppressions_by_reason: dict[str, int]
    webhook_events: dict[tuple[str, str], int]


def store_figures(store: Store, latency_bounds: Sequence[float]) -> StoreFigures:
    """Read every figure; StoreError if the store cannot answer."""
    try:
        with store.engine.connect() as conn:
            return StoreFigures(
                articles_by_source=_counts(conn, articles.c.source),
                deliveries_by_status=_counts(conn, deliveries.c.status),
                send_latency=_latency(conn, tuple(latency_bounds)),
                sources=tuple(
                    SourceHealth(r.name, r.consecutive_errors, r.last_error_at, r.last_success_at)
                    for r in conn.execute(
                        select(
                            source_state.c.name,
                            source_state.c.consecutive_errors,
                            source_state.c.last_error_at,
                            source_state.c.last_success_at,
                        ).order_by(source_state.c.name)
                    )
                ),
                suppressions_by_reason=_counts(conn, suppressions.c.reason),
                webhook_events={
                    (r[0], r[1]): int(r[2])
                    for r in conn.execute(
                        select(
                            webhook_events.c.provider, webhook_events.c.kind, func.count()
                        ).group_by(webhook_events.c.provider, webhook_events.c.kind)
                    )
                },
            )
    except SQLAlchemyError as err:
        raise StoreError(f"reading monitoring figures failed: {err}") from err


def delivery_counts_by_edition(
    store: Store, edition_ids: Sequence[int] | None = None
) -> dict[int, dict[str, int]]:
    """Deliveries per status for each edition (of ``edition_ids`` when given), in one
    ``GROUP BY``; editions without deliveries are absent."""
    query = select(deliveries.c.edition_id, deliveries.c.status, func.count()).group_by(
        deliveries.c.edition_id, deliveries.c.status
    )
    if edition_ids is not None:
        query = query.where(deliveries.c.edition_id.in_(list(edition_ids)))
    out: dict[int, dict[str, int]] = {}
    try:
        with store.engine.connect() as conn:
            for edition_id, status, n in conn.execute(query):
                out.setdefault(int(edition_id), {})[str(status)] = int(n)
    except SQLAlchemyError as err:
        raise StoreError(f"reading delivery counts failed: {err}") from err
    return out


def active_audience(store: Store) -> int:
    """Active subscribers whose address is not suppressed: everyone a send could reach."""
    query = (
        select(func.count())
        .select_from(subscribers)
        .outerjoin(suppressions, suppressions.c.email == subscribers.c.email)
        .where(subscribers.c.status == "active", suppressions.c.email.is_(None))
    )
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _counts(conn: Connection, column: Any) -> dict[str, int]:
    rows = conn.execute(select(column, func.count()).group_by(column))
    return {str(key): int(n) for key, n in rows}


def _latency(conn: Connection, bounds: tuple[float, ...]) -> Latency:
    sent, created = deliveries.c.sent_at, deliveries.c.created_at
    if conn.dialect.name == "postgresql":
        seconds: Any = extract("epoch", sent - created)
    else:  # SQLite keeps datetimes as text; julianday() reads them (days, fractional)
        seconds = (func.julianday(sent) - func.julianday(created)) * 86400.0
    row = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(seconds), 0.0),
            *(func.coalesce(func.sum(case((seconds <= b, 1), else_=0)), 0) for b in bounds),
        ).where(deliveries.c.status == "sent", sent.is_not(None))
    ).one()
    return Latency(bounds, tuple(int(n) for n in row[2:]), int(row[0]), float(row[1]))
