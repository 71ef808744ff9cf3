"""Build the published feed files, then tell the WebSub hubs.

For each channel: read its articles' keys (newest first, no bodies; after a previous
build, only the keys of the documents the store's changes since reach:
:mod:`.incremental`), with
``related_in_content`` its items' stored "More from" picks (:mod:`.picks`: chosen once,
for new or changed items only), build the subscription document (the newest ``items``)
in every configured format and the RFC 5005 archive pages of the rest
(:mod:`.archives`) from the items' stored fragments (:mod:`.fragments`: each item
rendered once per format, when it or its links change), write each file and a gzip copy
only when the bytes change, atomically (:mod:`.writer`); then ping the channel's hubs
for every subscription document that changed (:mod:`.websub`). A document built before,
by this build's fingerprint, is hard-linked from the document cache instead of being
spliced and written again (:mod:`.doccache`).

Layout under ``output.dir``::

    feeds/<channel>.xml | .atom | .json         (+ .gz)  subscription documents
    feeds/<channel>/archive/<n>.<ext>           (+ .gz)  archive pages, 1 = the oldest
    .syndicate/manifest.json    what `syndicate serve` serves: channels, formats, lifetimes
    .syndicate/websub.json      pings no hub has accepted yet, retried on the next build
    .syndicate/pages/<channel>.json   fingerprints of archive pages
    .syndicate/incremental.json what the next build goes on (:mod:`.incremental`),
    .syndicate/incremental/<channel>.json   and where each archive page starts
    .syndicate/build.lock       one build at a time

No file's bytes come from the clock: document dates come from articles and gzip copies
carry no timestamp (HT-4), so an unchanged input leaves every file, and its mtime, alone
(the clock only stamps when stored picks were chosen).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import filelock

from syndicate.config import ChannelConfig, Settings, load_channels
from syndicate.errors import ConfigError, SyndicateError
from syndicate.feeds.archives import (
    ArchiveJob,
    ArchivePlan,
    ArticleKey,
    plan_archives,
    plan_pages,
    renderer_version,
    write_archives,
)
from syndicate.feeds.doccache import DocumentCache
from syndicate.feeds.documents import (
    MANIFEST,
    STATE_DIR,
    WEBSUB_STATE,
    document,
    feed_path,
    site_url,
)
from syndicate.feeds.fragments import Splicer
from syndicate.feeds.incremental import ChannelView, Memory, full_view
from syndicate.feeds.picks import ChannelPicks, channel_picks
from syndicate.feeds.render import FORMATS
from syndicate.feeds.websub import Ping, PingReport, publish
from syndicate.feeds.writer import Writer, json_bytes
from syndicate.models import utc_now
from syndicate.store import Store
from syndicate.store.channels import matches
from syndicate.store.feedpicks import forget_other_channels
from syndicate.store.fragments import (
    count_fragment_items,
    forget_fragments_except,
    forget_fragments_of_other_channels,
    forget_item_fragments,
    iter_light_articles,
)

__all__ = ["BuildReport", "ChannelReport", "Ping", "PingReport", "build", "manifest_bytes"]

log = logging.getLogger(__name__)

LOCK_TIMEOUT = 600.0  # seconds to wait for a build already running before giving up


@dataclass
class ChannelReport:
    """What building one channel did.

    ``formats`` maps each format to ``written`` or ``unchanged`` (the subscription
    document); ``items`` is how many it holds, ``total`` how many the channel has.
    ``changed_urls`` are the subscription URLs rewritten (the ones hubs hear about).
    ``picks_chosen`` is how many items got their "More from" picks chosen in this build
    (``related_in_content``: new or changed items only, see :mod:`.picks`).
    ``items_rendered`` is how many items of the rewritten documents were rendered
    (new or changed: :mod:`.fragments`), ``items_reused`` how many were spliced from
    their stored fragments.
    """

    name: str
    items: int = 0
    total: int = 0
    formats: dict[str, str] = field(default_factory=dict)
    archive_pages: int = 0
    archives_written: int = 0
    error: str | None = None
    changed_urls: list[str] = field(default_factory=list)
    picks_chosen: int = 0
    items_rendered: int = 0
    items_reused: int = 0


@dataclass
class BuildReport:
    """Every channel's report and what the WebSub pings did."""

    channels: list[ChannelReport]
    pings: PingReport

    @property
    def failed(self) -> bool:
        """True when some channel could not be built (a failed ping never fails a build)."""
        return any(c.error for c in self.channels)


@dataclass
class _Build:
    store: Store
    settings: Settings
    writer: Writer
    repick: bool = False
    cache: DocumentCache | None = None
    warned: set[str] = field(default_factory=set)

    def warn_once(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            log.warning(message)


def build(
    store: Store,
    settings: Settings,
    *,
    only: Sequence[str] = (),
    on_channel: Callable[[ChannelReport], None] | None = None,
    repick: bool = False,
) -> BuildReport:
    """Build every channel (or those named in ``only``), then send the WebSub pings.

    With ``repick``, every ``related_in_content`` item's "More from" picks are chosen
    anew (after a ranking upgrade, say); otherwise only new or changed items' are.

    Raises :class:`ConfigError` for an unknown channel name, :class:`SyndicateError`
    when another build holds the lock for :data:`LOCK_TIMEOUT` seconds. A channel that
    fails to render or write is reported in its :class:`ChannelReport`; the others are
    still built. ``on_channel`` is called after each channel (for progress bars).
    """
    channels = load_channels(settings)
    known = {c.name for c in channels}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise ConfigError(
            f"no channel named {', '.join(map(repr, unknown))} "
            f"(configured: {', '.join(sorted(known)) or 'none'})"
        )
    selected = [c for c in channels if not only or c.name in only]
    output = settings.resolve(settings.output.dir)
    (output / STATE_DIR).mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(output / STATE_DIR / "build.lock"), timeout=LOCK_TIMEOUT)
    try:
        lock.acquire()
    except filelock.Timeout as err:
        raise SyndicateError(f"another build still holds {lock.lock_file}") from err
    cache: DocumentCache | None = None
    try:
        memory = Memory.open(store, settings, output, channels, repick=repick)
        cache = DocumentCache.open(settings, output / STATE_DIR)
        # Every folder as the last build left it: no killed build left a temporary file
        # there, and the walk over every file to find one is skipped.
        run = _Build(store, settings, Writer(output, sweep=not memory.clean), repick, cache)
        run.writer.write(MANIFEST, manifest_bytes(settings, channels), gz=False)
        reports = []
        if not only and memory.known != sorted(known):
            # Stored feed picks and fragments of channels no longer configured (a scan of
            # both tables: only when the list of channels changed since the last build).
            forget_other_channels(store, known)
            forget_fragments_of_other_channels(store, known)
        views = {c.name: memory.view(c) for c in selected}
        scanned = _scan(run.store, [c for c in selected if views[c.name] is None])
        built: dict[str, ChannelView | None] = {}
        for channel in selected:
            view = views[channel.name] or full_view(channel, scanned[channel.name])
            report, complete = _channel_or_error(run, channel, view)
            built[channel.name] = view if complete else None
            reports.append(report)
            if on_channel is not None:
                on_channel(report)
        run.writer.sync()  # durable and live before any hub hears of it (WS-2)
        if cache is not None:
            # Every channel read whole: the entries this build did not use are garbage.
            cache.collect(everything=not only and not any(views.values()))
        chosen = sum(report.picks_chosen for report in reports)
        memory.save(built, complete=not only, picks_saved=chosen)
        memory.prune()
        pings = _publish(settings, channels, zip(selected, reports, strict=True))
    finally:
        if cache is not None:
            cache.close()
        lock.release()
    return BuildReport(reports, pings)


def _publish(
    settings: Settings,
    channels: Sequence[ChannelConfig],
    built: Iterable[tuple[ChannelConfig, ChannelReport]],
) -> PingReport:
    """Ping each hub of each changed subscription document (and retry earlier failures)."""
    changed = [
        Ping(hub, url)
        for channel, report in built
        for url in report.changed_urls
        for hub in channel.hubs
    ]
    configured = {
        Ping(hub, site_url(settings, feed_path(c.name, fmt)))
        for c in channels
        for hub in c.hubs
        for fmt in c.formats
    }
    state = settings.resolve(settings.output.dir) / WEBSUB_STATE
    return publish(state, changed, configured, settings.fetch)


def manifest_bytes(settings: Settings, channels: Sequence[ChannelConfig]) -> bytes:
    """The manifest `syndicate serve` reads: every channel, its formats and lifetimes."""
    return json_bytes(
        {
            "version": 1,
            "site": {
                "name": settings.site.name,
                "base_url": settings.site.base_url,
                "language": settings.site.language,
            },
            "channels": [
                {
                    "name": c.name,
                    "title": c.title,
                    "description": c.description,
                    "max_age": c.max_age,
                    "archive_max_age": c.archive_max_age,
                    "hubs": list(c.hubs),
                    "formats": [
                        {
                            "format": fmt,
                            "extension": FORMATS[fmt].extension,
                            "media_type": FORMATS[fmt].media_type,
                            "url": site_url(settings, feed_path(c.name, fmt)),
                        }
                        for fmt in c.formats
                    ],
                }
                for c in channels
            ],
        }
    )


def _scan(store: Store, channels: Sequence[ChannelConfig]) -> dict[str, list[ArticleKey]]:
    """Each channel's article keys, newest first.

    One pass over the store serves every channel (the channels overlap); a single
    channel is read with its own query, which the store narrows by section and source.
    No body is read (:func:`~syndicate.store.fragments.iter_light_articles`): items are
    spliced from their fragments, and only the few items rendered anew are read whole.
    """
    found: dict[str, list[ArticleKey]] = {c.name: [] for c in channels}
    if not channels:
        return found
    authors = any(c.filters.authors for c in channels)  # decoded only when filtered on
    if len(channels) == 1:
        filters = channels[0].filters
        articles = iter_light_articles(
            store, sections=filters.sections, sources=filters.sources, authors=authors
        )
    else:
        articles = iter_light_articles(store, authors=authors)
    for article in articles:
        key: ArticleKey | None = None
        for channel in channels:
            if not matches(channel.filters, article):
                continue
            key = key or ArticleKey.of(article)
            found[channel.name].append(key)
    return found


def _channel_or_error(
    run: _Build, channel: ChannelConfig, view: ChannelView
) -> tuple[ChannelReport, bool]:
    try:
        return _build_channel(run, channel, view)
    except (ValueError, OSError) as err:
        # Rendering or disk trouble in one channel: report it and build the others.
        log.error("channel %s: %s", channel.name, err)
        return ChannelReport(channel.name, error=str(err) or type(err).__name__), False


def _build_channel(
    run: _Build, channel: ChannelConfig, view: ChannelView
) -> tuple[ChannelReport, bool]:
    """Build one channel from its ``view`` (every key, or an incremental build's part);
    the report, and whether every document read was whole (an item deleted while the
    build read leaves a document to redo: the next build must not be incremental)."""
    report = ChannelReport(channel.name)
    pages, newest = view.pages, view.newest
    report.total, report.items, report.archive_pages = view.total, len(newest), pages
    if view.unchanged:
        report.items = min(channel.items, view.total)
        report.formats = dict.fromkeys(channel.formats, "unchanged")
        return report, True

    picks = _picks_and_fragments(run, channel, view)
    report.picks_chosen = picks.computed.total()
    splicer = Splicer(run.store, run.settings, channel, picks, renderer_version())
    state = f"{STATE_DIR}/pages/{channel.name}.feed"
    fingerprint = _feed_fingerprint(run.settings, channel, pages, newest, picks)
    files = [run.writer.root / feed_path(channel.name, fmt) for fmt in channel.formats]
    # Same items, links and settings: the bytes would be the same (HT-4); not even read.
    old = _read_text(run.writer.root / state)
    fresh = old == fingerprint and all(
        path.exists() and path.with_name(path.name + ".gz").exists() for path in files
    )
    cache = run.cache
    cached = None if fresh or cache is None else cache.find(fingerprint, channel.formats)
    job = ArchiveJob(run.store, run.settings, run.writer, channel, picks, splicer, cache)
    plan = _plan(job, view)
    feed = (
        []
        if fresh or cached
        else [(document(run.settings, channel, (), page=None, pages=pages, related={}), newest)]
    )
    # The subscription document and the dirty pages in one pass: one read of fragments.
    results = splicer.documents(feed + (plan.docs if plan else []))
    complete = True
    if fresh:
        report.formats = dict.fromkeys(channel.formats, "unchanged")
        if cache is not None:
            for kept, path in zip(channel.formats, files, strict=True):
                cache.adopt(fingerprint, kept, path)
    else:
        if cached is not None:
            outcome = {
                fmt: run.writer.link(feed_path(channel.name, fmt), e) for fmt, e in cached.items()
            }
            whole = True
        else:
            data, whole = next(results)
            outcome = {
                fmt: run.writer.write(
                    feed_path(channel.name, fmt),
                    content,
                    cached=cache.entry(fingerprint, fmt) if cache is not None and whole else None,
                )
                for fmt, content in data.items()
            }
        complete = whole
        for fmt, written in outcome.items():
            report.formats[fmt] = "written" if written else "unchanged"
            if written:
                report.changed_urls.append(site_url(run.settings, feed_path(channel.name, fmt)))
            elif cache is not None and whole:
                cache.adopt(fingerprint, fmt, run.writer.root / feed_path(channel.name, fmt))
        if cache is not None and old and old != fingerprint:
            cache.release(old, channel.formats)
        # An item deleted since the scan: leave no fingerprint, so the next build redoes it.
        run.writer.write(state, (fingerprint if whole else "").encode(), gz=False)
    if plan is not None:
        report.archives_written = write_archives(job, plan, results)
        complete = complete and all(str(page) in plan.prints for page in plan.dirty)
    report.items_rendered, report.items_reused = splicer.rendered, splicer.reused
    run.writer.commit()  # in place before the next channel, so a disk error is this one's
    return report, complete


def _picks_and_fragments(run: _Build, channel: ChannelConfig, view: ChannelView) -> ChannelPicks:
    """The items' stored "More from" links (chosen now only for new or changed items);
    the fragments of items the channel no longer carries go."""
    picks = channel_picks(
        run.store,
        run.settings,
        channel,
        view.pick_items,
        utc_now(),
        repick=run.repick,
        partial=view.partial,
        gone=view.removed,
    )
    if not view.partial:
        _forget_gone_fragments(run.store, channel, view.keys)
    elif view.removed:
        forget_item_fragments(run.store, channel.name, view.removed)
    return picks


def _plan(job: ArchiveJob, view: ChannelView) -> ArchivePlan | None:
    """The archive pages to rewrite; ``None`` when an incremental build leaves them all,
    and their fingerprint file (a line per page), as they are."""
    if not view.partial:
        return plan_archives(job, view.keys, view.pages)
    if not view.pages_to_check and view.pages == view.old_pages:
        return None  # not even the fingerprints are read
    plan = plan_pages(job, view.pages, view.old_pages, view.pages_to_check)
    return plan if plan.dirty or view.pages != view.old_pages else None


def _feed_fingerprint(
    settings: Settings,
    channel: ChannelConfig,
    pages: int,
    newest: Sequence[ArticleKey],
    picks: ChannelPicks,
) -> str:
    """What the subscription document's bytes depend on: its items' keys and links, the
    number of archive pages (its prev-archive link), the site's and channel's settings
    and the renderer (as an archive page's fingerprint, :mod:`.archives`)."""
    material = [
        renderer_version(),
        settings.site.model_dump(mode="json"),
        channel.model_dump(
            mode="json", exclude={"digest", "filters", "max_age", "archive_max_age"}
        ),
        pages,
        [key.parts() for key in newest],
        [picks.parts(key.id) for key in newest],
    ]
    encoded = json.dumps(material, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def _read_text(path: Path) -> str:
    """The text of ``path``; empty when it is missing."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _forget_gone_fragments(store: Store, channel: ChannelConfig, keys: list[ArticleKey]) -> None:
    """Remove the stored fragments of items the channel no longer carries.

    A count first (an index range), so a build where nothing left reads no ids.
    """
    stored = count_fragment_items(store, channel.name, channel.formats[0]) if channel.formats else 0
    if stored > len(keys):
        forget_fragments_except(store, channel.name, {key.id for key in keys})
