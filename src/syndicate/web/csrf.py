"""CSRF protection for the subscriber forms, without cookies.

Each form carries a token signed with the instance key (itsdangerous, its own salt),
bound to the path the form posts to and valid for ``subscribe.form_max_age`` seconds.
A POST must bring a valid token for its own path, and a browser's ``Sec-Fetch-Site``
and ``Origin`` headers, when sent, must say the form came from this site: that stops
another site from making visitors' browsers post our forms (which would also spread
list-bombing over many client addresses). No cookie is needed, so the pages work with
cookies off, and the RFC 8058 one-click POST, which brings no token, stays exempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from starlette.requests import Request

FIELD = "csrf_token"


def _clocked(clock: Callable[[], float]) -> type[TimestampSigner]:
    """A signer that stamps and ages tokens by ``clock`` (tests move it)."""

    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return ClockedSigner


class FormGuard:
    """Issues and checks form tokens; ``clock`` is injectable for tests."""

    def __init__(
        self,
        key: str,
        *,
        max_age: float,
        site_origin: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_age = max_age
        self._clock = clock
        self.site_origin = _origin(site_origin)
        self._serializer = URLSafeTimedSerializer(
            key, salt="syndicate.form.v1", signer=_clocked(clock)
        )

    def token(self, action: str) -> str:
        """A token for the form that posts to ``action`` (a path)."""
        return str(self._serializer.dumps(action))

    def age(self, token: str) -> float | None:
        """Seconds since ``token`` was issued (its signed timestamp), or ``None`` if it
        is not one of ours. For the minimum time-to-submit: a person takes a few
        seconds over a form, a script none."""
        try:
            _, issued = self._serializer.loads(token, return_timestamp=True)
        except BadSignature:
            return None
        return float(self._clock() - issued.timestamp())

    def problem(self, request: Request, token: str | None) -> str | None:
        """Why this POST must be refused, or ``None`` if it may go on."""
        return self.origin_problem(request) or self.token_problem(request, token)

    def origin_problem(self, request: Request) -> str | None:
        """Why this POST must be refused on its headers alone, or ``None``.

        Needs no body, so a route checks it before reading one.
        """
        # Browsers since 2023 send Sec-Fetch-Site; older ones only Origin; a client
        # that sends neither is no browser that another site could drive.
        fetch_site = request.headers.get("sec-fetch-site")
        origin = request.headers.get("origin")
        if fetch_site is not None:
            if fetch_site not in ("same-origin", "none"):
                return "the form was sent from another site"
        elif origin is not None:
            own = _origin(str(request.base_url))
            if _origin(origin) not in (own, self.site_origin):
                return "the form was sent from another site"
        return None

    def token_problem(self, request: Request, token: str | None) -> str | None:
        """Why the form ``token`` of this POST is not good for its path, or ``None``."""
        if not token:
            return "the form has no security token"
        try:
            action = self._serializer.loads(token, max_age=int(self.max_age))
        except SignatureExpired:
            return "the form has expired"
        except BadSignature:
            return "the form's security token is not valid"
        if action != request.url.path:
            return "the security token belongs to another form"
        return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
