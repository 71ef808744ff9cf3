"""``/archive/``: the public web archive of digest editions, where "view in browser" goes.

* ``/archive/`` lists the channels that have editions;
* ``/archive/<channel>/`` lists a channel's own editions newest first, a page at a time
  (``?before=<stamp>`` for older ones, ``?after=<stamp>`` for newer), dates in the
  channel's timezone, with links to its round-ups; 404 for a channel that is neither
  configured with a digest nor has editions;
* ``/archive/<channel>/<YYYY-MM-DD-HHMM>/`` (the slot in UTC, see
  :func:`~syndicate.digest.links.edition_stamp`) is the edition as stored, with every
  recipient placeholder filled with a neutral value (:mod:`syndicate.digest.public`):
  no one's name, address or link token.

Round-ups (editions with cadence ``daily`` or ``weekly``) have the same two levels under
``/archive/<channel>/<cadence>/``. A cadence is a slug and never a stamp, so the paths
cannot be confused; ``edition`` (a channel's own cadence) is not a path segment, so every
page has one address.

Every answer carries a strong ETag of its bytes and a Last-Modified (HT-1), answers
conditionals with 304 (HT-2), gzips when asked with ``Vary: Accept-Encoding`` (HT-3) and
supports HEAD. Edition pages never change once composed: ``immutable`` with the
channel's ``archive_max_age``; index pages use the channel's ``max_age``. Old
``/digests/<channel>/<slot>`` links redirect permanently (308) to the edition's page.
"""

from __future__ import annotations

import gzip
import re
import threading
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from syndicate.config import ChannelConfig, load_channels
from syndicate.digest.links import archive_path, edition_path, parse_edition_stamp
from syndicate.digest.public import public_copy, subscribe_url
from syndicate.store import Store, open_store
from syndicate.store.archive import archived_channels, edition_in_minute, edition_page
from syndicate.store.editions import OWN
from syndicate.web.archive_pages import (
    ArchiveSite,
    ChannelArchive,
    ChannelListing,
    render_archive_index,
    render_channel_archive,
    render_not_found,
)
from syndicate.web.conditional import accepts_gzip, http_date, is_not_modified
from syndicate.web.context import WebContext
from syndicate.web.published import etag_of

PAGE_SIZE = 25
# Editions are mail HTML: styles and images, never scripts, forms or frames.
EDITION_CSP = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline' https:; "
    "font-src https: data:; base-uri 'none'; form-action 'none'"
)
INDEX_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'"
_SEGMENT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_LEGACY_STAMP = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{4})Z")
_DEFAULTS = ChannelConfig(name="defaults", title="")  # for editions of a removed channel


@dataclass(frozen=True, slots=True)
class ArchiveTarget:
    """What an ``/archive/...`` path names: a series (channel and cadence), and one
    edition's stamp or not."""

    channel: str
    cadence: str
    stamp: str | None
    canonical: bool  # False when the trailing slash is missing

    @property
    def path(self) -> str:
        """The canonical path of the target."""
        index = archive_path(self.channel, self.cadence)
        return index + (f"{self.stamp}/" if self.stamp else "")


def parse_target(rest: str) -> ArchiveTarget | None:
    """The target of ``/archive/<rest>``, or ``None`` when it cannot name one.

    ``rest`` is a channel slug, optionally a round-up cadence, optionally an edition
    stamp, each followed by ``/`` (the last one may lack it: that is ``canonical=False``).
    """
    canonical = rest.endswith("/")
    segments = (rest[:-1] if canonical else rest).split("/")
    stamp = segments[-1] if parse_edition_stamp(segments[-1]) else None
    names = segments[:-1] if stamp else segments
    if not 1 <= len(names) <= 2 or not all(_SEGMENT.fullmatch(n) for n in names):
        return None
    cadence = names[1] if len(names) == 2 else OWN
    if len(names) == 2 and cadence == OWN:
        return None  # /archive/<channel>/ is the one address of the channel's own series
    return ArchiveTarget(names[0], cadence, stamp, canonical)


def routes(context: WebContext) -> list[BaseRoute]:
    """The archive routes (GET and HEAD)."""
    area = ArchiveArea(context)
    return [
        Route("/archive/", area.home, methods=["GET"]),
        Route("/archive/{rest:path}", area.browse, methods=["GET"]),
        Route("/digests/{channel}/{stamp}", area.legacy, methods=["GET"]),
    ]


class ArchiveArea:
    """The archive's endpoints over one lazily opened store.

    Endpoints are plain functions, so Starlette runs them in its thread pool and the
    store's blocking calls never hold up the event loop.
    """

    def __init__(self, context: WebContext) -> None:
        self.settings = context.settings
        self.site = ArchiveSite(self.settings.site.name, self.settings.site.language)
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._channels: dict[str, ChannelConfig] | None = None

    def store(self) -> Store:
        """The store, opened on first use (once, though requests arrive on many threads)."""
        with self._lock:
            if self._store is None:
                self._store = open_store(self.settings.store_url)
            return self._store

    def channels(self) -> dict[str, ChannelConfig]:
        """The configured channels, read once like the settings (a change needs a restart)."""
        with self._lock:
            if self._channels is None:
                self._channels = {c.name: c for c in load_channels(self.settings)}
            return self._channels

    def config_of(self, channel: str) -> ChannelConfig:
        """The channel's settings (defaults for editions of a channel no longer configured)."""
        return self.channels().get(channel, _DEFAULTS)

    def title_of(self, channel: str, cadence: str = OWN) -> str:
        """The channel's title; a round-up's says which one it is."""
        config = self.channels().get(channel)
        title = config.title if config else channel
        return title if cadence == OWN else f"{title} ({cadence} round-up)"

    def home(self, request: Request) -> Response:
        """``/archive/``: the channels with editions (their round-ups are on their page)."""
        archived = archived_channels(self.store())
        own = {a.channel: a for a in archived if a.cadence == OWN}
        listings = []
        for channel in sorted({a.channel for a in archived}):
            series = own.get(channel)
            tz = self.config_of(channel).digest.timezone
            latest = _local_date(series.latest, tz) if series else ""
            count = series.editions if series else 0
            listings.append(ChannelListing(channel, self.title_of(channel), count, latest))
        updated = max((a.updated for a in archived), default=None)
        body = render_archive_index(self.site, listings).encode("utf-8")
        return _respond(request, body, "no-cache", updated, csp=INDEX_CSP)

    def browse(self, request: Request) -> Response:
        """Any path under ``/archive/``: an index of a series, or one edition."""
        target = parse_target(request.path_params["rest"])
        if target is None:
            return self.not_found()
        if not target.canonical:
            return RedirectResponse(target.path, status_code=308)
        if target.stamp is not None:
            return self.edition(request, target)
        return self.series_index(request, target)

    def series_index(self, request: Request, target: ArchiveTarget) -> Response:
        """One page of the editions of a channel, or of one of its round-ups."""
        before, after = request.query_params.get("before"), request.query_params.get("after")
        since = parse_edition_stamp(before) if before is not None else None
        until = parse_edition_stamp(after) if after is not None else None
        if (before is not None and since is None) or (after is not None and until is None):
            return self.not_found()
        if since is not None and until is not None:
            return self.not_found()
        channel, cadence = target.channel, target.cadence
        archived = {(a.channel, a.cadence) for a in archived_channels(self.store())}
        config = self.channels().get(channel)
        live = cadence == OWN and config is not None and config.digest.enabled
        if (channel, cadence) not in archived and not live:
            return self.not_found()
        found = edition_page(
            self.store(), channel, cadence=cadence, limit=PAGE_SIZE, before=since, after=until
        )
        config = self.config_of(channel)
        tz = config.digest.timezone
        roundups = [] if cadence != OWN else sorted(c for ch, c in archived if ch == channel)
        archive = ChannelArchive(
            channel=channel,
            cadence=cadence,
            title=self.title_of(channel, cadence),
            timezone=tz,
            subscribe_path=subscribe_url("", channel),
            page=found,
            dates=[_local_date(e.slot, tz) for e in found.editions],
            roundups=[(c, f"{c.capitalize()} round-up") for c in roundups if c != OWN],
        )
        body = render_channel_archive(self.site, archive).encode("utf-8")
        updated = max((e.created_at for e in found.editions), default=None)
        cache_control = f"public, max-age={config.max_age}"
        return _respond(request, body, cache_control, updated, csp=INDEX_CSP)

    def edition(self, request: Request, target: ArchiveTarget) -> Response:
        """The public copy of the edition in the minute the target's stamp names."""
        minute = parse_edition_stamp(target.stamp or "")
        record = (
            edition_in_minute(self.store(), target.channel, minute, target.cadence)
            if minute is not None
            else None
        )
        if record is None:
            return self.not_found()
        base_url = self.settings.site.base_url
        copy = public_copy(record.html, record.text, base_url=base_url, channel=record.channel)
        max_age = self.config_of(record.channel).archive_max_age
        body = copy.html.encode("utf-8")
        cache_control = f"public, max-age={max_age}, immutable"
        return _respond(request, body, cache_control, record.created_at, csp=EDITION_CSP)

    def legacy(self, request: Request) -> Response:
        """``/digests/<channel>/<YYYY-MM-DDTHHMMZ>``, the view-in-browser links of mail
        sent before the archive existed: a permanent redirect to the edition's page."""
        name, stamp = request.path_params["channel"], request.path_params["stamp"]
        match = _LEGACY_STAMP.fullmatch(stamp)
        slot = parse_edition_stamp(f"{match[1]}-{match[2]}") if match else None
        if slot is None or not _SEGMENT.fullmatch(name):
            return self.not_found()
        return RedirectResponse(edition_path(name, slot), status_code=308)

    def not_found(self) -> Response:
        """The archive's 404 page, never cached (the edition may be composed later)."""
        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        return HTMLResponse(render_not_found(self.site), status_code=404, headers=headers)


def _local_date(slot: datetime, timezone: str) -> str:
    # The same date the edition's own header shows. Composing pulls in numpy and
    # numpy and scipy, which the server should only load once someone browses the archive.
    from syndicate.digest.compose import local_date

    return local_date(slot, timezone)


def _respond(
    request: Request,
    body: bytes,
    cache_control: str,
    modified: datetime | None,
    *,
    csp: str,
) -> Response:
    """``body`` as HTML with validators, conditional GET, gzip and HEAD (STANDARDS A6)."""
    compress = accepts_gzip(request.headers.get("accept-encoding"))
    if compress:
        body = gzip.compress(body, compresslevel=6, mtime=0)  # mtime 0: same bytes, same ETag
    etag = etag_of(body, compress)
    headers = {
        "ETag": etag,
        "Cache-Control": cache_control,
        "Vary": "Accept-Encoding",
        "Date": http_date(),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": csp,
    }
    mtime = int(modified.timestamp()) if modified is not None else 0
    if modified is not None:
        headers["Last-Modified"] = http_date(mtime)
    if is_not_modified(
        request.headers.get("if-none-match"),
        # Without a Last-Modified there is no date to compare a client's against.
        request.headers.get("if-modified-since") if modified is not None else None,
        etag,
        mtime,
    ):
        return Response(status_code=304, headers=headers)
    headers["Content-Type"] = "text/html; charset=utf-8"
    if compress:
        headers["Content-Encoding"] = "gzip"
    # HEAD: the same headers, Content-Length of the body a GET would get, no body.
    headers["Content-Length"] = str(len(body))
    return Response(b"" if request.method == "HEAD" else body, headers=headers)
