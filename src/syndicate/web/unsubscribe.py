"""``/u/<token>``: unsubscribing from the link in every digest (STANDARDS LU-3, SE-1).

* GET shows a page with one button and changes nothing: link scanners and previews
  fetch URLs from mail, and must never unsubscribe anyone. Above the button it offers
  "less often" instead (``subscribers/frequency.py``): each slower cadence the channel
  serves and each single section, one button each, posted with a form token to
  ``/u/<token>/less``, which keeps the subscription with that choice.
* POST unsubscribes at once — both the page's button and the RFC 8058 one-click POST
  (body ``List-Unsubscribe=One-Click``) that mailbox providers send. The answer is 200
  with a short page: no redirect, no cookie, no login. Repeating it changes nothing.
  The button's POST carries a form token (:mod:`syndicate.web.csrf`); the one-click
  POST is exempt, as RFC 8058 §3.2 requires.

The token is the signed capability (purpose, subscriber, channel; see
:mod:`syndicate.delivery.tokens`); a forged, altered or other-purpose token gets a 400 page.
``syndicate doctor``'s probe token (``TokenClaims.is_probe``) is answered like a real one
and changes nothing.

While the store is locked or down, the button's POST is a 503 with ``Retry-After`` (the
reader is there to press it again), but the one-click POST is sent once by a mailbox
provider and must not be lost: it is queued on disk under :data:`QUEUE_DIR`
(:mod:`syndicate.web.unsubqueue`), answered 202, and applied as soon as the store is back.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syndicate.config import ChannelConfig, load_channels
from syndicate.delivery import BadToken, TokenClaims, TokenSigner
from syndicate.errors import ConfigError, StoreError
from syndicate.models import Subscriber, Subscription, utc_now
from syndicate.store import Store
from syndicate.store.subscribers import SubscriberStore
from syndicate.subscribers.frequency import (
    Option,
    apply_less_often,
    less_often,
    mails_per_week,
)
from syndicate.subscribers.signup import CADENCE_LABELS
from syndicate.web.context import WebContext
from syndicate.web.csrf import FIELD, FormGuard
from syndicate.web.forms import checked_form, read_form, refused, store_unavailable, too_large
from syndicate.web.limits import BodyTooLarge
from syndicate.web.pages import message, page
from syndicate.web.services import open_web_store
from syndicate.web.unsubqueue import PendingUnsubscribes

QUEUE_DIR = Path("var/pending-unsubscribes")
"""Where one-click unsubscribes wait for the store (relative to the instance folder)."""
RETRY_SECONDS = 5.0
"""How often the queue tries the store again while it is unavailable."""


def routes(context: WebContext) -> list[BaseRoute]:
    """The unsubscribe routes."""

    @cache
    def store() -> Store:
        return open_web_store(context.settings.store_url)

    def apply(subscriber_id: int, channel: str, source: str, at: datetime) -> bool:
        return SubscriberStore(store()).unsubscribe(subscriber_id, channel, source=source, now=at)

    queue = PendingUnsubscribes(
        context.settings.resolve(QUEUE_DIR), apply, retry=lambda: RETRY_SECONDS
    )
    queue.start()  # what a previous process left queued

    @cache
    def signer() -> TokenSigner:
        from syndicate.delivery.compose import token_signer  # the same key as the mail

        return token_signer(context.settings)

    @cache
    def guard() -> FormGuard:
        from syndicate.delivery.compose import signing_key

        return FormGuard(
            signing_key(context.settings),
            max_age=context.settings.subscribe.form_max_age,
            site_origin=context.settings.site.base_url,
        )

    site = context.settings.site.name

    def claims(token: str) -> TokenClaims | None:
        try:
            return signer().verify(token, "unsubscribe")
        except BadToken:
            return None

    @cache
    def channels() -> dict[str, ChannelConfig]:
        return {c.name: c for c in load_channels(context.settings)}

    def title_of(name: str) -> str:
        try:
            config = channels().get(name)
        except ConfigError:
            return name  # a broken channel file must not break unsubscribing
        return config.title if config is not None else name

    def offers(found: TokenClaims, at: datetime) -> tuple[Subscriber | None, list[Option]]:
        """The subscriber and the "less often" choices their subscription has."""
        subscriber = SubscriberStore(store()).get_by_id(found.subscriber_id)
        config = channels().get(found.channel)
        if subscriber is None or config is None or subscriber.status != "active":
            return subscriber, []
        sub = next((s for s in subscriber.subscriptions if s.channel == found.channel), None)
        return subscriber, ([] if sub is None else less_often(store(), config, sub, at))

    def show(request: Request) -> Response:
        token = request.path_params["token"]
        found = claims(token)
        if found is None:
            return _invalid(site)
        action, slower = f"/u/{token}", f"/u/{token}/less"
        try:
            _, options = offers(found, utc_now())
        except (StoreError, SQLAlchemyError, ConfigError):
            options = []  # the button must still work (and say 503 if need be)
        return page(
            "unsubscribe.html",
            site=site,
            title="Unsubscribe",
            channel=found.channel,
            action=action,
            csrf=guard().token(action),
            options=options,
            channel_title=title_of(found.channel),
            less_action=slower,
            less_csrf=guard().token(slower),
        )

    async def less(request: Request) -> Response:
        """One click on a "less often" button: the subscription stays, slower."""
        found = claims(request.path_params["token"])
        if found is None:
            return _invalid(site)
        form = await checked_form(request, guard(), site)
        if isinstance(form, Response):
            return form
        choice = form.get("choice")
        field, _, value = (choice if isinstance(choice, str) else "").partition(":")
        now = utc_now()

        def switch() -> Subscription | None:
            subscriber, _ = offers(found, now)
            config = channels().get(found.channel)
            if subscriber is None or config is None:
                return None
            return apply_less_often(store(), subscriber, config, field, value, now)

        new = await run_in_threadpool(switch)
        if new is None:
            return message(
                site,
                "Nothing changed",
                "That choice is not available for this subscription any more.",
                status=409,
            )
        config = channels()[found.channel]
        week = await run_in_threadpool(mails_per_week, store(), config, new, now)
        what = (
            CADENCE_LABELS.get(new.cadence, new.cadence).lower()
            if field == "cadence"
            else f"only {value}"
        )
        return message(
            site,
            "You are still subscribed",
            f"You will now receive {config.title}: {what}, {week.describe()}.",
            "You can change this, or unsubscribe, from the links in any email.",
        )

    async def unsubscribe(request: Request) -> Response:
        found = claims(request.path_params["token"])
        if found is None:
            return _invalid(site)
        # The body comes first: only it says whether this is the one-click POST, which
        # is exempt from the origin and form token checks (RFC 8058: no token, no
        # cookie, no login). Nothing else in it is read.
        try:
            form = await read_form(request)
        except BodyTooLarge as err:
            return too_large(site, err.limit)
        if form.get("List-Unsubscribe") == "One-Click":
            source = "one-click"
        else:
            token = form.get(FIELD)
            problem = guard().problem(request, token if isinstance(token, str) else None)
            if problem:
                return refused(site, problem, request.url.path)
            source = "web"
        if found.is_probe:
            # syndicate doctor's live check: the whole path ran (token, body, form
            # checks); there is no subscription to change, so the store is not touched.
            return message(site, "Unsubscribed", "This was a test: nothing was changed.")
        now = utc_now()
        try:
            await run_in_threadpool(apply, found.subscriber_id, found.channel, source, now)
        except (StoreError, SQLAlchemyError):
            if source != "one-click":
                raise  # the app answers 503: the reader can press the button again
            try:
                await run_in_threadpool(queue.add, found.subscriber_id, found.channel, source, now)
            except OSError:
                return store_unavailable(site)
            return message(
                site,
                "Unsubscribed",
                f"You will no longer receive {found.channel} from {site}.",
                status=202,
            )
        return message(
            site, "Unsubscribed", f"You will no longer receive {found.channel} from {site}."
        )

    return [
        Route("/u/{token}", show, methods=["GET"]),
        Route("/u/{token}", unsubscribe, methods=["POST"]),
        Route("/u/{token}/less", less, methods=["POST"]),
    ]


def _invalid(site: str) -> Response:
    return message(
        site,
        "Link not valid",
        "This unsubscribe link is not valid. Please use the link from the most recent "
        "email, or reply to it and we will take you off the list.",
        status=400,
    )
