"""``/subscribe/<channel>`` and ``/confirm/<token>``: signing up with double opt-in.

* ``GET /subscribe`` lists the channels with a digest; ``GET /subscribe/<channel>`` is
  the form (email, name, cadence, sections). Unknown channels, and channels whose
  digest is off, are 404.
* ``POST /subscribe/<channel>`` checks the form token, the per-client and per-address
  limits, the fields (400, the form again with the problems), the sign-up abuse checks
  (``syndicate.subscribers.abuse``); a limit or a check that refuses gets the same
  answer as a success, sends nothing and is counted,
  checks that the store can take a write, and answers "check your inbox" — the same
  page whether the address is new, pending, already subscribed or blocked (SE-6).
  Recording the request and sending the confirmation (both depend on the address's
  state) run after the response, so the answer takes as long either way.
* ``GET /confirm/<token>`` shows what would be confirmed and a Confirm button, and
  changes nothing (mail scanners fetch links); ``POST`` confirms. A bad token is 400.

The preferences page (:mod:`syndicate.web.preferences`) shares this area's services.
"""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syndicate.config import ChannelConfig
from syndicate.models import utc_now
from syndicate.subscribers.signup import (
    CADENCE_LABELS,
    InvalidForm,
    cadence_choices,
    claims_or_none,
    parse_signup,
    section_choices,
)
from syndicate.web import preferences, privacy
from syndicate.web.context import WebContext
from syndicate.web.csrf import FIELD
from syndicate.web.forms import checked_form, fields
from syndicate.web.pages import message, page
from syndicate.web.services import Services, client_address, consent

HONEYPOT = "website"


def routes(context: WebContext) -> list[BaseRoute]:
    """The subscribe, confirm and preferences routes, sharing one :class:`Services`."""
    services = Services(context.settings)
    return [
        *signup_routes(services),
        *confirm_routes(services),
        *preferences.routes_for(services),
        *privacy.routes_for(services),
    ]


def signup_routes(services: Services) -> list[BaseRoute]:
    """``/subscribe`` and ``/subscribe/<channel>``."""

    def channel_of(request: Request) -> ChannelConfig | None:
        return services.signups.channels.get(request.path_params["channel"])

    def not_found() -> Response:
        return message(
            services.site,
            "Not found",
            "There is no email subscription here.",
            status=404,
            link=("/subscribe", "See what you can subscribe to"),
        )

    def form_page(
        request: Request,
        channel: ChannelConfig,
        *,
        status: int = 200,
        values: dict[str, list[str]] | None = None,
        errors: dict[str, str] | None = None,
    ) -> Response:
        values = values or {}
        cadences = cadence_choices(channel, utc_now())
        action = request.url.path
        return page(
            "subscribe.html",
            status=status,
            site=services.site,
            title=f"Subscribe to {channel.title}",
            channel=channel,
            action=action,
            csrf=services.guard.token(action),
            email=(values.get("email") or [""])[0],
            name=(values.get("name") or [""])[0],
            errors=errors or {},
            cadences=cadences,
            cadence_labels=CADENCE_LABELS,
            chosen_cadence=(values.get("cadence") or [cadences[0]])[0],
            sections=section_choices(channel),
            chosen_sections=values.get("sections") or (),
        )

    async def index(request: Request) -> Response:
        channels = await run_in_threadpool(lambda: list(services.signups.channels.values()))
        return page(
            "subscribe_index.html", site=services.site, title="Subscribe", channels=channels
        )

    async def show(request: Request) -> Response:
        channel = await run_in_threadpool(channel_of, request)
        if channel is None:
            return not_found()
        return form_page(request, channel)

    async def submit(request: Request) -> Response:
        channel = await run_in_threadpool(channel_of, request)
        if channel is None:
            return not_found()
        form = await checked_form(request, services.guard, services.site)
        if isinstance(form, Response):
            return form
        values = fields(form)
        # Every refusal below answers as an accepted sign-up does (issue 16: a list
        # bomber learns nothing, not even that a limit was reached) and is counted.
        if services.per_client.hit(client_address(request)) is not None:
            await run_in_threadpool(services.checks.refused, "client")
            return sent(services, (values.get("email") or [""])[0].strip())
        if (values.get(HONEYPOT) or [""])[0]:
            await run_in_threadpool(services.checks.refused, "honeypot")
            return sent(services, (values.get("email") or [""])[0].strip())  # a bot
        try:
            signup = parse_signup(channel, values, utc_now())
        except InvalidForm as err:
            return form_page(request, channel, status=400, values=values, errors=err.problems)
        if services.per_email.hit(signup.email) is not None:
            await run_in_threadpool(services.checks.refused, "address")
            return sent(services, signup.email)
        token = form.get(FIELD)
        refusal = await run_in_threadpool(
            services.abuse_refusal,
            client_address(request),
            token if isinstance(token, str) else "",
            signup.email,
        )
        if refusal is not None:  # list bombing: the same answer, and nothing is sent
            return sent(services, signup.email)
        # A store that cannot take the request is a 503 (the app's handler) now, the
        # same for every address; what the request leads to happens after the answer.
        await run_in_threadpool(services.check_writable)
        task = BackgroundTask(
            services.request_and_send,
            signup.email,
            signup.name,
            [signup.subscription],
            consent(request, request.url.path),
            utc_now(),
        )
        return sent(services, signup.email, background=task)

    return [
        Route("/subscribe", index, methods=["GET"]),
        Route("/subscribe/{channel}", show, methods=["GET"]),
        Route("/subscribe/{channel}", submit, methods=["POST"]),
    ]


def sent(services: Services, email: str, background: BackgroundTask | None = None) -> Response:
    """The one answer to every accepted sign-up, whatever the address's state (SE-6)."""
    return message(
        services.site,
        "Check your inbox",
        f"If {email} can receive our email, a message with a confirmation link is on its "
        "way to it. Open the link and press Confirm to start your subscription.",
        "Nothing will be sent to you until you confirm. If no message arrives within a "
        "few minutes, look in your spam folder.",
        background=background,
    )


def confirm_routes(services: Services) -> list[BaseRoute]:
    """``/confirm/<token>``: GET shows a button, POST confirms."""

    def invalid() -> Response:
        return message(
            services.site,
            "Link not valid",
            "This confirmation link is not valid or has expired. Please subscribe again "
            "to get a new one.",
            status=400,
            link=("/subscribe", "Subscribe"),
        )

    def used() -> Response:
        return message(
            services.site,
            "Link already used",
            "There is nothing waiting to be confirmed with this link any more. Please "
            "subscribe again to get a new one.",
            status=410,
            link=("/subscribe", "Subscribe"),
        )

    def done(subscriber_id: int, channel: str, already: bool) -> Response:
        title = services.signups.channel_title(channel)
        first = (
            f"You were already subscribed to {title}."
            if already
            else f"You are subscribed to {title}. Thank you!"
        )
        return message(
            services.site,
            "Subscribed",
            first,
            link=(
                services.signups.preferences_url(subscriber_id, channel),
                "Change what you receive",
            ),
        )

    async def show(request: Request) -> Response:
        claims = claims_or_none(services.signups, request.path_params["token"], "confirm")
        if claims is None:
            return invalid()
        pending = await run_in_threadpool(services.signups.pending, claims)
        if pending is None:
            who = await run_in_threadpool(services.signups.subscriber, claims)
            if (
                who is not None
                and who.status == "active"
                and any(s.channel == claims.channel for s in who.subscriptions)
            ):
                title = services.signups.channel_title(claims.channel)
                return message(services.site, "Subscribed", f"You are subscribed to {title}.")
            return used()
        sub = pending.subscription
        return page(
            "confirm.html",
            site=services.site,
            title="Confirm your subscription",
            email=pending.email,
            channel_title=services.signups.channel_title(sub.channel),
            cadence=CADENCE_LABELS.get(sub.cadence, sub.cadence),
            sections=sub.sections,
            action=request.url.path,
            csrf=services.guard.token(request.url.path),
        )

    async def confirm(request: Request) -> Response:
        claims = claims_or_none(services.signups, request.path_params["token"], "confirm")
        if claims is None:
            return invalid()
        form = await checked_form(request, services.guard, services.site)
        if isinstance(form, Response):
            return form
        outcome = await run_in_threadpool(
            services.signups.confirm, claims, consent(request, "confirm"), utc_now()
        )
        if outcome == "missing":
            return used()
        return done(claims.subscriber_id, claims.channel, outcome == "already")

    return [
        Route("/confirm/{token}", show, methods=["GET"]),
        Route("/confirm/{token}", confirm, methods=["POST"]),
    ]
