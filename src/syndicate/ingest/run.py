"""Ingestion: read each source, clean what it returns, save it, remember the source's state.

Plain functions over the store and the sources; the CLI and the scheduler call
:func:`ingest`. A source that fails is recorded (error, consecutive-error count, next poll
with backoff) and the run goes on with the others.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from syndicate.config import Settings, SourceConfig
from syndicate.errors import HTTPStatusError, SourceError
from syndicate.ingest.content import clean_entry, plausible_dates
from syndicate.ingest.embeddings import ArticleEmbedder, refresh
from syndicate.ingest.sources.base import Source, SourceContext
from syndicate.ingest.sources.registry import source_class
from syndicate.ingest.stories import StoryRules, backfill, place_stories
from syndicate.models import Entry, FetchResult, SourceState, utc_now
from syndicate.store import SaveCounts, Store

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
SAVE_BATCH = 1000  # entries cleaned and saved per transaction


@dataclass(slots=True)
class SourceReport:
    """What one source did in a run."""

    name: str
    kind: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    not_modified: bool = False
    skipped_not_due: bool = False

    @property
    def failed(self) -> bool:
        """True when the source as a whole could not be read."""
        return self.error is not None


def build_source(config: SourceConfig, settings: Settings, clock: Callable[[], datetime]) -> Source:
    """Construct the source for ``config`` from the registry."""
    context = SourceContext(
        site=settings.site, fetch=settings.fetch, base_dir=settings.base_dir, clock=clock
    )
    return source_class(config.kind)(config, context)


def next_poll(
    now: datetime,
    config: SourceConfig,
    result: FetchResult,
    errors: int,
    jitter: float = 0.0,
) -> datetime:
    """When to poll again: the interval, stretched by Cache-Control max-age and
    Retry-After, doubled per consecutive error (capped at six hours), then put off by a
    random fraction up to ``jitter`` of the wait, so that sources added together do not
    poll in step (and a server's Retry-After is never undercut)."""
    wait = config.poll_interval
    if result.max_age is not None:
        wait = max(wait, result.max_age)
    retry_after = result.retry_after
    if isinstance(result.error, HTTPStatusError) and result.error.retry_after is not None:
        retry_after = result.error.retry_after
    if errors:
        wait = min(wait * 2 ** min(errors, 16), MAX_BACKOFF.total_seconds())
    if retry_after is not None:
        wait = max(wait, retry_after)
    if jitter:
        wait *= 1.0 + random.uniform(0.0, jitter)
    return now + timedelta(seconds=wait)


@dataclass(slots=True)
class _Fetched:
    """A source after its fetch: what the store said before, and what came back."""

    source: Source
    state: SourceState
    now: datetime
    result: FetchResult | None  # None: not due yet
    jitter: bool = False  # scheduled polls (not forced) spread their next poll


def _fetch(store: Store, source: Source, now: datetime, force: bool, full: bool) -> _Fetched:
    """Read the source's state and fetch it (thread-safe: reads the store, writes nothing)."""
    state = store.get_source_state(source.config.name)
    if not force and state.next_poll_at is not None and state.next_poll_at > now:
        return _Fetched(source, state, now, None)
    fetch_state = replace(state, etag=None, last_modified=None, extra={}) if full else state
    result = source.read(fetch_state)
    _check_dates(result, now)
    return _Fetched(source, state, now, result, jitter=not force)


def _check_dates(result: FetchResult, now: datetime) -> None:
    """Dates no feed can carry become unknown or the fetch time, with a warning each
    (one rule for every kind of source, built-in or plugin)."""
    for index, entry in enumerate(result.entries):
        fixed, warning = plausible_dates(entry, now)
        if warning:
            result.entries[index] = fixed
            result.warnings.append(warning)


def _record(
    store: Store,
    fetched: _Fetched,
    settings: Settings,
    embedder: ArticleEmbedder | None = None,
) -> SourceReport:
    """Save a fetch's articles and the source's new state (the store's single writer)."""
    source, state, now, result = fetched.source, fetched.state, fetched.now, fetched.result
    config = source.config
    report = SourceReport(name=config.name, kind=config.kind)
    jitter = settings.scheduler.poll_jitter if fetched.jitter else 0.0
    if result is None:
        report.skipped_not_due = True
        return report
    report.warnings = list(result.warnings)
    report.not_modified = result.not_modified
    if result.error is None:
        counts = _save(store, source, settings, result, now, report, embedder)
        report.new, report.updated, report.unchanged = counts.new, counts.updated, counts.unchanged
    report.unchanged += result.skipped

    if result.error is not None:
        report.error = _describe(result.error)
        errors = state.consecutive_errors + 1
        log.warning("source %s failed (%d in a row): %s", config.name, errors, report.error)
        store.save_source_state(
            replace(
                state,
                consecutive_errors=errors,
                last_error=report.error,
                next_poll_at=next_poll(now, config, result, errors, jitter),
            ),
            error_at=now,
        )
        return report

    store.save_source_state(
        replace(
            state,
            etag=result.etag if result.etag is not None else state.etag,
            last_modified=(
                result.last_modified if result.last_modified is not None else state.last_modified
            ),
            consecutive_errors=0,
            last_error=None,
            last_success_at=now,
            next_poll_at=next_poll(now, config, result, 0, jitter),
            extra=result.extra if result.extra else state.extra,
        )
    )
    return report


def ingest_source(
    store: Store,
    source: Source,
    settings: Settings,
    *,
    now: datetime,
    force: bool = True,
    full: bool = False,
) -> SourceReport:
    """Fetch one source, save its articles and its new state. Never raises SourceError.

    ``force`` polls even if the next poll time has not come; ``full`` also ignores the
    stored validators and caches, so everything is fetched and read again.
    """
    backfill(store)
    return _record(store, _fetch(store, source, now, force, full), settings)


def _save(
    store: Store,
    source: Source,
    settings: Settings,
    result: FetchResult,
    now: datetime,
    report: SourceReport,
    embedder: ArticleEmbedder | None = None,
) -> SaveCounts:
    # Clean and save in slices so a 10,000-article folder never holds three copies.
    new = updated = unchanged = 0
    entries = result.entries
    for start in range(0, len(entries), SAVE_BATCH):
        cleaned = []
        for entry in entries[start : start + SAVE_BATCH]:
            try:
                cleaned.append(
                    clean_entry(
                        entry,
                        source=source.name,
                        authority=settings.site.tag_authority,
                        site_url=settings.site.base_url,
                        default_section=source.config.section,
                    )
                )
            except Exception as err:  # one bad item must not sink the source (STYLE 4)
                report.warnings.append(
                    f"{entry.origin or entry.key}: skipped: {type(err).__name__}: {err}"
                )
        stories = place_stories(store, cleaned, now, StoryRules.from_settings(settings.stories))
        counts = store.save_entries(cleaned, now, stories)
        if embedder is not None and counts.new + counts.updated:
            _embed(store, embedder, [c.id for c in cleaned], report)
        new, updated, unchanged = (
            new + counts.new,
            updated + counts.updated,
            unchanged + counts.unchanged,
        )
    # Once every slice is saved, so a pin may name an article further down the folder.
    report.warnings.extend(_unknown_pins(store, entries))
    return SaveCounts(new, updated, unchanged)


def _unknown_pins(store: Store, entries: list[Entry]) -> list[str]:
    """A warning for each pinned "More from" pick that is no stored article: it is kept
    (the article may come later) and ignored when picking until then."""
    from syndicate.store.stories import existing_ids

    pins = {pin.strip() for entry in entries for pin in entry.related_pins}
    if not pins:
        return []
    known = existing_ids(store, pins)
    return [
        f"{entry.origin or entry.key}: related: {pin!r} is no known article; "
        "kept, and ignored until it exists"
        for entry in entries
        for pin in dict.fromkeys(p.strip() for p in entry.related_pins)
        if pin and pin not in known
    ]


def _embed(store: Store, embedder: ArticleEmbedder, ids: list[str], report: SourceReport) -> None:
    # Only the new and edited among the saved ids are embedded (refresh skips fresh
    # ones). A model that fails costs the vectors, never the articles: reindex redoes it.
    try:
        refresh(store, embedder, ids=ids)
    except Exception as err:
        report.warnings.append(f"embeddings not updated: {type(err).__name__}: {err}")


def _describe(error: SourceError) -> str:
    where = f" ({error.url})" if error.url else ""
    return f"{error}{where}"


def ingest(
    store: Store,
    settings: Settings,
    *,
    only: Iterable[str] | None = None,
    force: bool = True,
    full: bool = False,
    clock: Callable[[], datetime] = utc_now,
    on_progress: Callable[[SourceReport], None] | None = None,
    stop: threading.Event | None = None,
    embedder: ArticleEmbedder | None = None,
) -> list[SourceReport]:
    """Ingest every enabled source (or those named in ``only``), in config order.

    Once ``stop`` is set, fetches that have not started are dropped (the daemon is
    shutting down); fetches in flight finish and are saved.

    With ``force=False`` a source whose next poll time has not come is skipped (the
    daemon's mode); the CLI forces by default. ``full`` re-reads everything, ignoring
    stored validators and file caches. With an ``embedder`` (``[related] semantic``),
    new and edited articles get their embedding as they are saved.
    """
    backfill(store)
    wanted = set(only) if only is not None else None
    configs = [
        c for c in settings.sources if (c.name in wanted if wanted is not None else c.enabled)
    ]
    if wanted:
        for name in wanted - {c.name for c in configs}:
            settings.source(name)  # raises ConfigError naming the known sources
    # Fetches run side by side (they wait on the network); saving stays in this thread,
    # in config order, because the store has one writer.
    reports = []
    with ThreadPoolExecutor(max(1, settings.fetch.concurrency), "ingest") as pool:
        futures = [
            pool.submit(_fetch, store, build_source(config, settings, clock), clock(), force, full)
            for config in configs
        ]
        for future in futures:
            if stop is not None and stop.is_set():
                for pending in futures:
                    pending.cancel()
            if future.cancelled():
                continue
            report = _record(store, future.result(), settings, embedder)
            reports.append(report)
            if on_progress is not None:
                on_progress(report)
    return reports
