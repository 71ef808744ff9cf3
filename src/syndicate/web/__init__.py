"""The Starlette app: one app, routes assembled from per-area route lists.

Each area is a module with ``routes(context) -> list[BaseRoute]`` listed in
:data:`AREAS`; later areas (subscriber pages, provider webhooks, metrics) add their
module there and share the :class:`WebContext`. The web layer only serves what the
pipeline produced; it holds no pipeline logic (DESIGN §3).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import uvicorn
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from syndicate.config import Settings
from syndicate.errors import StoreError
from syndicate.web import (
    archive,
    console,
    feeds,
    health,
    index,
    metrics,
    subscribe,
    unsubscribe,
    webhooks,
)
from syndicate.web.context import WebContext
from syndicate.web.forms import store_unavailable
from syndicate.web.lean import LeanApp, LeanFiles
from syndicate.web.published import PublishedFiles
from syndicate.web.redirects import RelativeRedirects
from syndicate.web.server import (
    HEADER_TIMEOUT,
    KEEP_ALIVE_TIMEOUT,
    MAX_HEAD_BYTES,
    guarded_protocol,
    redact_handlers,
    redact_logger,
)

__all__ = ["AREAS", "WebContext", "create_app", "server_config"]

log = logging.getLogger(__name__)

# Each area contributes its routes; add new areas (webhooks, metrics) here.
AREAS: list[Callable[[WebContext], list[BaseRoute]]] = [
    index.routes,
    feeds.routes,
    health.routes,
    unsubscribe.routes,
    archive.routes,
    webhooks.routes,
    metrics.routes,
    subscribe.routes,  # /subscribe, /confirm and the preferences page /p
    console.routes,  # the editor's console under [console] path (off until an operator exists)
]


def create_app(settings: Settings) -> LeanApp:
    """The app serving the instance's output folder (``output.dir``).

    Published feed files are answered from memory before the router
    (:mod:`syndicate.web.lean`); ``app.lean`` is that table, which ``syndicate serve``'s
    connections also answer from directly (:mod:`syndicate.web.fastlane`).
    """
    files = PublishedFiles(settings.resolve(settings.output.dir))
    lean = LeanFiles(files, etag_style=settings.output.etag)
    context = WebContext(settings, files, lean)
    routes = [route for area in AREAS for route in area(context)]
    site = settings.site.name

    async def unavailable(request: Request, exc: Exception) -> Response:
        # A locked or unreachable store is a 503 with Retry-After, never a 500. Only the
        # driver's own message is logged: SQLAlchemy's carries the statement's values.
        log.error("store unavailable: %s", getattr(exc, "orig", None) or exc)
        return store_unavailable(site)

    handlers = {StoreError: unavailable, SQLAlchemyError: unavailable}
    app = LeanApp(
        routes=routes,
        exception_handlers=handlers,
        middleware=[Middleware(RelativeRedirects)],
    )
    app.lean = lean
    app.state.context = context
    return app


def server_config(
    app: Starlette,
    host: str,
    port: int,
    *,
    access_log: bool = True,
    header_timeout: float = HEADER_TIMEOUT,
    root_path: str = "",
) -> uvicorn.Config:
    """The uvicorn configuration `syndicate serve` (and the tests) run the app with.

    The app sets ``Date`` itself (304s must carry it, HT-2, also under test clients),
    so uvicorn's own Date header is off to avoid sending two; the Server header is off.
    Connections run on uvloop with uvicorn's httptools protocol (asyncio's loop and h11
    when they are missing) with a deadline of ``header_timeout`` seconds for each
    request head and heads of at most 16 KiB (:mod:`syndicate.web.server`); with
    httptools, published files are answered by the connection itself from the app's
    ``lean`` table (:mod:`syndicate.web.fastlane`). No log line of the process shows a
    link token.
    """
    # uvicorn's loggers for any set-up, and the handlers the CLI configured for the
    # app's own records too.
    for name in ("uvicorn.access", "uvicorn.error"):
        redact_logger(logging.getLogger(name))
    redact_handlers()
    lean = app.lean if isinstance(app, LeanApp) and not root_path else None
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=_loop(),
        http=guarded_protocol(header_timeout, lean),
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        access_log=access_log,
        date_header=False,
        server_header=False,
        log_config=None,  # keep the CLI's logging set-up
        lifespan="off",
        root_path=root_path,
    )


def _loop() -> str:
    """uvloop when installed (it is with ``uvicorn[standard]``), else asyncio's loop."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"
