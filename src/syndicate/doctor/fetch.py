"""HTTP for the web checks: bounded in time, redirects and size, and answering with
plain data. A request that gets no answer raises :class:`NoAnswer`, which the checks
turn into "could not check" (or, for an edition's links, a broken link).

The addresses fetched are the operator's own site and the links in their own edition,
so unlike source fetching (``ingest/sources/http.py``) there is no address policy: a
staging site on a private address is a fair thing to check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy

import requests

from syndicate.config import DoctorSettings
from syndicate.errors import SyndicateError

BODY_LIMIT = 2_000_000  # bytes read of any answer: enough for a feed or a home page


class NoAnswer(SyndicateError):
    """The request got no HTTP answer (connection, timeout, TLS, too many redirects)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: the final URL after redirects, header names lower-cased."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower-cased ("" when absent)."""
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()


class Fetcher:
    """One session for a run; ``close`` when done."""

    def __init__(self, settings: DoctorSettings, user_agent: str) -> None:
        self._session = requests.Session()
        self._session.max_redirects = settings.max_redirects
        self._session.headers["User-Agent"] = user_agent
        # No cookies kept: feed readers and mailbox providers' one-click POSTs send
        # none, so a CDN cookie from one answer must not let the next request through.
        self._session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self._timeout = settings.http_timeout

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        follow: bool = True,
        read_body: bool = True,
    ) -> Answer:
        """Send one request; :class:`NoAnswer` when no HTTP answer came back."""
        try:
            with self._session.request(
                method,
                url,
                headers=dict(headers or {}),
                data=data,
                allow_redirects=follow,
                timeout=self._timeout,
                stream=True,
            ) as response:
                body = _read(response) if read_body else b""
                return Answer(
                    response.url,
                    response.status_code,
                    {k.lower(): v for k, v in response.headers.items()},
                    body,
                )
        except requests.TooManyRedirects as err:
            raise NoAnswer(f"more than {self._session.max_redirects} redirects") from err
        except requests.RequestException as err:
            raise NoAnswer(_reason(err)) from err

    def close(self) -> None:
        """Close the session's connections."""
        self._session.close()


def _read(response: requests.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size >= BODY_LIMIT:
            break
    return b"".join(chunks)[:BODY_LIMIT]


def _reason(err: requests.RequestException) -> str:
    if isinstance(err, requests.Timeout):
        return "timed out"
    if isinstance(err, requests.ConnectionError):
        return "could not connect"
    return type(err).__name__
