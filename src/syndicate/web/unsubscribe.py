"""``/u/<token>``: unsubscribing from the link in every digest (STANDARDS LU-3, SE-1).

* GET shows a page with one button and changes nothing: link scanners and previews
  fetch URLs from mail, and must never unsubscribe anyone.
* POST unsubscribes at once — both the page's button and the RFC 8058 one-click POST
  (body ``List-Unsubscribe=One-Click``) that mailbox providers send. The answer is 200
  with a short page: no redirect, no cookie, no login. Repeating it changes nothing.

The token is the signed capability (purpose, subscriber, channel; see
:mod:`syndicate.tokens`); a forged, altered or other-purpose token gets a 400 page.
"""

from __future__ import annotations

from functools import cache
from html import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from syndicate.sources.base import utc_now
from syndicate.store import Store, open_store
from syndicate.store.subscribers import SubscriberStore
from syndicate.tokens import BadToken, TokenClaims, TokenSigner
from syndicate.web.context import WebContext

ONE_CLICK = "List-Unsubscribe=One-Click"
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def routes(context: WebContext) -> list[BaseRoute]:
    """The unsubscribe routes."""

    @cache
    def store() -> Store:
        return open_store(context.settings.store_url)

    @cache
    def signer() -> TokenSigner:
        from syndicate.delivery.compose import token_signer  # the same key as the mail

        return token_signer(context.settings)

    site = context.settings.site.name

    def claims(token: str) -> TokenClaims | None:
        try:
            return signer().verify(token, "unsubscribe")
        except BadToken:
            return None

    def show(request: Request) -> Response:
        token = request.path_params["token"]
        found = claims(token)
        if found is None:
            return _invalid(site)
        body = (
            f"<p>Stop receiving <strong>{escape(found.channel)}</strong> from "
            f"{escape(site)}?</p>\n"
            f'<form method="post" action="/u/{escape(token)}">\n'
            '<button type="submit">Unsubscribe</button>\n</form>'
        )
        return HTMLResponse(_page(site, "Unsubscribe", body), headers=HEADERS)

    async def unsubscribe(request: Request) -> Response:
        found = claims(request.path_params["token"])
        if found is None:
            return _invalid(site)
        form = await request.form()  # one-click (RFC 8058) or the page's button
        source = "one-click" if form.get("List-Unsubscribe") == "One-Click" else "web"
        await run_in_threadpool(
            SubscriberStore(store()).unsubscribe,
            found.subscriber_id,
            found.channel,
            source=source,
            now=utc_now(),
        )
        body = (
            f"<p>You will no longer receive <strong>{escape(found.channel)}</strong> "
            f"from {escape(site)}.</p>"
        )
        return HTMLResponse(_page(site, "Unsubscribed", body), headers=HEADERS)

    return [
        Route("/u/{token}", show, methods=["GET"]),
        Route("/u/{token}", unsubscribe, methods=["POST"]),
    ]


def _invalid(site: str) -> Response:
    body = (
        "<p>This unsubscribe link is not valid. Please use the link from the most recent "
        "email, or reply to it and we will take you off the list.</p>"
    )
    return HTMLResponse(_page(site, "Link not valid", body), status_code=400, headers=HEADERS)


def _page(site: str, title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} — {escape(site)}</title>\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )
