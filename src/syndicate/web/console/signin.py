"""Signing in and out.

``GET /signin`` is the form; ``POST /signin`` checks, in order, the origin headers and
the form's signed token (login CSRF), the per-client limit (429 with ``Retry-After``),
then the password (argon2id; a locked account is refused without trying it). Wrong
address, wrong password and locked account get one answer, so the form tells nobody
which addresses exist. Success starts a new session (a new token, never the one the
browser brought) and goes back to where the visitor was heading.
"""

from __future__ import annotations

import math

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syndicate.web.console.auth import (
    COOKIE,
    Call,
    console_on,
    guarded,
    safe_next,
    see_other,
    set_session_cookie,
)
from syndicate.web.console.pages import page, plain
from syndicate.web.console.services import ConsoleServices
from syndicate.web.csrf import FIELD
from syndicate.web.forms import fields, read_form
from syndicate.web.limits import BodyTooLarge
from syndicate.web.services import client_address

WRONG = "Wrong email or password, or the account is locked after too many wrong passwords."


def routes(services: ConsoleServices) -> list[BaseRoute]:
    """``/signin`` (GET, POST) and ``/signout`` (POST)."""

    def form(request: Request, *, status: int = 200, error: str = "", email: str = "") -> Response:
        action = services.url("/signin")
        return page(
            "signin.html",
            status=status,
            site=services.site,
            title="Sign in",
            action=action,
            token=services.guard.token(action),
            field=FIELD,
            next=safe_next(services, request.query_params.get("next", "")),
            error=error,
            email=email,
            prefix=services.prefix,
        )

    async def signin(request: Request) -> Response:
        if not await console_on(services):
            return plain(404, "Not Found")
        if request.method == "GET":
            return form(request)
        problem = services.guard.origin_problem(request)
        if problem:
            return plain(403, f"Refused: {problem}.")
        try:
            data = fields(await read_form(request))
        except BodyTooLarge:
            return plain(413, "Form too large.")
        token = (data.get(FIELD) or [""])[0]
        problem = services.guard.token_problem(request, token)
        if problem:
            return form(request, status=403, error=f"Please try again: {problem}.")
        wait = services.signin_limit.hit(client_address(request))
        if wait is not None:
            response = form(request, status=429, error="Too many attempts: wait and try again.")
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        email = (data.get("email") or [""])[0].strip()
        password = (data.get("password") or [""])[0]
        now = services.clock()
        verdict, operator = await run_in_threadpool(
            services.operators.verify,
            email,
            password,
            now,
            lockout_after=services.settings.console.lockout_after,
            lockout=services.lockout,
        )
        if verdict != "ok" or operator is None:
            return form(request, status=401, error=WRONG, email=email)
        new_token = await run_in_threadpool(services.operators.start_session, operator, now)
        await run_in_threadpool(
            services.operators.audit, operator.email, "operator.signin", operator.email, now
        )
        target = safe_next(services, (data.get("next") or [""])[0])
        response = see_other(target)
        set_session_cookie(services, request, response, new_token)
        return response

    def signout(call: Call) -> Response:
        services.operators.end_session(call.request.cookies.get(COOKIE, ""))
        response = call.redirect("/signin")
        response.delete_cookie(COOKIE, path=services.prefix)
        return response

    return [
        Route("/signin", signin, methods=["GET", "POST"]),
        Route("/signout", guarded(services, signout), methods=["POST"]),
    ]
