"""``/feeds/...``: the built feed files with conditional GET, gzip, Brotli and WebSub links.

Every answer follows STANDARDS A6: a strong ETag and Last-Modified (HT-1); 304 for a
matching ``If-None-Match`` or, without one, a satisfied ``If-Modified-Since``, carrying
the same ETag, Cache-Control, Vary and Date as the 200 (HT-2); ``Cache-Control`` from
the channel (long and ``immutable`` for archive pages, PG-3); the prebuilt gzip copy
(or Brotli, when smaller) when the client accepts it, always with
``Vary: Accept-Encoding`` (HT-3). Feeds carry ``Link`` headers ``rel=self`` (exactly one)
and ``rel=hub`` per hub (WS-1). Content types are the registered ones with
``charset=utf-8`` (RSS-10, AT-6, JF-3).

The answers themselves are made by :class:`syndicate.web.lean.LeanFiles`, which
:class:`~syndicate.web.lean.LeanApp` consults before its router; these routes give the
same answers to a request that reaches the router anyway, and the 404 for anything under
``/feeds/`` that is not a published file.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from syndicate.web.conditional import http_date
from syndicate.web.context import WebContext
from syndicate.web.lean import LeanFiles, request_headers


def routes(context: WebContext) -> list[BaseRoute]:
    """The feed and archive routes (GET and HEAD)."""
    lean = context.lean or LeanFiles(context.files)

    async def published(request: Request) -> Response:
        found = lean.answer(request.url.path, *request_headers(request.headers.raw))
        if found is None:
            return PlainTextResponse(
                "Not Found", status_code=404, headers={"Cache-Control": "no-store"}
            )
        not_modified, variant = found
        if not_modified:
            response = Response(status_code=304)
            response.raw_headers = [*variant.not_modified_headers]
        else:
            body = b"" if request.method == "HEAD" else variant.body
            response = Response(body, status_code=200)
            # HEAD: the headers of a GET, Content-Length of the body a GET would get.
            response.raw_headers = [*variant.ok_headers]
        response.raw_headers.append((b"date", http_date().encode("latin-1")))
        return response

    return [
        Route("/feeds/{filename}", published, methods=["GET"]),
        Route("/feeds/{channel}/archive/{filename}", published, methods=["GET"]),
    ]
