"""``/feeds/...``: the built feed files with conditional GET, gzip and WebSub links.

Every answer follows STANDARDS A6: a strong ETag and Last-Modified (HT-1); 304 for a
matching ``If-None-Match`` or, without one, a satisfied ``If-Modified-Since``, carrying
the same ETag, Cache-Control, Vary and Date as the 200 (HT-2); ``Cache-Control`` from
the channel (long and ``immutable`` for archive pages, PG-3); the prebuilt gzip copy
when the client accepts gzip, always with ``Vary: Accept-Encoding`` (HT-3). Feeds carry
``Link`` headers ``rel=self`` (exactly one) and ``rel=hub`` per hub (WS-1). Content
types are the registered ones with ``charset=utf-8`` (RSS-10, AT-6, JF-3).

Paths are only built from a channel and extension found in the manifest and a page
number made of digits, so no request can reach another file (``.syndicate/`` state,
temporary files) under the output folder.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from syndicate.web.conditional import accepts_gzip, http_date, is_not_modified
from syndicate.web.context import WebContext
from syndicate.web.published import ChannelInfo, PublishedFiles

_PAGE = re.compile(r"^[1-9][0-9]{0,8}$")


def routes(context: WebContext) -> list[BaseRoute]:
    """The feed and archive routes (GET and HEAD)."""
    files = context.files

    async def feed(request: Request) -> Response:
        found = _lookup(files, request.path_params["filename"])
        if found is None:
            return _not_found()
        channel, ext = found
        fmt = channel.formats[ext]
        links = [(fmt.url, "self"), *((hub, "hub") for hub in channel.hubs)]
        cache = f"public, max-age={channel.max_age}"
        return _serve(request, files, f"feeds/{channel.name}.{ext}", fmt.media_type, cache, links)

    async def archive(request: Request) -> Response:
        manifest = files.manifest()
        channel = manifest.channels.get(request.path_params["channel"]) if manifest else None
        page, _, ext = str(request.path_params["filename"]).partition(".")
        if manifest is None or channel is None or ext not in channel.formats:
            return _not_found()
        if not _PAGE.match(page):
            return _not_found()
        relative = f"feeds/{channel.name}/archive/{page}.{ext}"
        cache = f"public, max-age={channel.archive_max_age}, immutable"
        links = [(f"{manifest.base_url}/{relative}", "self")]
        return _serve(request, files, relative, channel.formats[ext].media_type, cache, links)

    return [
        Route("/feeds/{filename}", feed, methods=["GET"]),
        Route("/feeds/{channel}/archive/{filename}", archive, methods=["GET"]),
    ]


def _lookup(files: PublishedFiles, filename: str) -> tuple[ChannelInfo, str] | None:
    name, _, ext = filename.rpartition(".")
    manifest = files.manifest()
    channel = manifest.channels.get(name) if manifest else None
    if channel is None or ext not in channel.formats:
        return None
    return channel, ext


def _not_found() -> Response:
    return PlainTextResponse("Not Found", status_code=404, headers={"Cache-Control": "no-store"})


def _link_header(url: str, rel: str) -> bytes:
    # Percent-encode anything a header may not carry (an IRI in a hub URL, say).
    safe = quote(url, safe=":/?#[]@!$&'()*+,;=%~")
    return f'<{safe}>; rel="{rel}"'.encode("latin-1")


def _serve(
    request: Request,
    files: PublishedFiles,
    relative: str,
    media_type: str,
    cache_control: str,
    links: list[tuple[str, str]],
) -> Response:
    gzip = accepts_gzip(request.headers.get("accept-encoding"))
    rep = files.read(relative + ".gz") if gzip else None
    if rep is None:  # not accepted, or no gzip copy: the identity file
        gzip = False
        rep = files.read(relative)
    if rep is None:
        return _not_found()
    headers = {
        "ETag": rep.etag,
        "Last-Modified": rep.last_modified,
        "Cache-Control": cache_control,
        "Vary": "Accept-Encoding",
        "Date": http_date(),
        "X-Content-Type-Options": "nosniff",
    }
    if is_not_modified(
        request.headers.get("if-none-match"),
        request.headers.get("if-modified-since"),
        rep.etag,
        rep.mtime,
    ):
        return Response(status_code=304, headers=headers)
    headers["Content-Type"] = f"{media_type}; charset=utf-8"
    if gzip:
        headers["Content-Encoding"] = "gzip"
    # HEAD: the same headers, Content-Length of the body a GET would get, no body.
    headers["Content-Length"] = str(len(rep.body))
    body = b"" if request.method == "HEAD" else rep.body
    response = Response(body, status_code=200, headers=headers)
    response.raw_headers.extend((b"link", _link_header(url, rel)) for url, rel in links)
    return response
