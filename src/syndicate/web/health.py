"""``/healthz``: is the server up, and has a build been published for it to serve."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from syndicate.web.context import WebContext


def routes(context: WebContext) -> list[BaseRoute]:
    """The health route."""

    async def healthz(request: Request) -> Response:
        manifest = context.files.manifest()
        headers = {"Cache-Control": "no-store"}
        if manifest is None:
            body = {"status": "unavailable", "reason": "nothing built yet (run syndicate build)"}
            return JSONResponse(body, status_code=503, headers=headers)
        return JSONResponse({"status": "ok", "channels": len(manifest.channels)}, headers=headers)

    return [Route("/healthz", healthz, methods=["GET"])]
