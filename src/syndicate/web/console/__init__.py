"""The editor's console: server-rendered pages under ``[console] path`` (``/console``).

Takes the store and the settings; gives operators a view of every edition before and
while it goes out, and control over it (docs/console.md). The routes are a thin shell:
what they do is the pipeline's (:mod:`syndicate.digest.review`,
:mod:`syndicate.delivery.release`, :mod:`syndicate.delivery.testsend`,
:mod:`syndicate.store.oversight`), the same functions the CLI calls.

* :mod:`.auth` — sessions, roles and CSRF, checked before any route runs;
* :mod:`.signin` — signing in (rate limit, lock-out) and out;
* :mod:`.today` — the landing page;
* :mod:`.editions` — the edition page, previews, live counts and the editor's actions;
* :mod:`.control` — pauses, suppressions, force-poll, the audit log, the operators;
* :mod:`.pages`, :mod:`.services` — templates and headers; what the routes share.

The console is off (every path 404) until an operator exists.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from syndicate.web.console import control, editions, signin, today
from syndicate.web.console.auth import console_on
from syndicate.web.console.pages import HEADERS, plain
from syndicate.web.console.services import ConsoleServices
from syndicate.web.context import WebContext

__all__ = ["ConsoleServices", "console_routes", "routes"]

STATIC = {"console.css": "text/css", "console.js": "text/javascript"}


def routes(context: WebContext) -> list[BaseRoute]:
    """The console mounted at ``[console] path`` (an area of the web app)."""
    return console_routes(ConsoleServices(context.settings))


def console_routes(services: ConsoleServices) -> list[BaseRoute]:
    """The console's routes for ``services``, mounted at its prefix."""

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC or not await console_on(services):
            return plain(404, "Not Found")
        body = resources.files("syndicate.web.console").joinpath("static", name).read_bytes()
        headers = {**HEADERS, "Cache-Control": "max-age=300"}
        return Response(body, media_type=STATIC[name], headers=headers)

    inner: list[BaseRoute] = [
        *signin.routes(services),
        *today.routes(services),
        *editions.routes(services),
        *control.routes(services),
        Route("/static/{name}", static, methods=["GET"]),
    ]
    return [Mount(services.prefix, routes=inner)]
