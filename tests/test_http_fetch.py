"""The guarded fetcher against a real local server (SE-5, HT-5, HT-6).

Timeouts are small so the failure cases finish quickly; no test asserts how long
anything took, only what came out.
"""

from __future__ import annotations

import contextlib
import gzip
import ipaddress
import itertools
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from time import time
from typing import Any

import pytest

from syndicate.config import FetchSettings
from syndicate.errors import BlockedAddressError, FetchError, HTTPStatusError
from syndicate.ingest.sources.http import AddressPolicy, HttpFetcher, parse_retry_after
from tests.httpserver import LocalServer

pytest_plugins = ["tests.httpserver"]

FAST = {"connect_timeout": 1.0, "read_timeout": 0.5, "total_timeout": 1.0}
LOOPBACK = AddressPolicy(allow_private=True)


@pytest.fixture
def fetcher() -> Iterator[HttpFetcher]:
    with HttpFetcher(FetchSettings(**FAST), LOOPBACK) as f:
        yield f


def make_fetcher(policy: AddressPolicy = LOOPBACK, **settings: Any) -> HttpFetcher:
    return HttpFetcher(FetchSettings(**{**FAST, **settings}), policy)


def test_plain_get_returns_body_and_identifies_itself(
    http_server: LocalServer, fetcher: HttpFetcher
) -> None:
    http_server.route("/a", body=b"hello", headers={"Cache-Control": "public, max-age=600"})
    response = fetcher.get(http_server.url("/a"), accept="text/plain")
    assert (response.status, response.body, response.max_age) == (200, b"hello", 600.0)
    seen = http_server.requests_to("/a")[0].headers
    assert seen["user-agent"].startswith("syndicate/")
    assert "gzip" in seen["accept-encoding"]
    assert seen["accept"] == "text/plain"
    assert "if-none-match" not in seen and "if-modified-since" not in seen


def test_etag_round_trip_gives_304(http_server: LocalServer, fetcher: HttpFetcher) -> None:
    http_server.route("/f", body=b"v1", etag='"abc"')
    first = fetcher.get(http_server.url("/f"))
    assert first.status == 200 and first.headers["ETag"] == '"abc"'
    second = fetcher.get(http_server.url("/f"), etag=first.headers["ETag"])
    assert second.status == 304 and second.body == b""
    # Sent back byte-exact, quotes included (HT-6).
    assert http_server.requests_to("/f")[1].headers["if-none-match"] == '"abc"'


def test_last_modified_round_trip_gives_304(http_server: LocalServer, fetcher: HttpFetcher) -> None:
    stamp = "Wed, 02 Oct 2002 13:00:00 GMT"
    http_server.route("/f", body=b"v1", last_modified=stamp)
    first = fetcher.get(http_server.url("/f"))
    second = fetcher.get(http_server.url("/f"), last_modified=first.headers["Last-Modified"])
    assert second.status == 304
    assert http_server.requests_to("/f")[1].headers["if-modified-since"] == stamp


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds(
    http_server: LocalServer, fetcher: HttpFetcher, status: int
) -> None:
    http_server.route("/f", status=status, headers={"Retry-After": "120"})
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.get(http_server.url("/f"))
    assert caught.value.status == status
    assert caught.value.retry_after == 120.0
    assert caught.value.url == http_server.url("/f")


def test_retry_after_as_http_date(http_server: LocalServer, fetcher: HttpFetcher) -> None:
    http_server.route(
        "/f", status=429, headers={"Retry-After": formatdate(time() + 3600, usegmt=True)}
    )
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.get(http_server.url("/f"))
    assert caught.value.retry_after is not None
    assert 3000 < caught.value.retry_after <= 3600


def test_parse_retry_after_edge_values() -> None:
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("Wed, 02 Oct 2002 13:00:00 GMT") == 0.0  # in the past
    assert parse_retry_after("Wed, 02 Oct 2002 13:00:10 -0000", now=1033563600.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("²") is None  # a digit to str.isdigit(), not to float()
    assert parse_retry_after(None) is None


def test_odd_digits_in_headers_are_ignored(http_server: LocalServer, fetcher: HttpFetcher) -> None:
    http_server.route("/a", body=b"x", headers={"Cache-Control": "max-age=²"})
    assert fetcher.get(http_server.url("/a")).max_age is None
    http_server.route("/b", status=429, headers={"Retry-After": "³"})
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.get(http_server.url("/b"))
    assert caught.value.retry_after is None


@pytest.mark.parametrize("status", [500, 404, 410])
def test_error_status_raises(http_server: LocalServer, fetcher: HttpFetcher, status: int) -> None:
    http_server.route("/f", status=status, body=b"oops")
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.get(http_server.url("/f"))
    assert caught.value.status == status and caught.value.retry_after is None


def test_slow_answer_past_read_timeout(http_server: LocalServer, fetcher: HttpFetcher) -> None:
    http_server.route("/slow", body=b"late", delay=3.0)
    with pytest.raises(FetchError, match="timed out"):
        fetcher.get(http_server.url("/slow"))


@pytest.mark.parametrize("framing", ["content-length", "chunked", "close-delimited"])
def test_slow_drip_past_total_deadline(
    http_server: LocalServer, fetcher: HttpFetcher, framing: str
) -> None:
    # Every byte arrives well within the read timeout; only the total deadline stops it.
    http_server.route(
        "/drip",
        body=b"x" * 200,
        drip=0.1,
        chunked=framing == "chunked",
        content_length=framing == "content-length",
    )
    with pytest.raises(FetchError, match="in total"):
        fetcher.get(http_server.url("/drip"))


@pytest.mark.parametrize("framing", ["content-length", "chunked", "close-delimited"])
def test_oversized_body_is_refused(http_server: LocalServer, framing: str) -> None:
    http_server.route(
        "/big",
        body=b"x" * 5000,
        chunked=framing == "chunked",
        content_length=framing == "content-length",
    )
    with make_fetcher(max_bytes=1000) as f, pytest.raises(FetchError, match="cap"):
        f.get(http_server.url("/big"))


def test_gzip_body_is_decoded(http_server: LocalServer, fetcher: HttpFetcher) -> None:
    text = "Café — “quoted” …".encode() * 50
    http_server.route("/z", body=text, gzip=True)
    assert fetcher.get(http_server.url("/z")).body == text


def test_gzip_bomb_hits_the_cap_on_decoded_bytes(http_server: LocalServer) -> None:
    bomb = b"\0" * 5_000_000
    assert len(gzip.compress(bomb)) < 100_000  # small on the wire, so Content-Length passes
    http_server.route("/bomb", body=bomb, gzip=True)
    with make_fetcher(max_bytes=100_000) as f, pytest.raises(FetchError, match="cap"):
        f.get(http_server.url("/bomb"))


def test_redirects_are_followed_and_final_url_reported(
    http_server: LocalServer, fetcher: HttpFetcher
) -> None:
    http_server.redirect("/old", "/middle", status=301)
    http_server.redirect("/middle", http_server.url("/new"), status=308)
    http_server.route("/new", body=b"here")
    response = fetcher.get(http_server.url("/old"), etag='"e"')
    assert (response.url, response.body) == (http_server.url("/new"), b"here")
    assert [r.path for r in http_server.requests] == ["/old", "/middle", "/new"]


def test_too_many_redirects(http_server: LocalServer) -> None:
    http_server.redirect("/loop", "/loop", status=302)
    with make_fetcher(max_redirects=3) as f, pytest.raises(FetchError, match="more than 3"):
        f.get(http_server.url("/loop"))
    assert len(http_server.requests_to("/loop")) == 4


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x/"])
def test_redirect_to_other_scheme_is_refused(
    http_server: LocalServer, fetcher: HttpFetcher, target: str
) -> None:
    http_server.redirect("/r", target, status=302)
    with pytest.raises(FetchError, match="only http and https"):
        fetcher.get(http_server.url("/r"))


def test_non_http_url_is_refused(fetcher: HttpFetcher) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        fetcher.get("file:///etc/passwd")


def test_private_address_is_refused_without_allow_private(http_server: LocalServer) -> None:
    http_server.route("/f", body=b"secret")
    with make_fetcher(AddressPolicy()) as f, pytest.raises(BlockedAddressError) as caught:
        f.get(http_server.url("/f"))
    assert caught.value.url == http_server.url("/f")
    assert http_server.requests == []  # refused before connecting


def test_redirect_from_allowed_network_to_private_address_is_refused(
    http_server: LocalServer, second_loopback_server: LocalServer
) -> None:
    # 127.0.0.2 plays a public host (its network is allowed); it redirects into
    # 127.0.0.1, which must be checked again and refused (SE-5: re-check every hop).
    http_server.route("/admin", body=b"internal")
    second_loopback_server.redirect("/feed", http_server.url("/admin"), status=302)
    policy = AddressPolicy.from_config(False, ["127.0.0.2/32"])
    with make_fetcher(policy) as f, pytest.raises(BlockedAddressError):
        f.get(second_loopback_server.url("/feed"))
    assert len(second_loopback_server.requests) == 1
    assert http_server.requests == []


def test_allowed_network_is_fetched(second_loopback_server: LocalServer) -> None:
    second_loopback_server.route("/feed", body=b"ok")
    policy = AddressPolicy.from_config(False, ["127.0.0.2/32"])
    with make_fetcher(policy) as f:
        assert f.get(second_loopback_server.url("/feed")).body == b"ok"


def test_cookies_are_never_sent_back(http_server: LocalServer, fetcher: HttpFetcher) -> None:
    http_server.route("/set", body=b"a", headers={"Set-Cookie": "session=s3cret; Path=/"})
    http_server.route("/next", body=b"b")
    fetcher.get(http_server.url("/set"))
    fetcher.get(http_server.url("/next"))
    assert "cookie" not in http_server.requests_to("/next")[0].headers


# --- the total deadline bounds the status line and headers too ---------------------------


@contextmanager
def dripping_server(status_at_once: bool) -> Iterator[str]:
    """A raw server that answers one request one byte every 0.2 s, forever.

    Every byte comes well within the read timeout, so only the total deadline can end the
    fetch. With ``status_at_once`` the status line arrives whole and the headers drip.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    stop = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                status = b"HTTP/1.1 200 OK\r\n"
                if status_at_once:
                    conn.sendall(status)
                    status = b""
                for byte in itertools.chain(status, itertools.cycle(b"X-Drip: slow\r\n")):
                    if stop.wait(0.2):
                        return
                    conn.sendall(bytes([byte]))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/feed"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def fetch_in_thread(fetcher: HttpFetcher, url: str) -> BaseException | None:
    """Run ``fetcher.get(url)``; return what it raised. Fails clearly if it never ends."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            fetcher.get(url)
        except BaseException as err:  # handed to the test thread
            outcome.append(err)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=20)  # generous: a guard against hanging, not a timing assert
    assert not thread.is_alive(), "the fetch did not end at its total deadline"
    return outcome[0]


@pytest.mark.parametrize("status_at_once", [False, True], ids=["status-line", "headers"])
def test_dripping_status_line_and_headers_stop_at_the_total_deadline(
    fetcher: HttpFetcher, status_at_once: bool
) -> None:
    with dripping_server(status_at_once) as url:
        error = fetch_in_thread(fetcher, url)
    assert isinstance(error, FetchError), error
    assert "1s in total" in str(error) and "total_timeout" in str(error)
    assert error.url == url


def test_fetcher_stays_usable_after_a_deadline(
    http_server: LocalServer, fetcher: HttpFetcher
) -> None:
    with dripping_server(status_at_once=True) as url:
        assert isinstance(fetch_in_thread(fetcher, url), FetchError)
    http_server.route("/a", body=b"fine")
    assert fetcher.get(http_server.url("/a")).body == b"fine"


# --- the address policy unwraps IPv4 inside IPv6 ------------------------------------------

DEFAULT = AddressPolicy()
PRIVATE_OK = AddressPolicy(allow_private=True)
NETWORKS_OK = AddressPolicy.from_config(False, ["169.254.0.0/16", "fe80::/10", "10.0.0.0/8"])

POLICY_CASES = [
    # (address, allowed by default, with allow_private, with allow_networks)
    ("8.8.8.8", True, True, True),
    ("127.0.0.1", False, True, False),
    ("10.1.2.3", False, True, True),
    ("169.254.169.254", False, False, False),
    ("169.254.0.1", False, False, False),
    ("fe80::1", False, False, False),
    ("2001:4860:4860::8888", True, True, True),
    ("::1", False, True, False),
    # IPv4-mapped and IPv4-compatible
    ("::ffff:8.8.8.8", True, True, True),
    ("::ffff:127.0.0.1", False, True, False),
    ("::ffff:169.254.169.254", False, False, False),
    ("::ffff:10.1.2.3", False, True, True),
    ("::7f00:1", False, True, False),
    ("::a9fe:a9fe", False, False, False),
    ("::808:808", True, True, True),
    # NAT64, well-known prefix
    ("64:ff9b::7f00:1", False, True, False),
    ("64:ff9b::a9fe:a9fe", False, False, False),
    ("64:ff9b::a01:203", False, True, True),
    ("64:ff9b::808:808", True, True, True),
    # NAT64, local-use prefix (RFC 8215): not global, every RFC 6052 layout is checked
    ("64:ff9b:1::7f00:1", False, True, False),
    ("64:ff9b:1::a9fe:a9fe", False, False, False),
    ("64:ff9b:1:a9:fe:a9fe::", False, False, False),  # /56 layout of 169.254.169.254
    ("64:ff9b:1:0:7f:0:100:0", False, True, False),  # /64 layout of 127.0.0.1
    # 6to4
    ("2002:7f00:1::", False, True, False),
    ("2002:a9fe:a9fe::1", False, False, False),
    ("2002:808:808::", True, True, True),
]


@pytest.mark.parametrize(("address", "default", "private", "networks"), POLICY_CASES)
def test_address_policy_unwraps_ipv4_in_ipv6(
    address: str, default: bool, private: bool, networks: bool
) -> None:
    ip = ipaddress.ip_address(address)
    assert DEFAULT.allows(ip) is default
    assert PRIVATE_OK.allows(ip) is private
    assert NETWORKS_OK.allows(ip) is networks


def test_allow_networks_naming_a_wrapping_prefix_still_refuses_link_local() -> None:
    policy = AddressPolicy.from_config(False, ["64:ff9b::/96", "2002::/16"])
    assert policy.allows(ipaddress.ip_address("64:ff9b::7f00:1"))
    assert not policy.allows(ipaddress.ip_address("64:ff9b::a9fe:a9fe"))
    assert not policy.allows(ipaddress.ip_address("2002:a9fe:a9fe::"))


@pytest.mark.parametrize(
    "host", ["[64:ff9b::a9fe:a9fe]", "[::ffff:169.254.169.254]", "[2002:a9fe:a9fe::]"]
)
def test_wrapped_metadata_address_is_refused_even_with_allow_private(host: str) -> None:
    url = f"http://{host}/latest/meta-data/"
    with make_fetcher(PRIVATE_OK) as f, pytest.raises(BlockedAddressError) as caught:
        f.get(url)
    assert "not a public address" in str(caught.value) and caught.value.url == url


def test_wrapped_loopback_is_refused_by_default() -> None:
    with make_fetcher(AddressPolicy()) as f, pytest.raises(BlockedAddressError):
        f.get("http://[64:ff9b::7f00:1]/")
