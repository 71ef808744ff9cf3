"""Guarded HTTP fetching for user-configured URLs (STANDARDS SE-5).

Every fetch: http/https only; the host is resolved at connect time and every address is
checked (not globally routable → refused, unless the source allows private addresses or
names the network), then the socket connects to the checked address itself, so DNS
rebinding between check and connect is impossible; redirects are followed by hand, at
most ``max_redirects``, each hop checked again; connect and read timeouts plus a total
deadline; a body cap counted on decoded bytes (which also caps gzip bombs); no cookies,
no proxies from the environment; a User-Agent that names the project.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
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

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses a fetch may connect to.

    Public (globally routable) addresses always; any address when ``allow_private``;
    otherwise only those inside ``networks``. IPv4-mapped IPv6 addresses are unwrapped.
    """

    allow_private: bool = False
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_config(cls, allow_private: bool, networks: Iterable[str]) -> AddressPolicy:
        """Build a policy from a source's ``allow_private`` and ``allow_networks`` keys."""
        return cls(allow_private, tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def allows(self, address: IPAddress) -> bool:
        """True when a connection to ``address`` is permitted."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if self.allow_private or address.is_global:
            return True
        return any(address in net for net in self.networks)


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
            raise BlockedAddressError(
                f"{host!r} resolves to {blocked[0]}, which is not a public address "
                "(set allow_private or allow_networks on the source to permit it)"
            )
        last: OSError | None = None
        for address in addresses:
            try:
                return u3connection.create_connection(
                    (str(address), self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as err:
                last = err
        raise FetchError(f"cannot connect to {host!r}: {last}") from last


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
    ) -> HttpResponse:
        """GET ``url`` conditionally; return 200 with the body, or 304 with none.

        Raises :class:`FetchError` (transport, limits, blocked address) or
        :class:`HTTPStatusError` (any other status, with ``retry_after`` when given).
        """
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + self.settings.total_timeout
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

    def _remaining(self, deadline: float, url: str) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchError(f"took longer than {self.settings.total_timeout:g}s in total", url=url)
        return left

    def _send(self, url: str, headers: dict[str, str], deadline: float) -> requests.Response:
        # Each hop gets at most what is left of the total deadline, so a chain of slow
        # redirects cannot add up past it.
        left = self._remaining(deadline, url)
        timeout = (min(self.settings.connect_timeout, left), min(self.settings.read_timeout, left))
        try:
            return self.session.get(
                url, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            )
        except BlockedAddressError as err:
            err.url = url
            raise
        except FetchError:
            raise
        except requests.Timeout as err:
            raise FetchError(f"timed out fetching {url}", url=url) from err
        except requests.RequestException as err:
            raise FetchError(f"cannot fetch {url}: {_root_cause(err)}", url=url) from err

    def _read(self, response: requests.Response, url: str, deadline: float) -> bytes:
        cap = self.settings.max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(f"body of {declared} bytes is over the {cap}-byte cap", url=url)
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                # read1 returns after one network read (each bounded by read_timeout), so
                # the deadline is checked between reads. iter_content would block until a
                # whole chunk arrived: a server dripping one byte per second under the read
                # timeout could hold a fetch for hours. Decoded bytes are counted, which
                # caps gzip bombs too (urllib3 bounds each decompression step).
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
        return b"".join(chunks)


def _root_cause(err: BaseException) -> str:
    while err.__cause__ is not None or err.__context__ is not None:
        nxt = err.__cause__ or err.__context__
        assert nxt is not None
        err = nxt
    return str(err) or type(err).__name__
