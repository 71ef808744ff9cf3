"""The subscriber pages' shared layout: Jinja templates in ``web/templates`` with
autoescaping, and the headers every such page carries.

Pages are plain HTML forms that work without JavaScript or cookies. Their URLs hold
capability tokens, so no page may leak its address to another site
(``Referrer-Policy: same-origin``); nothing is cached; the CSP allows no script at all
and forms may only post here.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.background import BackgroundTask
from starlette.responses import HTMLResponse

HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: browsers then send "Origin: null" with our own forms.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

_ENV = Environment(
    loader=PackageLoader("syndicate.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template: str, **values: Any) -> str:
    """The HTML of ``template`` with ``values``."""
    return _ENV.get_template(template).render(**values)


def page(
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    background: BackgroundTask | None = None,
    **values: Any,
) -> HTMLResponse:
    """An HTML response of ``template`` with the pages' headers (plus ``headers``)."""
    return HTMLResponse(
        render(template, **values),
        status_code=status,
        headers={**HEADERS, **(headers or {})},
        background=background,
    )


def message(
    site: str,
    title: str,
    *paragraphs: str,
    status: int = 200,
    link: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    background: BackgroundTask | None = None,
) -> HTMLResponse:
    """A page that only says something: a heading, paragraphs, perhaps a link."""
    return page(
        "message.html",
        status=status,
        headers=headers,
        background=background,
        site=site,
        title=title,
        paragraphs=paragraphs,
        link=link,
    )


def not_on_list(site: str) -> HTMLResponse:
    """410 for a signed link whose subscriber is gone (erased or removed), with a way back."""
    return message(
        site,
        "Not on our list",
        "This address is no longer on our list.",
        status=410,
        link=("/subscribe", "Subscribe again"),
    )
