"""The hosts behind the sending domain: MX for bounces, PTR for a server sending
directly (STANDARDS GY-1: forward-confirmed reverse DNS), and BIMI (informational).
"""

from __future__ import annotations

import ipaddress

from syndicate.config import Settings
from syndicate.delivery.registry import backend_options
from syndicate.doctor.authentication import bounce_domain
from syndicate.doctor.domains import tags
from syndicate.doctor.resolver import Resolver, Unreachable
from syndicate.doctor.results import CheckResult, failed, passed, unchecked, warned


def mx_check(settings: Settings, resolver: Resolver) -> CheckResult:
    """The bounce (Return-Path) domain accepts mail: bounces and replies to it arrive."""
    domain = bounce_domain(settings)
    fix = f"Publish an MX record for {domain} pointing at a server that accepts its mail."
    try:
        records = resolver.mx(domain)
        if not records:
            # RFC 5321 §5.1: without MX, the domain's own address is tried.
            fallback = resolver.addresses(domain)
    except Unreachable as err:
        return unchecked("dns.mx", domain, str(err))
    if not records:
        if fallback:
            return warned(
                "dns.mx", domain, "no MX record: bounces go to the domain's own address", fix
            )
        return failed("dns.mx", domain, "no MX record and no address: bounces are lost", fix)
    hosts = [host for _, host in records]
    if hosts == [""]:  # RFC 7505 null MX "0 ."
        return failed("dns.mx", domain, "a null MX: the domain accepts no mail", fix)
    return passed("dns.mx", domain, "MX " + ", ".join(hosts))


def ptr_check(settings: Settings, resolver: Resolver) -> CheckResult:
    """With the SMTP backend, the sending address has a PTR whose name points back."""
    backend = settings.delivery.backend
    if backend != "smtp":
        return passed(
            "dns.ptr",
            backend,
            f"not sending directly (backend {backend}): the sending service's PTR applies",
        )
    host = str(backend_options(settings).get("host", "localhost"))
    fix = (
        "Ask whoever runs the sending IP to set its reverse DNS (PTR) to a name whose A "
        "record is that IP; set doctor.smtp_address if the server sends from another IP."
    )
    try:
        address = settings.doctor.smtp_address or _address_of(host, resolver)
    except Unreachable as err:
        return unchecked("dns.ptr", host, str(err))
    if address is None:
        return failed("dns.ptr", host, f"{host} has no address", fix)
    ip = ipaddress.ip_address(address)
    if not ip.is_global and not settings.doctor.smtp_address:
        return unchecked(
            "dns.ptr",
            address,
            f"{host} is a private address ({address}); the public one is not known",
            "Set doctor.smtp_address to the public IP your SMTP server sends from.",
        )
    try:
        names = resolver.ptr(address)
        confirmed = [n for n in names if address in resolver.addresses(n)]
    except Unreachable as err:
        return unchecked("dns.ptr", address, str(err))
    if not names:
        return failed("dns.ptr", address, "no PTR record (Gmail and Yahoo require one)", fix)
    if not confirmed:
        return failed(
            "dns.ptr", address, f"PTR {', '.join(names)} does not point back to {address}", fix
        )
    return passed("dns.ptr", address, f"PTR {confirmed[0]} (forward-confirmed)")


def _address_of(host: str, resolver: Resolver) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        found = resolver.addresses(host)
        return found[0] if found else None


def bimi_check(settings: Settings, resolver: Resolver) -> CheckResult:
    """A BIMI record (a logo beside your mail in some inboxes): informational only."""
    name = f"default._bimi.{settings.delivery.sending_domain}"
    try:
        records = [t for t in resolver.txt(name) if t.lower().startswith("v=bimi1")]
    except Unreachable as err:
        return unchecked("dns.bimi", name, str(err))
    if not records:
        return passed("dns.bimi", name, "no BIMI record (optional; needs DMARC enforcement)")
    logo = tags(records[0]).get("l", "")
    return passed("dns.bimi", name, f"BIMI logo {logo or '(none)'}")
