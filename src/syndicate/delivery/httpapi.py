"""The shared base of backends that call a provider's API over HTTP (STYLE 1).

:class:`HTTPAPIBackend` implements :meth:`~syndicate.delivery.api.APIBackend.call` over a
requests Session and maps what HTTP says; its providers implement only
:meth:`~HTTPAPIBackend.build_request` and :meth:`~HTTPAPIBackend.parse_response` (plus
:meth:`~HTTPAPIBackend.parse_error` when a 4xx body carries detail). Checking, batching,
pacing, threads and settling are :class:`~syndicate.delivery.api.APIBackend`'s.

================================  ==========================================================
what happened                     result
================================  ==========================================================
2xx                               the provider's per-message results
429                               TransportError with Retry-After (seconds or an HTTP date)
408, 5xx                          TransportError (deferred)
401/403/404/405                   BackendConfigError: dispatch stops (``config_statuses``)
3xx                               BackendConfigError: ``base_url`` points at the wrong place
other 4xx                         ``parse_error``: by default every message ``failed``
connection refused, DNS, connect  TransportError: nothing was sent
read timeout, reset after send    TransportError saying the outcome is unknown (PV-1)
================================  ==========================================================

No request is ever retried here: the providers have no idempotency keys (PV-1), so a
retry is the outbox's decision, made with the result in hand.
"""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from pydantic import Field, field_validator
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from syndicate.delivery.api import UNKNOWN_OUTCOME, USER_AGENT, APIBackend, APIBackendOptions
from syndicate.delivery.base import BackendOptions, RateLimiter
from syndicate.errors import BackendConfigError, TransportError
from syndicate.models import DeliveryResult, OutboundMessage


class HTTPBackendOptions(APIBackendOptions):
    """Settings of every HTTP API backend."""

    base_url: str = Field("", description="API address; empty for the provider's own.")
    proxy: str | None = Field(None, description="HTTP(S) proxy URL; none by default.")

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        # An API key must not cross the network in clear: plain http only to a loopback
        # address (the tests' local server).
        if not value:
            return value
        parts = urlsplit(value)
        host = parts.hostname or ""
        loopback = host in ("localhost", "::1") or host.startswith("127.")
        if (parts.scheme == "https" and host) or (parts.scheme == "http" and loopback):
            return value.rstrip("/")
        raise ValueError("an https:// URL (plain http only to a loopback address)")


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP date (PV-6)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


@dataclass(frozen=True)
class APIRequest:
    """One HTTP request a provider wants sent.

    ``path`` is appended to the base URL; exactly one of ``json`` or ``data`` (form
    fields, with ``files`` for multipart) is usually set.
    """

    path: str
    json: Any = None
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    method: str = "POST"


class HTTPAPIBackend(APIBackend):
    """An API backend over HTTP: a requests Session per thread, timeouts, status mapping."""

    Options: ClassVar[type[BackendOptions]] = HTTPBackendOptions
    options: HTTPBackendOptions
    default_base_url: ClassVar[str] = ""
    # 404/405: the address is not an API endpoint (or, at Mailgun, the domain is unknown).
    config_statuses: ClassVar[frozenset[int]] = frozenset({401, 403, 404, 405})

    def __init__(self, options: BackendOptions, *, limiter: RateLimiter | None = None) -> None:
        super().__init__(options, limiter=limiter)
        # requests.Session is not documented as thread-safe: one per sending thread.
        self._local = threading.local()
        self._sessions: list[requests.Session] = []

    @property
    def base_url(self) -> str:
        """Where requests go: the ``base_url`` option, else the provider's address."""
        return self.options.base_url or self.default_base_url

    @abstractmethod
    def build_request(self, chunk: Sequence[OutboundMessage]) -> APIRequest:
        """The request that sends ``chunk`` (at most ``messages_per_request`` messages)."""

    @abstractmethod
    def parse_response(
        self, chunk: Sequence[OutboundMessage], response: requests.Response
    ) -> list[DeliveryResult]:
        """One result per message of ``chunk`` from a 2xx answer.

        Raise TransportError (outcome unknown) if the answer cannot be matched to the
        messages.
        """

    def parse_error(
        self, chunk: Sequence[OutboundMessage], response: requests.Response
    ) -> list[DeliveryResult]:
        """Results for a 4xx answer other than 401/403/429: by default all ``failed``."""
        error = f"HTTP {response.status_code}: {excerpt(response)}"
        body = response_body(response)
        return [DeliveryResult(m.delivery_id, "failed", error=error, raw=body) for m in chunk]

    def new_session(self) -> requests.Session:
        """A Session for one thread: no retries, no environment proxies or netrc."""
        session = requests.Session()
        session.trust_env = False
        session.headers["User-Agent"] = USER_AGENT
        session.mount("https://", HTTPAdapter(max_retries=0, pool_maxsize=1))
        session.mount("http://", HTTPAdapter(max_retries=0, pool_maxsize=1))
        if self.options.proxy:
            session.proxies = {"http": self.options.proxy, "https": self.options.proxy}
        return session

    def session(self) -> requests.Session:
        """This thread's Session, made on first use."""
        current: requests.Session | None = getattr(self._local, "session", None)
        if current is None:
            current = self.new_session()
            self._local.session = current
            with self._pool_lock:
                self._sessions.append(current)
        return current

    def close(self) -> None:
        """Stop the request threads and close every Session."""
        super().close()
        with self._pool_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    def call(self, chunk: Sequence[OutboundMessage]) -> list[DeliveryResult]:
        """Build, pace, send and read one request (see the module's mapping table)."""
        request = self.build_request(chunk)
        self.request_limiter.acquire(len(chunk))
        response = self._send(request)
        status = response.status_code
        if 200 <= status < 300:
            return self.parse_response(chunk, response)
        where = f"{self.name}: HTTP {status} from {request.path}"
        if status in self.config_statuses:
            raise BackendConfigError(f"{where}: {excerpt(response)}", backend=self.name)
        if 300 <= status < 400:
            location = response.headers.get("Location", "?")
            raise BackendConfigError(f"{where}: redirected to {location}", backend=self.name)
        if status == 429 or status == 408 or status >= 500:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            raise TransportError(
                f"{where}: {excerpt(response)}", backend=self.name, retry_after=wait
            )
        return self.parse_error(chunk, response)

    def _send(self, request: APIRequest) -> requests.Response:
        url = self.base_url + request.path
        try:
            return self.session().request(
                request.method,
                url,
                json=request.json,
                data=request.data,
                files=request.files,
                headers=request.headers,
                auth=request.auth,
                timeout=(self.options.connect_timeout, self.options.timeout),
                allow_redirects=False,
            )
        except requests.RequestException as err:
            if _not_sent(err):
                raise TransportError(f"{self.name}: cannot reach {url}: {err}") from err
            raise TransportError(f"{self.name}: {url}: {err}; {UNKNOWN_OUTCOME}") from err


def _not_sent(err: requests.RequestException) -> bool:
    # Only a failure to connect proves the provider never saw the request; a timeout or
    # a reset while waiting for the answer leaves the outcome unknown (PV-1).
    if isinstance(err, requests.ConnectTimeout):
        return True
    if isinstance(err, requests.ConnectionError) and err.args:
        reason = getattr(err.args[0], "reason", None)
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


def response_body(response: requests.Response) -> Any:
    """The answer's JSON, or its text when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return response.text


def excerpt(response: requests.Response, limit: int = 300) -> str:
    """The start of the answer's body, on one line, for error messages."""
    text = " ".join(response.text.split())
    return text[:limit] + ("…" if len(text) > limit else "")
