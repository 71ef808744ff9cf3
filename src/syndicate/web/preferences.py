"""``/p/<token>``: the preferences page every digest links to (signed, SE-1).

GET shows the subscriber's channels (ticked ones with their cadence and sections, and
every other channel with a digest), their name and timezone, and changes nothing. POST
(form token required) saves: settings and unticked channels at once, newly ticked
channels only after a confirmation mail, like the subscribe form (a forwarded digest
must not let its reader sign the recipient up for more). A bad token is 400; a link
whose subscriber was deleted is 410.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syndicate.models import Subscriber, Subscription, utc_now
from syndicate.store.signups import SignupStore
from syndicate.subscribers.frequency import mails_per_week
from syndicate.subscribers.signup import (
    CADENCE_LABELS,
    InvalidForm,
    PreferencesResult,
    cadence_choices,
    claims_or_none,
    parse_preferences,
    section_choices,
)
from syndicate.web.forms import checked_form, fields, too_many
from syndicate.web.pages import message, not_on_list, page
from syndicate.web.privacy import privacy_values
from syndicate.web.services import Services, consent


@cache
def timezones() -> list[str]:
    """Every IANA timezone name, sorted, for the select list."""
    return sorted(available_timezones())


def routes_for(services: Services) -> list[BaseRoute]:
    """The preferences routes (part of the subscribe area, sharing its services)."""

    def invalid() -> Response:
        return message(
            services.site,
            "Link not valid",
            "This preferences link is not valid. Please use the link from the most recent email.",
            status=400,
        )

    def gone() -> Response:
        return not_on_list(services.site)

    def form_page(
        request: Request,
        subscriber: Subscriber,
        *,
        status: int = 200,
        values: dict[str, list[str]] | None = None,
        errors: dict[str, str] | None = None,
        notices: list[str] | None = None,
    ) -> Response:
        action = request.url.path
        return page(
            "preferences.html",
            status=status,
            site=services.site,
            title="Your email preferences",
            email=subscriber.email,
            name=(values["name"][0] if values and values.get("name") else subscriber.name),
            timezone=(
                values["timezone"][0] if values and values.get("timezone") else subscriber.timezone
            ),
            timezones=timezones(),
            channels=_channel_items(services, subscriber, values),
            cadence_labels=CADENCE_LABELS,
            errors=errors or {},
            notices=notices or [],
            action=action,
            csrf=services.guard.token(action),
            # The page's download and erase parts (syndicate.web.privacy).
            **privacy_values(services, action),
        )

    async def show(request: Request) -> Response:
        claims = claims_or_none(services.signups, request.path_params["token"], "preferences")
        if claims is None:
            return invalid()
        subscriber = await run_in_threadpool(services.signups.subscriber, claims)
        if subscriber is None:
            return gone()
        return await run_in_threadpool(form_page, request, subscriber)

    async def save(request: Request) -> Response:
        claims = claims_or_none(services.signups, request.path_params["token"], "preferences")
        if claims is None:
            return invalid()
        form = await checked_form(request, services.guard, services.site)
        if isinstance(form, Response):
            return form
        subscriber = await run_in_threadpool(services.signups.subscriber, claims)
        if subscriber is None:
            return gone()
        values = fields(form)
        try:
            change = parse_preferences(subscriber, services.signups.channels, values, utc_now())
        except InvalidForm as err:
            problems = err.problems
            return await run_in_threadpool(
                lambda: form_page(request, subscriber, status=400, values=values, errors=problems)
            )
        if change.add:
            wait = services.per_email.hit(subscriber.email)
            if wait is not None:
                return too_many(services, wait, "for this address")
        result = await run_in_threadpool(
            services.signups.update_preferences,
            subscriber,
            change,
            consent(request, "preferences"),
            utc_now(),
        )
        updated = await run_in_threadpool(services.signups.subscriber, claims)
        if updated is None:
            return gone()
        task = BackgroundTask(services.send, result.confirm) if result.confirm else None
        response = await run_in_threadpool(
            lambda: form_page(request, updated, notices=_notices(services, result))
        )
        response.background = task
        return response

    return [
        Route("/p/{token}", show, methods=["GET"]),
        Route("/p/{token}", save, methods=["POST"]),
    ]


def _channel_items(
    services: Services, subscriber: Subscriber, values: dict[str, list[str]] | None
) -> list[dict[str, Any]]:
    """One entry per channel on the page: the subscriber's, then the others offered."""
    now = utc_now()
    signups = services.signups
    current = {s.channel: s for s in subscriber.subscriptions}
    names = list(current) + [c for c in signups.channels if c not in current]
    ticked = set(values.get("channels") or ()) if values is not None else set(current)
    waiting = SignupStore(services.store)
    items = []
    for name in names:
        channel = signups.channels.get(name)
        sub = current.get(name) or Subscription(name)
        prefix = f"{name}."
        cadences = cadence_choices(channel, now) if channel else ()
        cadence = sub.cadence if name in current or not cadences else cadences[0]
        chosen = sub.sections
        if values is not None:
            cadence = (values.get(f"{prefix}cadence") or [cadence])[0]
            chosen = tuple(values.get(f"{prefix}sections") or ())
        items.append(
            {
                "name": name,
                "title": signups.channel_title(name),
                "ticked": name in ticked,
                "subscribed": name in current,
                "waiting": waiting.pending(subscriber.id, name) is not None,
                "cadences": cadences,
                "cadence": cadence,
                "sections": section_choices(channel) if channel else (),
                "chosen_sections": chosen,
                # What the saved choice means (Gmail shows readers how often we mail).
                "per_week": (
                    mails_per_week(services.store, channel, current[name], now).describe()
                    if channel is not None and name in current
                    else ""
                ),
            }
        )
    return items


def _notices(services: Services, result: PreferencesResult) -> list[str]:
    title = services.signups.channel_title
    lines = ["Your preferences are saved."]
    if result.left:
        lines.append(
            "You will no longer receive: " + ", ".join(title(c) for c in result.left) + "."
        )
    if result.asked:
        lines.append(
            "To start "
            + ", ".join(title(c) for c in result.asked)
            + ", open the confirmation link we are sending to your address."
        )
    return lines
