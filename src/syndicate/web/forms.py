"""What every public form route shares: reading the fields and the refusal pages.

Kept apart from :mod:`.subscribe` and :mod:`.preferences` so that both can use it
without importing each other.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.responses import Response

from syndicate.web.pages import message
from syndicate.web.services import Services, retry_after


def fields(form: FormData) -> dict[str, list[str]]:
    """A submitted form as lists of strings per field (files are ignored)."""
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


def refused(services: Services, problem: str, back: str) -> Response:
    """The 403 page for a POST whose form token or origin is wrong."""
    return message(
        services.site,
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
