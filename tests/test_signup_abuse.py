"""Sign-up abuse (list bombing): 1,000 scripted sign-ups from one /24 and 200 to one
domain send at most the configured confirmations; a real visitor from another network
is unaffected; refusals look like successes and are counted; the time-to-submit, MX
(a DNS server on 127.0.0.1) and throwaway-domain checks refuse what they should."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dnslib import MX, QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSServer
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from syndicate.config import Settings
from syndicate.delivery.compose import signing_key
from syndicate.subscribers.abuse import has_mail_exchanger, network_of
from syndicate.web import create_app
from syndicate.web.csrf import FormGuard
from tests.subscribehelpers import SECRET, form_token, make_instance, outbox

FORM = "/subscribe/world"


def test_networks() -> None:
    assert network_of("203.0.113.77") == "203.0.113.0/24"
    assert network_of("::ffff:203.0.113.77") == "203.0.113.0/24"
    assert network_of("2001:db8:aa:bb12::1") == "2001:db8:aa:bb00::/56"
    assert network_of("testclient") == "testclient"


def from_address(app: ASGIApp) -> ASGIApp:
    """The app, seeing each request come from the address in ``x-test-client`` (as
    uvicorn would put a trusted proxy's X-Forwarded-For in the scope)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            client = headers.get(b"x-test-client", b"192.0.2.1").decode()
            scope = {**scope, "client": (client, 4000)}
        await app(scope, receive, send)

    return wrapped


class Visitor:
    """Posts the sign-up form of one site from any address."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.token = form_token(client.get(FORM).text)  # bound to the path, reusable

    def sign_up(self, email: str, ip: str, token: str | None = None) -> tuple[int, str]:
        response = self.client.post(
            FORM,
            data={"csrf_token": token or self.token, "email": email},
            headers={"x-test-client": ip},
        )
        return response.status_code, response.text.replace(email, "ADDRESS")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, Visitor]]:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    extra = (
        "[subscribe]\nper_client = 100\nper_email = 100\n"
        "per_network = 5\nper_domain = 10\nmin_submit_seconds = 0\n"
    )
    settings = make_instance(tmp_path / "i", f"sqlite:///{tmp_path / 's.db'}", extra)
    with TestClient(from_address(create_app(settings))) as client:
        yield settings, Visitor(client)


def refusals(visitor: Visitor) -> dict[str, int]:
    text = visitor.client.get("/metrics").text
    found = re.findall(r'^syndicate_signup_refusals_total\{reason="([a-z-]+)"\} (\S+)$', text, re.M)
    return {reason: int(float(n)) for reason, n in found if float(n)}


def test_a_bombing_from_one_network_sends_at_most_the_limit(
    site: tuple[Settings, Visitor],
) -> None:
    settings, visitor = site
    answers = set()
    for i in range(1000):  # every client address of one /24, several times each
        answers.add(visitor.sign_up(f"victim{i}@d{i % 97}.example", f"203.0.113.{i % 250 + 1}"))
    assert len(answers) == 1 and next(iter(answers))[0] == 200  # every answer the same
    assert len(outbox(settings)) == 5  # per_network
    # A real visitor from another network is unaffected, and gets the same answer.
    assert visitor.sign_up("reader@real.example", "198.51.100.7") in answers
    assert [m["To"] for m in outbox(settings)][-1] == "reader@real.example"
    assert refusals(visitor) == {"network": 995}


def test_a_bombing_of_one_domain_sends_at_most_the_limit(site: tuple[Settings, Visitor]) -> None:
    settings, visitor = site
    answers = {
        visitor.sign_up(f"staff{i}@victim-corp.example", f"10.{i}.{i}.1") for i in range(200)
    }
    assert len(answers) == 1
    assert len(outbox(settings)) == 10  # per_domain
    assert visitor.sign_up("reader@real.example", "198.51.100.7") in answers
    assert len(outbox(settings)) == 11
    assert refusals(visitor) == {"domain": 190}


def test_one_confirmation_a_day_per_address(site: tuple[Settings, Visitor]) -> None:
    settings, visitor = site
    first = visitor.sign_up("victim@example.com", "198.51.100.1")
    assert visitor.sign_up("victim@example.com", "192.0.2.50") == first
    assert [m["To"] for m in outbox(settings)] == ["victim@example.com"]
    assert refusals(visitor) == {"repeat": 1}


def test_a_form_sent_back_at_once_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    monkeypatch.setenv("SYNDICATE_SUBSCRIBE__MIN_SUBMIT_SECONDS", "3")
    settings = make_instance(tmp_path / "i", f"sqlite:///{tmp_path / 's.db'}")
    with TestClient(from_address(create_app(settings))) as client:
        visitor = Visitor(client)
        quick = visitor.sign_up("bot@example.com", "198.51.100.1")
        assert outbox(settings) == []
        # The same form, served ten seconds ago (as a person would have it).
        earlier = FormGuard(
            signing_key(settings), max_age=7200, site_origin="", clock=lambda: time.time() - 10
        ).token(FORM)
        assert visitor.sign_up("person@example.com", "198.51.100.2", earlier) == quick
        assert [m["To"] for m in outbox(settings)] == ["person@example.com"]
        assert refusals(visitor) == {"too-fast": 1}


class Zone(BaseResolver):  # type: ignore[misc]
    """Answers MX queries for the domains in ``mx``; other names do not exist."""

    def __init__(self, mx: dict[str, str], exists: set[str]) -> None:
        self.mx = mx
        self.exists = exists

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".")
        if request.q.qtype == QTYPE.MX and name in self.mx:
            reply.add_answer(RR(name, QTYPE.MX, rdata=MX(self.mx[name]), ttl=60))
        elif name not in self.exists and name not in self.mx:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@pytest.fixture
def dns_server() -> Iterator[str]:
    zone = Zone({"mail-ok.example": "mx.mail-ok.example", "null-mx.example": "."}, {"web.example"})
    server = DNSServer(zone, address="127.0.0.1", port=0)
    server.start_thread()
    try:
        yield f"127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.stop()


def test_mx_lookup(dns_server: str) -> None:
    assert has_mail_exchanger("mail-ok.example", dns_server, 2.0) is True
    assert has_mail_exchanger("web.example", dns_server, 2.0) is False  # no MX record
    assert has_mail_exchanger("nowhere.example", dns_server, 2.0) is False  # NXDOMAIN
    assert has_mail_exchanger("null-mx.example", dns_server, 2.0) is False  # RFC 7505
    assert has_mail_exchanger("mail-ok.example", "127.0.0.1:9", 0.3) is None  # no server


def test_no_mx_and_throwaway_domains_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dns_server: str
) -> None:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    own = tmp_path / "throwaway.txt"
    own.write_text("# ours\nburner.example\n", encoding="utf-8")
    extra = (
        f'[subscribe]\nresolver = "{dns_server}"\nrefuse_disposable = true\n'
        f'disposable_domains_file = "{own}"\n'
    )
    settings = make_instance(tmp_path / "i", f"sqlite:///{tmp_path / 's.db'}", extra)
    with TestClient(from_address(create_app(settings))) as client:
        visitor = Visitor(client)
        ok = visitor.sign_up("reader@mail-ok.example", "198.51.100.1")
        for address in (
            "a@web.example",
            "b@nowhere.example",
            "c@mailinator.com",
            "d@burner.example",
        ):
            assert visitor.sign_up(address, "198.51.100.1") == ok
        assert [m["To"] for m in outbox(settings)] == ["reader@mail-ok.example"]
        assert refusals(visitor) == {"no-mx": 2, "disposable": 2}
