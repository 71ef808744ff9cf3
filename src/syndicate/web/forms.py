"""What every public form route shares: reading the form safely, its fields, and the
refusal pages.

Every POST is read in the same order (:func:`checked_form`): the headers say whether
another site's page sent it (403, before any body is read); the body is read up to
:data:`~syndicate.web.limits.FORM_MAX_BYTES` (413 past it, before parsing); then the
form token is checked (403) before the route reads any other field.

Kept apart from :mod:`.subscribe` and :mod:`.preferences` so that both can use it
without importing each other.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from syndicate.web.csrf import FIELD, FormGuard
from syndicate.web.limits import FORM_MAX_BYTES, BodyTooLarge, read_capped
from syndicate.web.pages import message
from syndicate.web.services import STORE_RETRY_AFTER, Services, retry_after


async def read_form(request: Request, limit: int = FORM_MAX_BYTES) -> FormData:
    """The form in ``request``'s body, read up to ``limit`` bytes (BodyTooLarge past it)."""
    body = await read_capped(request, limit)

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    # Starlette parses from the request's stream: give it the bytes already read.
    return await Request(request.scope, replay).form()


async def checked_form(request: Request, guard: FormGuard, site: str) -> FormData | Response:
    """The form of a POST whose origin and form token are good, or the refusal page."""
    problem = guard.origin_problem(request)
    if problem:
        return refused(site, problem, request.url.path)
    try:
        form = await read_form(request)
    except BodyTooLarge as err:
        return too_large(site, err.limit)
    token = form.get(FIELD)
    problem = guard.token_problem(request, token if isinstance(token, str) else None)
    if problem:
        return refused(site, problem, request.url.path)
    return form


def too_large(site: str, limit: int) -> Response:
    """The 413 page for a form body over ``limit`` bytes."""
    return message(
        site,
        "Form too large",
        f"This form is too large: we accept at most {limit // 1024} KiB.",
        status=413,
    )


def fields(form: FormData) -> dict[str, list[str]]:
    """A submitted form as lists of strings per field (files are ignored)."""
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


def refused(site: str, problem: str, back: str) -> Response:
    """The 403 page for a POST whose form token or origin is wrong."""
    return message(
        site,
        "Please try again",
        f"We could not accept this form: {problem}.",
        "Go back, reload the page, and send it again.",
        status=403,
        link=(back, "Back to the form"),
    )


def too_many(services: Services, seconds: float, what: str) -> Response:
    """The 429 page (RFC 6585 §4) with ``Retry-After``."""
    minutes = max(1, round(seconds / 60))
    return message(
        services.site,
        "Too many requests",
        f"There have been too many requests {what} recently.",
        f"Please try again in about {minutes} minute{'s' if minutes != 1 else ''}.",
        status=429,
        headers=retry_after(seconds),
    )


def store_unavailable(site: str) -> Response:
    """The 503 page (with ``Retry-After``) while the store is locked or unreachable."""
    return message(
        site,
        "Please try again shortly",
        "We cannot save or look anything up right now, and nothing was changed.",
        "Please try again in a minute.",
        status=503,
        headers=retry_after(STORE_RETRY_AFTER),
    )
