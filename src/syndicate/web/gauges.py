"""Prometheus figures for ``/metrics``, read from the store and the published feeds at
scrape time.

The process serving ``/metrics`` is usually not the one that ingests and sends (the
daemon is), so nothing is counted in memory: a custom collector asks the store for
aggregates (:func:`syndicate.store.stats.store_figures`) and stats the published feed
files on every scrape. If the store cannot answer, ``syndicate_store_up`` is 0 and the
store's figures are left out rather than failing the scrape. The last ``syndicate
doctor`` run's results are read from the file it leaves (``[doctor] state_file``).
Names and meanings are listed in ``docs/monitoring.md``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from syndicate.doctor.results import STATUS_VALUES, STATUSES, Report
from syndicate.errors import SyndicateError
from syndicate.store import Store
from syndicate.store.delivery_schema import DELIVERY_STATUSES
from syndicate.store.domain_groups import GROUPS, GroupPauses
from syndicate.store.guards import Guards
from syndicate.store.stats import StoreFigures, store_figures
from syndicate.subscribers.abuse import COUNTER as SIGNUP_COUNTER
from syndicate.subscribers.abuse import REASONS as SIGNUP_REASONS

log = logging.getLogger(__name__)

# Send latency buckets (seconds): a digest goes out in seconds to minutes; retries after
# a deferral take from 5 minutes (min_backoff) to days (max_age_hours).
LATENCY_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0, 5 * 86400.0)
SUPPRESSION_REASONS = ("bounced", "complained", "unsubscribed")


@dataclass(frozen=True, slots=True)
class PublishedFeed:
    """A subscription document the last build published, and where its file is."""

    channel: str
    format: str
    path: Path


class SyndicateCollector(Collector):
    """Collects the figures on each scrape.

    ``store`` opens (or returns) the store; ``feeds`` lists the published subscription
    documents (empty before the first build). Both are called on every scrape.
    """

    def __init__(
        self,
        store: Callable[[], Store],
        feeds: Callable[[], Iterable[PublishedFeed]],
        doctor: Callable[[], Report | None] = lambda: None,
    ) -> None:
        self.store = store
        self.feeds = feeds
        self.doctor = doctor

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: describing would mean querying the store at registration."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Every metric family, freshly read."""
        yield from _feed_metrics(self.feeds())
        yield from _doctor_metrics(self.doctor())
        up = GaugeMetricFamily("syndicate_store_up", "1 if the store answered this scrape.")
        try:
            figures = store_figures(self.store(), LATENCY_BUCKETS)
        except (SyndicateError, SQLAlchemyError) as err:  # opening can fail either way
            log.warning("metrics: store unavailable: %s", err)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _store_metrics(figures)
        try:
            yield from _guard_metrics(self.store())
        except SQLAlchemyError as err:  # a store from before migration 0017
            log.warning("metrics: deliverability guards unavailable: %s", err)


def render(registry: CollectorRegistry) -> bytes:
    """The registry's metrics in the Prometheus text format."""
    return generate_latest(registry)


def registry_for(
    store: Callable[[], Store],
    feeds: Callable[[], Iterable[PublishedFeed]],
    doctor: Callable[[], Report | None] = lambda: None,
) -> CollectorRegistry:
    """A registry holding only our collector (no process metrics of the web server)."""
    registry = CollectorRegistry()
    registry.register(SyndicateCollector(store, feeds, doctor))
    return registry


def _doctor_metrics(report: Report | None) -> Iterator[Metric]:
    if report is None:  # doctor has not run here: no figures rather than made-up ones
        return
    last = GaugeMetricFamily(
        "syndicate_doctor_last_run_timestamp_seconds", "When syndicate doctor last ran."
    )
    last.add_metric([], report.ran_at.timestamp())
    checks = GaugeMetricFamily(
        "syndicate_doctor_check",
        "Each doctor check's last result: 0 pass, 1 warn, 2 fail.",
        labels=["check", "target"],
    )
    for result in report.results:
        checks.add_metric([result.check, result.target], STATUS_VALUES[result.status])
    counts = GaugeMetricFamily(
        "syndicate_doctor_checks", "Doctor checks by last result.", labels=["status"]
    )
    found = report.counts()
    for status in STATUSES:
        counts.add_metric([status], found[status])
    yield from (last, checks, counts)


def _feed_metrics(feeds: Iterable[PublishedFeed]) -> Iterator[Metric]:
    built = GaugeMetricFamily(
        "syndicate_feeds_built", "Subscription documents (channel x format) published."
    )
    modified = GaugeMetricFamily(
        "syndicate_feed_last_modified_timestamp_seconds",
        "When each published subscription document last changed (Unix time).",
        labels=["channel", "format"],
    )
    count = 0
    for feed in feeds:
        try:
            mtime = os.stat(feed.path).st_mtime
        except OSError:
            continue  # listed in the manifest but not (yet) written
        count += 1
        modified.add_metric([feed.channel, feed.format], mtime)
    built.add_metric([], count)
    yield built
    yield modified


def _store_metrics(figures: StoreFigures) -> Iterator[Metric]:
    yield _labelled(
        CounterMetricFamily(
            "syndicate_articles_ingested", "Articles in the store, by source.", labels=["source"]
        ),
        figures.articles_by_source,
    )
    deliveries = GaugeMetricFamily(
        "syndicate_deliveries", "Deliveries in the outbox, by status.", labels=["status"]
    )
    for status in DELIVERY_STATUSES:
        deliveries.add_metric([status], figures.deliveries_by_status.get(status, 0))
    yield deliveries
    latency = figures.send_latency
    buckets = [(str(float(b)), n) for b, n in zip(latency.bounds, latency.cumulative, strict=True)]
    yield HistogramMetricFamily(
        "syndicate_send_latency_seconds",
        "Seconds from enqueueing a delivery to the backend accepting it (sent deliveries).",
        buckets=[*buckets, ("+Inf", latency.count)],
        sum_value=latency.total_seconds,
    )
    yield from _source_metrics(figures)
    suppressed = GaugeMetricFamily(
        "syndicate_suppressions", "Suppressed addresses, by reason.", labels=["reason"]
    )
    for reason in sorted({*SUPPRESSION_REASONS, *figures.suppressions_by_reason}):
        suppressed.add_metric([reason], figures.suppressions_by_reason.get(reason, 0))
    yield suppressed
    events = CounterMetricFamily(
        "syndicate_webhook_events",
        "Provider webhook events recorded, by provider and kind.",
        labels=["provider", "kind"],
    )
    for (provider, kind), n in sorted(figures.webhook_events.items()):
        events.add_metric([provider, kind], n)
    yield events


def _guard_metrics(store: Store) -> Iterator[Metric]:
    """The deliverability guards: paused recipient groups, how often each group's
    breaker tripped, and sign-up refusals by reason (docs/deliverability.md)."""
    pauses = GroupPauses(store)
    paused = pauses.paused()
    gauge = GaugeMetricFamily(
        "syndicate_delivery_group_paused",
        "1 while a circuit breaker holds a recipient group's deliveries.",
        labels=["group"],
    )
    for group in GROUPS:
        gauge.add_metric([group], 1 if group in paused else 0)
    yield gauge
    trips = pauses.trips()
    counter = CounterMetricFamily(
        "syndicate_delivery_group_pauses",
        "Times a circuit breaker paused each recipient group.",
        labels=["group"],
    )
    for group in GROUPS:
        counter.add_metric([group], trips.get(group, 0))
    yield counter
    refusals = Guards(store).counters(SIGNUP_COUNTER)
    refused = CounterMetricFamily(
        "syndicate_signup_refusals",
        "Sign-ups that sent no confirmation (list-bombing defences), by reason.",
        labels=["reason"],
    )
    for reason in sorted({*SIGNUP_REASONS, *refusals}):
        refused.add_metric([reason], refusals.get(reason, 0))
    yield refused


def _source_metrics(figures: StoreFigures) -> Iterator[Metric]:
    errors = GaugeMetricFamily(
        "syndicate_source_consecutive_errors",
        "Failed polls in a row of each source (0 after a success).",
        labels=["source"],
    )
    failing = GaugeMetricFamily("syndicate_sources_failing", "Sources whose last poll failed.")
    last_error = GaugeMetricFamily(
        "syndicate_source_last_error_timestamp_seconds",
        "When each source last failed (Unix time).",
        labels=["source"],
    )
    last_success = GaugeMetricFamily(
        "syndicate_source_last_success_timestamp_seconds",
        "When each source was last read successfully (Unix time).",
        labels=["source"],
    )
    for source in figures.sources:
        errors.add_metric([source.name], source.consecutive_errors)
        if source.last_error_at is not None:
            last_error.add_metric([source.name], source.last_error_at.timestamp())
        if source.last_success_at is not None:
            last_success.add_metric([source.name], source.last_success_at.timestamp())
    failing.add_metric([], sum(1 for s in figures.sources if s.consecutive_errors))
    yield from (errors, failing, last_error, last_success)


def _labelled(family: GaugeMetricFamily | CounterMetricFamily, values: dict[str, int]) -> Metric:
    for label, value in sorted(values.items()):
        family.add_metric([label], value)
    return family
