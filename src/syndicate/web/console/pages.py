"""The console's pages: Jinja templates in ``web/console/templates`` with autoescaping,
and the headers every console response carries.

Nothing is cached or framed by another site; scripts and styles come only from the
console's own ``static/`` (no inline script), so an article title that smuggles markup
can neither run nor restyle a page. Previews of an edition's HTML are framed from the
console itself, sandboxed (:mod:`.editions`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse, Response

HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
}


def local(at: datetime | None, zone: str = "UTC") -> str:
    """A time in ``zone`` as pages show it (``-`` for none)."""
    if at is None:
        return "-"
    return at.astimezone(ZoneInfo(zone)).strftime("%a %d %b %H:%M %Z")


def utc(at: datetime | None) -> str:
    """A time in UTC, for the ``title`` (hover) beside a local time."""
    return "-" if at is None else at.strftime("%Y-%m-%d %H:%M UTC")


_ENV = Environment(
    loader=PackageLoader("syndicate.web.console", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["local"] = local
_ENV.filters["utc"] = utc


def page(template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    """An HTML response of ``template`` with the console's headers."""
    html = _ENV.get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def plain(status: int, text: str) -> Response:
    """A short plain answer that shows nothing of the console (404, 403, 429)."""
    return Response(text, status_code=status, media_type="text/plain", headers=HEADERS)
