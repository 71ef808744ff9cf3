"""``syndicate doctor``'s DNS checks against a real DNS server on 127.0.0.1 (dnslib)
serving good, missing and broken SPF, DKIM, DMARC, MX, PTR and BIMI records; a resolver
that fails or cannot be reached makes "could not check" warnings, never a crash."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from syndicate.config import DeliverySettings, DoctorSettings, Settings
from syndicate.doctor import Report, run_doctor
from syndicate.doctor.authentication import public_key_record
from tests.dnsserver import DNSTestServer

DOMAIN = "example.org"


def _key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


KEY = _key()
OTHER_KEY = _key()


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


@pytest.fixture
def dns_server() -> Iterator[DNSTestServer]:
    with DNSTestServer() as server:
        yield server


def settings_for(port: int, doctor: dict[str, Any] | None = None, **delivery: Any) -> Settings:
    values: dict[str, Any] = {
        "backend": "sendgrid",
        "from_email": f"news@{DOMAIN}",
        "dkim_domain": DOMAIN,
        "dkim_selector": "s1",
        "dkim_key": SecretStr(pem(KEY)),
    }
    values.update(delivery)
    return Settings(
        delivery=DeliverySettings(**values),
        doctor=DoctorSettings(
            **{"resolver": ("127.0.0.1",), "resolver_port": port, "dns_timeout": 2.0}
            | (doctor or {})
        ),
    )


def publish_good(server: DNSTestServer) -> None:
    server.txt(DOMAIN, "v=spf1 include:sendgrid.net -all")
    server.txt(DOMAIN, "google-site-verification=abc")  # other TXT records are ignored
    server.txt("sendgrid.net", "v=spf1 ip4:167.89.0.0/17 -all")
    server.txt(f"s1._domainkey.{DOMAIN}", public_key_record(KEY.public_key()))
    server.txt(f"_dmarc.{DOMAIN}", f"v=DMARC1; p=quarantine; rua=mailto:dmarc@{DOMAIN}")
    server.mx(DOMAIN, 10, f"mx.{DOMAIN}")


def dns(settings: Settings) -> Report:
    no_store = lambda: pytest.fail("the DNS checks need no store")  # noqa: E731
    return run_doctor(settings, no_store, groups=("dns",))


def by_check(report: Report) -> dict[str, tuple[str, str]]:
    return {r.check: (r.status, r.summary) for r in report.results}


def test_good_records_pass(dns_server: DNSTestServer) -> None:
    publish_good(dns_server)
    found = by_check(dns(settings_for(dns_server.port)))
    assert list(found) == [
        "dns.spf",
        "dns.spf_lookups",
        "dns.dkim",
        "dns.dmarc",
        "dns.dmarc_alignment",
        "dns.mx",
        "dns.ptr",
        "dns.bimi",
    ]
    assert {c: s for c, (s, _) in found.items()} == dict.fromkeys(found, "pass"), found
    assert "includes sendgrid.net" in found["dns.spf"][1]
    assert found["dns.spf_lookups"][1].startswith("1 DNS lookups")
    assert "matches the signing key (2048 bits)" in found["dns.dkim"][1]


def test_missing_records_fail_with_the_record_to_publish(dns_server: DNSTestServer) -> None:
    report = dns(settings_for(dns_server.port))
    results = {r.check: r for r in report.results}
    assert results["dns.spf"].status == "fail"
    assert 'TXT record at example.org: "v=spf1 include:sendgrid.net -all"' in results["dns.spf"].fix
    assert results["dns.dkim"].status == "fail"
    # The fix is the exact record that publishes the configured key.
    assert public_key_record(KEY.public_key()) in results["dns.dkim"].fix
    assert results["dns.dmarc"].status == "fail"
    assert "_dmarc.example.org" in results["dns.dmarc"].fix
    assert results["dns.mx"].status == "fail"
    assert report.status == "fail"


def test_spf_without_the_provider_fails(dns_server: DNSTestServer) -> None:
    publish_good(dns_server)
    dns_server.clear(DOMAIN)
    dns_server.txt(DOMAIN, "v=spf1 include:spf.mtasv.net -all")
    dns_server.txt("spf.mtasv.net", "v=spf1 ip4:50.31.156.0/24 -all")
    dns_server.mx(DOMAIN, 10, f"mx.{DOMAIN}")
    found = by_check(dns(settings_for(dns_server.port)))
    assert found["dns.spf"][0] == "fail"
    assert "does not include sendgrid.net" in found["dns.spf"][1]
    # The same record is right for Postmark.
    found = by_check(dns(settings_for(dns_server.port, backend="postmark")))
    assert found["dns.spf"][0] == "pass"


def test_spf_over_ten_lookups_fails_counting_recursively(dns_server: DNSTestServer) -> None:
    publish_good(dns_server)
    dns_server.clear(DOMAIN)
    dns_server.mx(DOMAIN, 10, f"mx.{DOMAIN}")
    # 1 (include:sendgrid.net) + 1 (include:a.example.net) + 3 + 3 + 3 nested = 11.
    dns_server.txt(DOMAIN, "v=spf1 include:sendgrid.net include:a.example.net -all")
    dns_server.txt("a.example.net", "v=spf1 a mx include:b.example.net ~all")
    dns_server.txt("b.example.net", "v=spf1 a mx include:c.example.net ~all")
    dns_server.txt("c.example.net", "v=spf1 a mx exists:%{i}.x.example.net ~all")
    found = by_check(dns(settings_for(dns_server.port)))
    assert found["dns.spf"][0] == "pass"
    assert found["dns.spf_lookups"][0] == "fail"
    assert found["dns.spf_lookups"][1].startswith("11 DNS lookups (limit 10)")


def test_broken_spf_records_fail(dns_server: DNSTestServer) -> None:
    publish_good(dns_server)
    dns_server.txt(DOMAIN, "v=spf1 -all")  # a second SPF record
    found = by_check(dns(settings_for(dns_server.port)))
    assert found["dns.spf"][0] == "fail"
    assert "2 SPF records" in found["dns.spf"][1]

    dns_server.clear(DOMAIN)
    dns_server.mx(DOMAIN, 10, f"mx.{DOMAIN}")
    dns_server.txt(DOMAIN, "v=spf1 include:sendgrid.net include:gone.example.net +all")
    found = by_check(dns(settings_for(dns_server.port)))
    assert found["dns.spf"][0] == "fail"
    assert "+all" in found["dns.spf"][1]
    assert found["dns.spf_lookups"][0] == "fail"
    assert "include:gone.example.net has no SPF record" in found["dns.spf_lookups"][1]


def test_an_spf_include_loop_fails(dns_server: DNSTestServer) -> None:
    publish_good(dns_server)
    dns_server.clear(DOMAIN)
    dns_server.mx(DOMAIN, 10, f"mx.{DOMAIN}")
    dns_server.txt(DOMAIN, "v=spf1 include:sendgrid.net include:a.example.net -all")
    dns_server.txt("a.example.net", "v=spf1 include:b.example.net ~all")
    dns_server.txt("b.example.net", "v=spf1 include:a.example.net ~all")
    status, summary = by_check(dns(settings_for(dns_server.port)))["dns.spf_lookups"]
    assert status == "fail"
    assert "include:a.example.net loops back" in summary


def test_a_provider_include_can_be_configured(dns_server: DNSTestServer) -> None:
    publish_good(dns_server)
    smtp = {"backend": "smtp", "smtp": {"host": "192.0.2.1"}}
    # The smtp backend has no known include: SPF only has to exist and be sound...
    assert by_check(dns(settings_for(dns_server.port, **smtp)))["dns.spf"][0] == "pass"
    # ...unless the relay's include is named.
    relay = {"provider_include": "_spf.relay.example.net"}
    status, summary = by_check(dns(settings_for(dns_server.port, doctor=relay, **smtp)))["dns.spf"]
    assert status == "fail"
    assert "does not include _spf.relay.example.net" in summary


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (public_key_record(OTHER_KEY.public_key()), "not the one syndicate signs with"),
        ("v=DKIM1; k=rsa; p=", "empty (revoked)"),
        ("v=DKIM1; k=rsa; p=bm90IGEga2V5", "not a public key"),
    ],
)
def test_a_dkim_record_that_does_not_match_fails(
    dns_server: DNSTestServer, record: str, expected: str
) -> None:
    publish_good(dns_server)
    dns_server.clear(f"s1._domainkey.{DOMAIN}")
    dns_server.txt(f"s1._domainkey.{DOMAIN}", record)
    status, summary = by_check(dns(settings_for(dns_server.port)))["dns.dkim"]
    assert status == "fail"
    assert expected in summary


def test_dkim_off_warns_and_a_short_key_warns(dns_server: DNSTestServer) -> None:
    publish_good(dns_server)
    found = by_check(dns(settings_for(dns_server.port, dkim_domain="")))
    assert found["dns.dkim"][0] == "warn"
    assert found["dns.dmarc_alignment"][0] == "warn"  # only SPF aligns now
    short = _key(1024)
    dns_server.clear(f"s1._domainkey.{DOMAIN}")
    dns_server.txt(f"s1._domainkey.{DOMAIN}", public_key_record(short.public_key()))
    found = by_check(dns(settings_for(dns_server.port, dkim_key=SecretStr(pem(short)))))
    assert found["dns.dkim"] == ("warn", "the record matches, but the key has 1024 bits")


def test_dmarc_policy_and_alignment(dns_server: DNSTestServer) -> None:
    publish_good(dns_server)
    dns_server.clear(f"_dmarc.{DOMAIN}")
    dns_server.txt(f"_dmarc.{DOMAIN}", "v=DMARC1; rua=mailto:d@example.org")
    found = by_check(dns(settings_for(dns_server.port)))
    assert found["dns.dmarc"][0] == "fail"
    assert "no valid p= policy" in found["dns.dmarc"][1]

    dns_server.clear(f"_dmarc.{DOMAIN}")
    dns_server.txt(f"_dmarc.{DOMAIN}", "v=DMARC1; p=none; adkim=s")
    # Signing as a subdomain: aligned when relaxed, not under adkim=s; SPF (the bounce
    # domain of another organisation) does not align either.
    settings = settings_for(
        dns_server.port,
        doctor={"bounce_domain": "bounces.esp.example.net"},
        dkim_domain=f"mail.{DOMAIN}",
    )
    found = by_check(dns(settings))
    assert found["dns.dmarc"][0] == "pass"
    assert found["dns.dmarc_alignment"][0] == "fail"
    dns_server.clear(f"_dmarc.{DOMAIN}")
    dns_server.txt(f"_dmarc.{DOMAIN}", "v=DMARC1; p=none")
    assert by_check(dns(settings))["dns.dmarc_alignment"][0] == "pass"


def test_a_subdomain_sender_falls_back_to_the_organizational_dmarc(
    dns_server: DNSTestServer,
) -> None:
    publish_good(dns_server)  # DMARC at _dmarc.example.org only
    settings = settings_for(dns_server.port, from_email=f"news@mail.{DOMAIN}")
    results = {r.check: r for r in dns(settings).results}
    assert (results["dns.dmarc"].status, results["dns.dmarc"].target) == (
        "pass",
        f"_dmarc.{DOMAIN}",
    )
    assert results["dns.dmarc_alignment"].status == "pass"  # d=example.org, relaxed


def test_mx_ptr_and_bimi(dns_server: DNSTestServer) -> None:
    publish_good(dns_server)
    dns_server.txt(f"default._bimi.{DOMAIN}", "v=BIMI1; l=https://example.org/logo.svg")
    smtp: dict[str, Any] = {"backend": "smtp", "smtp": {"host": "mail.example.org"}}
    dns_server.address("mail.example.org", "127.0.0.1")
    found = by_check(dns(settings_for(dns_server.port, **smtp)))
    assert found["dns.bimi"] == ("pass", "BIMI logo https://example.org/logo.svg")
    # A private address cannot be judged from here: it says so.
    assert found["dns.ptr"][0] == "warn"
    assert found["dns.ptr"][1].startswith("could not check")

    public = {"smtp_address": "192.0.2.25"}
    found = by_check(dns(settings_for(dns_server.port, doctor=public, **smtp)))
    assert found["dns.ptr"] == ("fail", "no PTR record (Gmail and Yahoo require one)")
    dns_server.ptr("192.0.2.25", "out.example.org")
    found = by_check(dns(settings_for(dns_server.port, doctor=public, **smtp)))
    assert found["dns.ptr"][0] == "fail"
    assert "does not point back" in found["dns.ptr"][1]
    dns_server.address("out.example.org", "192.0.2.25")
    found = by_check(dns(settings_for(dns_server.port, doctor=public, **smtp)))
    assert found["dns.ptr"] == ("pass", "PTR out.example.org (forward-confirmed)")

    dns_server.clear(DOMAIN)
    dns_server.txt(DOMAIN, "v=spf1 include:sendgrid.net -all")
    dns_server.address(DOMAIN, "192.0.2.80")
    assert by_check(dns(settings_for(dns_server.port)))["dns.mx"][0] == "warn"


def test_a_failing_resolver_gives_could_not_check(dns_server: DNSTestServer) -> None:
    publish_good(dns_server)
    dns_server.servfail(f"_dmarc.{DOMAIN}")
    found = by_check(dns(settings_for(dns_server.port)))
    assert found["dns.dmarc"][0] == "warn"
    assert found["dns.dmarc"][1].startswith("could not check")
    assert found["dns.spf"][0] == "pass"  # the others are unaffected


def test_an_unreachable_resolver_warns_for_every_dns_check() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # bound, never answers
        port = silent.getsockname()[1]
        report = dns(settings_for(port, doctor={"dns_timeout": 0.3}))
    statuses = {r.check: r.status for r in report.results}
    # Nothing is judged without answers; PTR is not asked (not sending directly).
    assert statuses.pop("dns.ptr") == "pass"
    assert set(statuses.values()) == {"warn"}, statuses
    assert all(
        r.summary.startswith("could not check") for r in report.results if r.check != "dns.ptr"
    )
