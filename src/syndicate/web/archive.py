"""``/archive/``: the public web archive of digest editions, where "view in browser" goes.

* ``/archive/`` lists the channels that have editions;
* ``/archive/<channel>/`` lists a channel's editions newest first, a page at a time
  (``?before=<stamp>`` for older ones, ``?after=<stamp>`` for newer), dates in the
  channel's timezone; 404 for a channel that is neither configured with a digest nor
  has editions;
* ``/archive/<channel>/<YYYY-MM-DD-HHMM>/`` (the slot in UTC, see
  :func:`~syndicate.digest.links.edition_stamp`) is the edition as stored, with every
  recipient placeholder filled with a neutral value (:mod:`syndicate.digest.public`):
  no one's name, address or link token.

Roll-up editions stored under ``<channel>/<cadence>`` get their own archive at
``/archive/<channel>/<cadence>/``, linked from the channel's page; a cadence is a slug,
never a stamp, so the two kinds of path cannot be confused.

Every answer carries a strong ETag of its bytes and a Last-Modified (HT-1), answers
conditionals with 304 (HT-2), gzips when asked with ``Vary: Accept-Encoding`` (HT-3) and
supports HEAD. Edition pages never change once composed: ``immutable`` with the
channel's ``archive_max_age``; index pages use the channel's ``max_age``. Old
``/digests/<channel>/<slot>`` links redirect permanently (308) to the edition's page.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from syndicate.config import ChannelConfig, load_channels
from syndicate.digest.links import (
    archive_path,
    base_channel,
    edition_path,
    parse_edition_stamp,
)
from syndicate.digest.public import public_copy, subscribe_url
from syndicate.store import Store, open_store
from syndicate.store.archive import archived_channels, edition_in_minute, edition_page
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
_DEFAULTS = ChannelConfig(name="defaults", title="")  # max_age values for unconfigured keys


@dataclass(frozen=True, slots=True)
class ArchiveTarget:
    """What an ``/archive/...`` path names: a channel key, and an edition's stamp or not."""

    key: str
    stamp: str | None
    canonical: bool  # False when the trailing slash is missing

    @property
    def path(self) -> str:
        """The canonical path of the target."""
        return archive_path(self.key) + (f"{self.stamp}/" if self.stamp else "")


def parse_target(rest: str) -> ArchiveTarget | None:
    """The target of ``/archive/<rest>``, or ``None`` when it cannot name one.

    ``rest`` is one or two channel slugs (a channel, or a channel and a roll-up cadence),
    optionally followed by an edition stamp.
    """
    canonical = rest.endswith("/")
    segments = (rest[:-1] if canonical else rest).split("/")
    stamp = segments[-1] if parse_edition_stamp(segments[-1]) else None
    names = segments[:-1] if stamp else segments
    if not 1 <= len(names) <= 2 or not all(_SEGMENT.fullmatch(n) for n in names):
        return None
    return ArchiveTarget("/".join(names), stamp, canonical)


def routes(context: WebContext) -> list[BaseRoute]:
    """The archive routes (GET and HEAD)."""
    settings = context.settings
    site = ArchiveSite(settings.site.name, settings.site.language)

    @cache
    def store() -> Store:
        return open_store(settings.store_url)

    @cache
    def channels() -> dict[str, ChannelConfig]:
        # Read once, like the settings: a changed channel file needs a restart.
        return {c.name: c for c in load_channels(settings)}

    def config_of(key: str) -> ChannelConfig:
        return channels().get(base_channel(key), _DEFAULTS)

    def title_of(key: str) -> str:
        channel, _, cadence = key.partition("/")
        title = channels()[channel].title if channel in channels() else channel
        return f"{title} ({cadence} roll-up)" if cadence else title

    def not_found() -> Response:
        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        return HTMLResponse(render_not_found(site), status_code=404, headers=headers)

    def home(request: Request) -> Response:
        archived = archived_channels(store())
        stats = {a.channel: a for a in archived}
        keys = sorted({base_channel(a.channel) for a in archived})
        listings = []
        for key in keys:
            own = stats.get(key)
            latest = _local_date(own.latest, config_of(key).digest.timezone) if own else ""
            listings.append(ChannelListing(key, title_of(key), own.editions if own else 0, latest))
        updated = max((a.updated for a in archived), default=None)
        body = render_archive_index(site, listings).encode("utf-8")
        return _respond(request, body, "no-cache", updated, csp=INDEX_CSP)

    def channel_index(request: Request, key: str) -> Response:
        before, after = request.query_params.get("before"), request.query_params.get("after")
        since = parse_edition_stamp(before) if before is not None else None
        until = parse_edition_stamp(after) if after is not None else None
        if (before is not None and since is None) or (after is not None and until is None):
            return not_found()
        if since is not None and until is not None:
            return not_found()
        archived = {a.channel for a in archived_channels(store())}
        configured = key in channels() and channels()[key].digest.enabled
        if key not in archived and not configured:
            return not_found()
        found = edition_page(store(), key, limit=PAGE_SIZE, before=since, after=until)
        tz = config_of(key).digest.timezone
        rollups = sorted(k for k in archived if k.startswith(key + "/"))
        archive = ChannelArchive(
            key=key,
            title=title_of(key),
            timezone=tz,
            subscribe_path=subscribe_url("", key),
            page=found,
            dates=[_local_date(e.slot, tz) for e in found.editions],
            rollups=[(k, f"{k.partition('/')[2].capitalize()} roll-up") for k in rollups],
        )
        body = render_channel_archive(site, archive).encode("utf-8")
        updated = max((e.created_at for e in found.editions), default=None)
        cache_control = f"public, max-age={config_of(key).max_age}"
        return _respond(request, body, cache_control, updated, csp=INDEX_CSP)

    def edition(request: Request, key: str, stamp: str) -> Response:
        minute = parse_edition_stamp(stamp)
        record = edition_in_minute(store(), key, minute) if minute else None
        if record is None:
            return not_found()
        copy = public_copy(
            record.html, record.text, base_url=settings.site.base_url, channel=record.channel
        )
        cache_control = f"public, max-age={config_of(key).archive_max_age}, immutable"
        body = copy.html.encode("utf-8")
        return _respond(request, body, cache_control, record.created_at, csp=EDITION_CSP)

    def browse(request: Request) -> Response:
        target = parse_target(request.path_params["rest"])
        if target is None:
            return not_found()
        if not target.canonical:
            return RedirectResponse(target.path, status_code=308)
        if target.stamp is not None:
            return edition(request, target.key, target.stamp)
        return channel_index(request, target.key)

    def legacy(request: Request) -> Response:
        # Mail sent before the archive existed links to /digests/<channel>/<slot>.
        name, stamp = request.path_params["channel"], request.path_params["stamp"]
        match = _LEGACY_STAMP.fullmatch(stamp)
        slot = parse_edition_stamp(f"{match[1]}-{match[2]}") if match else None
        if slot is None or not _SEGMENT.fullmatch(name):
            return not_found()
        return RedirectResponse(edition_path(name, slot), status_code=308)

    return [
        Route("/archive/", home, methods=["GET"]),
        Route("/archive/{rest:path}", browse, methods=["GET"]),
        Route("/digests/{channel}/{stamp}", legacy, methods=["GET"]),
    ]


def _local_date(slot: datetime, timezone: str) -> str:
    # The same date the edition's own header shows. Composing pulls in numpy and
    # scikit-learn, which the server should only load once someone browses the archive.
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
