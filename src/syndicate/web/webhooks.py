"""``POST /webhooks/<provider>``: provider bounce and complaint webhooks (SE-7).

A thin shell over :class:`syndicate.webhooks.receive.WebhookReceiver`: read the body up
to ``webhooks.max_body_bytes``, hand it over in a worker thread, and turn the outcome
into a status. 200 with a JSON summary when accepted (a duplicate is accepted: the
provider must stop retrying); the error's own status when refused (403 not authentic,
400 unreadable, 404 not configured, 413 too large); 503 when the store failed, so the
provider delivers again later and nothing is lost.
"""

from __future__ import annotations

import logging
from functools import cache

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from syndicate.errors import ConfigError, StoreError, WebhookError
from syndicate.models import utc_now
from syndicate.store import open_store
from syndicate.web.context import WebContext
from syndicate.web.limits import BodyTooLarge, read_capped
from syndicate.webhooks.receive import WebhookReceiver

log = logging.getLogger(__name__)

HEADERS = {"Cache-Control": "no-store"}


def routes(context: WebContext) -> list[BaseRoute]:
    """The webhook route."""
    limit = context.settings.webhooks.max_body_bytes

    @cache
    def receiver() -> WebhookReceiver:
        return WebhookReceiver(context.settings, open_store(context.settings.store_url))

    async def webhook(request: Request) -> Response:
        provider = request.path_params["provider"]
        try:
            body = await read_capped(request, limit)
        except BodyTooLarge:
            return _error(413, f"body larger than {limit} bytes (webhooks.max_body_bytes)")
        headers = dict(request.headers.items())  # Starlette gives lower-case names
        try:
            receipt = await run_in_threadpool(
                lambda: receiver().receive(provider, body, headers, utc_now())
            )
        except WebhookError as err:
            log.warning("webhook %s refused (%d): %s", provider, err.status, err)
            return _error(err.status, str(err))
        except (StoreError, ConfigError, SQLAlchemyError) as err:
            log.error("webhook %s not processed: %s", provider, err)
            return _error(503, "not processed; deliver again later")
        return JSONResponse(receipt.as_dict(), headers=HEADERS)

    return [Route("/webhooks/{provider}", webhook, methods=["POST"])]


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=HEADERS)
