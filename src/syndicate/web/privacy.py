"""A subscriber's data from their preferences page: download it, or have it erased.

* ``GET /p/<token>/data`` — everything held about the subscriber, as a JSON download
  (a ``preferences`` token, like the page; no message bodies).
* ``POST /p/<token>/erase`` (form token) — mails a confirmation link through the
  configured backend, after the answer; nothing is erased yet. Counted against the
  per-address limit, like confirmation mails.
* ``GET /erase/<token>`` — what erasure means, with an **Erase** button; changes
  nothing (mail scanners fetch links).
* ``POST /erase/<token>`` (form token) — erases, keeping only a hash of the address.

The logic is :mod:`syndicate.subscribers.privacy`; this module only turns HTTP into it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syndicate.models import utc_now
from syndicate.subscribers.privacy import erase, erasure_request, export_data
from syndicate.subscribers.signup import claims_or_none
from syndicate.web.forms import checked_form, too_many
from syndicate.web.pages import HEADERS, message, not_on_list, page
from syndicate.web.services import Services


def privacy_values(services: Services, action: str) -> dict[str, Any]:
    """What the preferences page at ``action`` shows for download and erasure."""
    erase_action = f"{action}/erase"
    return {
        "data_url": f"{action}/data",
        "erase_action": erase_action,
        "erase_csrf": services.guard.token(erase_action),
    }


def routes_for(services: Services) -> list[BaseRoute]:
    """The download and erasure routes (sharing the subscribe area's services)."""

    def invalid(what: str = "link") -> Response:
        return message(
            services.site,
            "Link not valid",
            f"This {what} is not valid or has expired. Please use the link from the most "
            "recent email.",
            status=400,
        )

    def gone() -> Response:
        return not_on_list(services.site)

    async def download(request: Request) -> Response:
        claims = claims_or_none(services.signups, request.path_params["token"], "preferences")
        if claims is None:
            return invalid()
        subscriber = await run_in_threadpool(services.signups.subscriber, claims)
        if subscriber is None:
            return gone()
        data = await run_in_threadpool(export_data, services.store, subscriber.email, utc_now())
        body = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        headers = {
            **HEADERS,
            "Content-Disposition": 'attachment; filename="my-data.json"',
        }
        return Response(body, media_type="application/json", headers=headers)

    async def ask(request: Request) -> Response:
        claims = claims_or_none(services.signups, request.path_params["token"], "preferences")
        if claims is None:
            return invalid()
        form = await checked_form(request, services.guard, services.site)
        if isinstance(form, Response):
            return form
        subscriber = await run_in_threadpool(services.signups.subscriber, claims)
        if subscriber is None:
            return gone()
        wait = services.per_email.hit(subscriber.email)
        if wait is not None:
            return too_many(services, wait, "for this address")
        mail = erasure_request(services.signups, subscriber, utc_now())
        return message(
            services.site,
            "Check your inbox",
            f"We have sent a link to {subscriber.email}. Open it and press Erase to erase "
            "everything we hold about you. Until then nothing changes.",
            background=BackgroundTask(services.send, mail),
        )

    async def confirm_page(request: Request) -> Response:
        claims = claims_or_none(services.signups, request.path_params["token"], "erase")
        if claims is None:
            return invalid("erasure link")
        subscriber = await run_in_threadpool(services.signups.subscriber, claims)
        if subscriber is None:
            return gone()
        action = request.url.path
        return page(
            "erase.html",
            site=services.site,
            title="Erase your data",
            email=subscriber.email,
            action=action,
            csrf=services.guard.token(action),
        )

    async def confirm(request: Request) -> Response:
        claims = claims_or_none(services.signups, request.path_params["token"], "erase")
        if claims is None:
            return invalid("erasure link")
        form = await checked_form(request, services.guard, services.site)
        if isinstance(form, Response):
            return form
        subscriber = await run_in_threadpool(services.signups.subscriber, claims)
        if subscriber is None:
            return gone()
        await run_in_threadpool(erase, services.store, subscriber.email, utc_now())
        return message(
            services.site,
            "Your data is erased",
            "We hold nothing about you any more, except a one-way hash of your address so "
            "that we never write to it again.",
            link=("/subscribe", "Subscribe again"),
        )

    return [
        Route("/p/{token}/data", download, methods=["GET"]),
        Route("/p/{token}/erase", ask, methods=["POST"]),
        Route("/erase/{token}", confirm_page, methods=["GET"]),
        Route("/erase/{token}", confirm, methods=["POST"]),
    ]
