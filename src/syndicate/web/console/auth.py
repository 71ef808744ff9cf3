"""Who may see and change what: sessions, roles and CSRF for every console route.

Every route is wrapped by :func:`guarded`, which runs the checks in one order:

1. no operator exists → 404 (the console is off, and says nothing about itself);
2. no live session → a redirect to the sign-in page, with no data in the body;
3. an editor on an admin route → 403;
4. a POST whose ``Sec-Fetch-Site``/``Origin`` say another site sent it → 403, before
   the body is read; a POST without the session's CSRF token → 403. Nothing is changed
   by a refused request: the handler never runs.

The session cookie (``syndicate_console``) holds a random token whose hash names a row
of the store (:mod:`syndicate.store.operators`): HttpOnly, SameSite=Lax, Secure when the
request came over https (behind a proxy: see docs/console.md), scoped to the console's
path. A new token is issued at every sign-in, so a token planted before it is useless
(session fixation); signing out, changing the password or removing the operator deletes
the row, so a copied cookie stops working at once.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from syndicate.store.operators import Session
from syndicate.web.console.pages import HEADERS, plain
from syndicate.web.console.services import ConsoleServices
from syndicate.web.forms import fields, read_form
from syndicate.web.limits import BodyTooLarge

COOKIE = "syndicate_console"
CSRF_FIELD = "csrf_token"


@dataclass
class Call:
    """One request that passed the checks: the session and the form (POST)."""

    request: Request
    session: Session
    services: ConsoleServices
    form: dict[str, list[str]] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        """Who the audit log names: the operator's address."""
        return self.session.operator.email

    def field(self, name: str, default: str = "") -> str:
        """The first value of a form field, trimmed."""
        return (self.form.get(name) or [default])[0].strip()

    def values(self, name: str) -> list[str]:
        """Every value of a form field."""
        return self.form.get(name, [])

    def redirect(self, path: str) -> Response:
        """303 to a console path (after a POST: the browser GETs the result)."""
        return see_other(self.services.url(path))


Handler = Callable[[Call], Response]


def see_other(location: str) -> Response:
    """A 303 with the console's headers and an empty body."""
    return RedirectResponse(location, status_code=303, headers=HEADERS)


def to_signin(services: ConsoleServices, request: Request) -> Response:
    """The redirect an anonymous request gets: to sign-in, then back here (GET only)."""
    target = services.url("/signin")
    if request.method == "GET":
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += f"?next={quote(back, safe='')}"
    response = see_other(target)
    response.delete_cookie(COOKIE, path=services.prefix)
    return response


def safe_next(services: ConsoleServices, value: str) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    ok = value.startswith(services.prefix + "/") and not value.startswith("//")
    return value if ok and "\\" not in value else services.url("/")


def set_session_cookie(
    services: ConsoleServices, request: Request, response: Response, token: str
) -> None:
    """Give the browser the session token."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(services.absolute.total_seconds()),
        path=services.prefix,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )


async def current_session(services: ConsoleServices, request: Request) -> Session | None:
    """The live session of this request's cookie, or ``None``."""
    token = request.cookies.get(COOKIE, "")
    if not token:
        return None
    return await run_in_threadpool(
        services.operators.session,
        token,
        services.clock(),
        idle=services.idle,
        absolute=services.absolute,
    )


async def console_on(services: ConsoleServices) -> bool:
    """Whether an operator exists (the console is off until one does)."""
    return await run_in_threadpool(services.operators.any)


def guarded(
    services: ConsoleServices, handler: Handler, *, admin: bool = False
) -> Callable[[Request], object]:
    """An endpoint running ``handler`` after the checks above."""

    async def endpoint(request: Request) -> Response:
        if not await console_on(services):
            return plain(404, "Not Found")
        session = await current_session(services, request)
        if session is None:
            return to_signin(services, request)
        if admin and not session.operator.is_admin:
            return plain(403, "Forbidden: this page is for admins.")
        form: dict[str, list[str]] = {}
        if request.method == "POST":
            problem = services.guard.origin_problem(request)
            if problem:
                return plain(403, f"Refused: {problem}.")
            try:
                form = fields(await read_form(request))
            except BodyTooLarge:
                return plain(413, "Form too large.")
            sent = (form.get(CSRF_FIELD) or [""])[0]
            if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                return plain(403, "Refused: the form's security token is missing or wrong.")
        call = Call(request, session, services, form)
        response: Response = await run_in_threadpool(handler, call)
        return response

    return endpoint
