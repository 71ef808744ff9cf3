"""Redirects never point at the ``Host`` a client sent.

Starlette makes some redirects itself (``/archive`` → ``/archive/``, a path with a
trailing slash too many) and builds their absolute ``Location`` from the request's
``Host`` header, which the client chooses: behind a cache, one request with
``Host: evil.example`` could make every visitor's redirect point there. This middleware
turns any ``Location`` on the request's own host into a relative one (``/path?query``),
which browsers resolve against the address they asked for. Our own routes answer with
relative redirects already.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RelativeRedirects:
    """ASGI middleware: a ``Location`` on the request's own host becomes relative."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = (Headers(scope=scope).get("host") or "").lower()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                headers = MutableHeaders(scope=message)
                location = headers.get("location")
                if location is not None:
                    headers["location"] = relative(location, host)
            await send(message)

        await self.app(scope, receive, sending)


def relative(location: str, host: str) -> str:
    """``location`` as a path when it is an absolute URL on ``host``, else unchanged."""
    parts = urlsplit(location)
    if not parts.netloc or parts.netloc.lower() != host:
        return location
    path = "/" + parts.path.lstrip("/")  # never "//...", which is another host
    return path + (f"?{parts.query}" if parts.query else "")
