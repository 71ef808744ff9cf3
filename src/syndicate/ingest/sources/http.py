"""Guarded HTTP fetching for user-configured URLs (STANDARDS SE-5).

Every fetch: http/https only; the host is resolved at connect time and every address is
checked (not globally routable → refused, unless the source allows private addresses or
names the network), then the socket connects to the checked address itself, so DNS
rebinding between check and connect is impossible; redirects are followed by hand, at
most ``max_redirects``, each hop checked again; connect and read timeouts plus a total
deadline covering everything from the connect to the last body byte (enforced by
:mod:`.deadline`, which shuts the sockets down when it comes); a body cap counted on
decoded bytes (which also caps gzip bombs); no cookies, no proxies from the environment;
a User-Agent that names the project. Which addresses may be reached is
:mod:`.addresses`.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import connection as u3connection

from syndicate.config import FetchSettings
from syndicate.errors import BlockedAddressError, FetchError, HTTPStatusError
from syndicate.ingest.sources.addresses import AddressPolicy, IPAddress, never_allowed
from syndicate.ingest.sources.deadline import FetchDeadline, active_deadline, watching

__all__ = ["AddressPolicy", "HttpFetcher", "HttpResponse", "parse_retry_after"]

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


class _GuardedConnectionMixin:
    """Resolve, check every address, then connect to the checked address itself."""

    policy: AddressPolicy
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        host = self.host.strip("[]")
        try:
            infos = socket.getaddrinfo(host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as err:
            raise FetchError(f"cannot resolve {host!r}: {err.strerror}") from err
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        blocked = [a for a in addresses if not self.policy.allows(a)]
        if blocked:
            # Refuse the host if any of its addresses is private: a round-robin answer
            # mixing public and private addresses is a known rebinding trick.
            raise BlockedAddressError(f"{host!r} resolves to {_refusal(blocked[0])}")
        deadline = active_deadline()
        last: OSError | None = None
        for address in addresses:
            timeout = self.timeout
            if deadline is not None:
                # Several addresses each get the connect timeout; together they may not
                # pass the fetch's deadline.
                if deadline.passed():
                    raise FetchError(deadline.message)
                if isinstance(timeout, int | float):
                    timeout = min(timeout, deadline.left())
            try:
                sock = u3connection.create_connection(
                    (str(address), self.port),
                    timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as err:
                last = err
                continue
            if deadline is not None:
                deadline.watch(sock)  # covers the TLS handshake too
            return sock
        raise FetchError(f"cannot connect to {host!r}: {last}") from last

    def request(self, *args: Any, **kwargs: Any) -> None:
        # A connection reused from the pool was made during an earlier fetch: its socket
        # must be watched by this fetch's deadline.
        deadline = active_deadline()
        sock: socket.socket | None = getattr(self, "sock", None)
        if deadline is not None and sock is not None:
            deadline.watch(sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


def _refusal(address: IPAddress) -> str:
    if never_allowed(address):
        return (
            f"{address}, which is not a public address: link-local (where cloud metadata "
            "services answer), never fetched whatever the source allows"
        )
    return (
        f"{address}, which is not a public address "
        "(set allow_private or allow_networks on the source to permit it)"
    )


def _guarded_adapter(policy: AddressPolicy) -> HTTPAdapter:
    http_conn = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), {})
    https_conn = type("GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection), {})
    http_conn.policy = https_conn.policy = policy  # type: ignore[attr-defined]
    http_pool = type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn})
    https_pool = type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})
    adapter = HTTPAdapter(max_retries=0)
    adapter.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}
    return adapter


@dataclass(frozen=True)
class HttpResponse:
    """A finished fetch: final URL, status (200 or 304), headers and the whole body."""

    url: str
    status: int
    headers: CaseInsensitiveDict[str] = field(default_factory=CaseInsensitiveDict)
    body: bytes = b""

    @property
    def max_age(self) -> float | None:
        """``Cache-Control: max-age`` in seconds, if the server sent one."""
        for part in self.headers.get("Cache-Control", "").split(","):
            name, _, value = part.strip().partition("=")
            if name.lower() == "max-age" and _is_ascii_digits(value.strip()):
                return float(value)
        return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if _is_ascii_digits(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are always UTC
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def _is_ascii_digits(value: str) -> bool:
    # str.isdigit() is also true for "²" and other digits float() refuses; a header
    # like "Retry-After: ²" must not turn into a crash.
    return value.isascii() and value.isdigit()


class HttpFetcher:
    """Fetches whole bodies under the limits of :class:`FetchSettings` and a policy.

    One fetcher holds one connection pool; call :meth:`close` (or use ``with``) when done.
    """

    def __init__(self, settings: FetchSettings, policy: AddressPolicy | None = None) -> None:
        self.settings = settings
        self.policy = policy or AddressPolicy()
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies or .netrc credentials from the env
        # No cookies (SE-5): a fetcher reused across URLs (a page source's pages) must not
        # carry what one server set to the next request.
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        adapter = _guarded_adapter(self.policy)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = settings.user_agent
        self.session.headers["Accept-Encoding"] = "gzip, deflate"

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
        deadline: float | None = None,
    ) -> HttpResponse:
        """GET ``url`` conditionally; return 200 with the body, or 304 with none.

        The whole fetch (resolve and connect, status line, headers, body, redirects)
        ends within ``total_timeout``, and by ``deadline`` (a :func:`time.monotonic`
        value) when the caller has one of its own.

        Raises :class:`FetchError` (transport, limits, deadline, blocked address) or
        :class:`HTTPStatusError` (any other status, with ``retry_after`` when given).
        """
        total = self.settings.total_timeout
        ends = time.monotonic() + total
        message = f"took longer than {total:g}s in total (fetch.total_timeout)"
        if deadline is not None and deadline < ends:
            ends, message = deadline, "stopped at the deadline of the run"
        with watching(FetchDeadline(ends, message)) as watchdog:
            try:
                return self._get(url, etag, last_modified, accept, watchdog)
            except FetchError as err:
                # Whatever a shut socket looked like from inside (a reset, an empty status
                # line, a short body), the cause is the deadline: say so.
                if watchdog.passed() and not isinstance(err, BlockedAddressError):
                    raise FetchError(watchdog.message, url=err.url or url) from err
                raise

    def _get(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        accept: str,
        deadline: FetchDeadline,
    ) -> HttpResponse:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            self._check_scheme(current)
            response = self._send(current, headers, deadline)
            try:
                if response.status_code in REDIRECTS and "Location" in response.headers:
                    current = urljoin(current, response.headers["Location"])
                    continue
                if response.status_code == 304:
                    return HttpResponse(current, 304, response.headers)
                if response.status_code >= 300:
                    raise HTTPStatusError(
                        f"HTTP {response.status_code} {response.reason or ''}".strip(),
                        status=response.status_code,
                        retry_after=parse_retry_after(response.headers.get("Retry-After")),
                        url=current,
                    )
                body = self._read(response, current, deadline)
                return HttpResponse(current, response.status_code, response.headers, body)
            finally:
                response.close()
        raise FetchError(f"more than {self.settings.max_redirects} redirects", url=url)

    @staticmethod
    def _check_scheme(url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"refused URL {url!r}: only http and https URLs", url=url)

    @staticmethod
    def _remaining(deadline: FetchDeadline, url: str) -> float:
        if deadline.passed():
            raise FetchError(deadline.message, url=url)
        return deadline.left()

    def _send(
        self, url: str, headers: dict[str, str], deadline: FetchDeadline
    ) -> requests.Response:
        # Each hop gets at most what is left of the total deadline, so a chain of slow
        # redirects cannot add up past it.
        left = self._remaining(deadline, url)
        timeout = (min(self.settings.connect_timeout, left), min(self.settings.read_timeout, left))
        try:
            return self.session.get(
                url, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            )
        except FetchError as err:
            err.url = err.url or url
            raise
        except requests.Timeout as err:
            raise FetchError(f"timed out fetching {url}", url=url) from err
        except requests.RequestException as err:
            raise FetchError(f"cannot fetch {url}: {_root_cause(err)}", url=url) from err

    def _read(self, response: requests.Response, url: str, deadline: FetchDeadline) -> bytes:
        cap = self.settings.max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(f"body of {declared} bytes is over the {cap}-byte cap", url=url)
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                # read1 returns after one network read (each bounded by read_timeout), so
                # the deadline is checked between reads; the watchdog ends a read that
                # is still waiting when it comes. Decoded bytes are counted, which caps
                # gzip bombs too (urllib3 bounds each decompression step).
                chunk = response.raw.read1(_CHUNK, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise FetchError(f"body is over the {cap}-byte cap", url=url)
                self._remaining(deadline, url)
                chunks.append(chunk)
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as err:
            raise FetchError(f"reading {url} failed: {_root_cause(err)}", url=url) from err
        # A close-delimited body cut by the watchdog looks complete: it is not.
        self._remaining(deadline, url)
        return b"".join(chunks)


def _root_cause(err: BaseException) -> str:
    while err.__cause__ is not None or err.__context__ is not None:
        nxt = err.__cause__ or err.__context__
        assert nxt is not None
        err = nxt
    return str(err) or type(err).__name__
