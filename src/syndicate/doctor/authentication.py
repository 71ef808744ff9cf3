"""The sending domain's authentication records: SPF, DKIM and DMARC (STANDARDS GY-1..5,
DK-3). Each function asks the resolver and returns results; a resolver that does not
answer makes its result "could not check", never an exception.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from syndicate.config import Settings, read_secret
from syndicate.delivery.dkim import load_private_key
from syndicate.doctor.domains import aligned, org_domain, tags
from syndicate.doctor.resolver import Resolver, Unreachable
from syndicate.doctor.results import CheckResult, failed, passed, unchecked, warned
from syndicate.doctor.spf import LOOKUP_LIMIT, VOID_LIMIT, SPFWalk, walk_spf
from syndicate.errors import ConfigError

# The SPF include each provider's documentation asks for (docs/deliverability.md).
PROVIDER_INCLUDES: dict[str, str] = {
    "postmark": "spf.mtasv.net",
    "sendgrid": "sendgrid.net",
    "mailgun": "mailgun.org",
    "ses": "amazonses.com",
}


def provider_include(settings: Settings) -> str:
    """The SPF include the configured backend needs ("" when none is known)."""
    return settings.doctor.provider_include or PROVIDER_INCLUDES.get(settings.delivery.backend, "")


def bounce_domain(settings: Settings) -> str:
    """The Return-Path (envelope sender) domain: where SPF and bounces are judged."""
    return settings.doctor.bounce_domain or settings.delivery.sending_domain


def spf_checks(settings: Settings, resolver: Resolver) -> list[CheckResult]:
    """SPF present and sound, includes the provider, under the lookup limits."""
    domain = bounce_domain(settings)
    include = provider_include(settings)
    example = f"v=spf1 include:{include} -all" if include else "v=spf1 a mx -all"
    try:
        found = walk_spf(resolver, domain)
    except Unreachable as err:
        return [unchecked(c, domain, str(err)) for c in ("dns.spf", "dns.spf_lookups")]
    if found.record is None:
        return [
            failed(
                "dns.spf",
                domain,
                "no SPF record: receivers cannot tell who may send for this domain",
                f'Publish a TXT record at {domain}: "{example}".',
            ),
            warned("dns.spf_lookups", domain, "no SPF record to count", "Publish SPF first."),
        ]
    return [_spf_record(found, include, example), _spf_lookups(found)]


def _spf_record(found: SPFWalk, include: str, example: str) -> CheckResult:
    domain = found.domain
    if found.records > 1:
        return failed(
            "dns.spf",
            domain,
            f"{found.records} SPF records: receivers treat that as an error (permerror)",
            f'Merge them into one TXT record at {domain}, e.g. "{example}".',
        )
    if found.all_qualifier == "+":
        return failed(
            "dns.spf",
            domain,
            f'"{found.record}" ends in +all: it lets anyone send as {domain}',
            f'End the record with -all or ~all, e.g. "{example}".',
        )
    if include and not found.includes(include):
        return failed(
            "dns.spf",
            domain,
            f'"{found.record}" does not include {include}, which your provider sends from',
            f"Add include:{include} before the all term of the SPF record at {domain}.",
        )
    with_provider = f", includes {include}" if include else ""
    return passed("dns.spf", domain, f'"{found.record}"{with_provider}')


def _spf_lookups(found: SPFWalk) -> CheckResult:
    domain = found.domain
    if found.lookups > LOOKUP_LIMIT or found.voids > VOID_LIMIT or found.problems:
        problems = "; ".join(found.problems) or "too many lookups"
        return failed(
            "dns.spf_lookups",
            domain,
            f"{found.lookups} DNS lookups (limit {LOOKUP_LIMIT}), {found.voids} void: {problems}",
            "Remove includes you no longer send through, replace a/mx terms with ip4:/ip6: "
            "ranges, and fix or remove includes that have no SPF record.",
        )
    return passed(
        "dns.spf_lookups", domain, f"{found.lookups} DNS lookups of {LOOKUP_LIMIT} allowed"
    )


def _configured_key(settings: Settings) -> rsa.RSAPublicKey | None:
    d = settings.delivery
    pem = read_secret(d.dkim_key, d.dkim_key_file, settings)
    if pem is None:
        return None
    return load_private_key(pem.encode("ascii")).public_key()


def public_key_record(key: rsa.RSAPublicKey) -> str:
    """The DKIM TXT record that publishes ``key`` (RFC 6376 §3.6.1)."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


def dkim_check(settings: Settings, resolver: Resolver) -> CheckResult:
    """The selector's record publishes the public half of the configured signing key."""
    d = settings.delivery
    if not d.dkim_domain:
        return warned(
            "dns.dkim",
            d.sending_domain,
            "DKIM signing is off (delivery.dkim_domain is empty)",
            "Set delivery.dkim_domain, delivery.dkim_selector and the key, then publish "
            "the record doctor prints (Gmail, Yahoo and Microsoft require DKIM).",
        )
    name = f"{d.dkim_selector}._domainkey.{d.dkim_domain}"
    try:
        key = _configured_key(settings)
    except ConfigError as err:
        return failed("dns.dkim", name, f"the configured key cannot be read: {err}", str(err))
    if key is None:
        return failed(
            "dns.dkim",
            name,
            "delivery.dkim_domain is set but there is no key",
            "Set SYNDICATE_DELIVERY__DKIM_KEY or delivery.dkim_key_file.",
        )
    publish = f'Publish a TXT record at {name}: "{public_key_record(key)}".'
    try:
        records = [t for t in resolver.txt(name) if "p=" in t]
    except Unreachable as err:
        return unchecked("dns.dkim", name, str(err))
    if not records:
        return failed("dns.dkim", name, "no DKIM key record at the selector", publish)
    published = tags(records[0]).get("p", "").replace(" ", "")
    if not published:
        return failed("dns.dkim", name, "the record's key is empty (revoked)", publish)
    try:
        found = serialization.load_der_public_key(base64.b64decode(published, validate=True))
    except (ValueError, binascii.Error):
        return failed("dns.dkim", name, "the record's p= is not a public key", publish)
    if not isinstance(found, rsa.RSAPublicKey) or found.public_numbers() != key.public_numbers():
        return failed(
            "dns.dkim",
            name,
            "the published key is not the one syndicate signs with: signatures fail",
            publish + " (or configure the private key that matches the record).",
        )
    if key.key_size < 2048:
        return warned(
            "dns.dkim",
            name,
            f"the record matches, but the key has {key.key_size} bits",
            "Move to a 2048-bit key (RFC 8301): new key, new selector, publish, switch.",
        )
    return passed("dns.dkim", name, f"the record matches the signing key ({key.key_size} bits)")


def dmarc_checks(settings: Settings, resolver: Resolver) -> list[CheckResult]:
    """A DMARC record with a policy, and DKIM or SPF aligned with From under it."""
    from_domain = settings.delivery.sending_domain
    name = f"_dmarc.{from_domain}"
    example = f"v=DMARC1; p=none; rua=mailto:dmarc@{from_domain}"
    try:
        records = _dmarc_records(resolver, name)
        organizational = f"_dmarc.{org_domain(from_domain)}"
        if not records and organizational != name:
            # RFC 7489 §6.6.3: a subdomain without a record falls back to its
            # organizational domain's policy (sp=, else p=).
            records = _dmarc_records(resolver, organizational)
            name = organizational if records else name
    except Unreachable as err:
        return [unchecked(c, name, str(err)) for c in ("dns.dmarc", "dns.dmarc_alignment")]
    if not records:
        return [
            failed(
                "dns.dmarc",
                name,
                "no DMARC record: Gmail, Yahoo and Microsoft refuse bulk mail without one",
                f'Publish a TXT record at {name}: "{example}"; move to p=quarantine once '
                "the reports show only your own mail.",
            ),
            warned("dns.dmarc_alignment", from_domain, "no DMARC record", "Publish DMARC first."),
        ]
    found = tags(records[0])
    policy = found.get("p", "").lower()
    if len(records) > 1 or policy not in ("none", "quarantine", "reject"):
        problem = f"{len(records)} DMARC records" if len(records) > 1 else "no valid p= policy"
        result = failed(
            "dns.dmarc",
            name,
            f'"{records[0]}": {problem}; receivers ignore it',
            f'Publish exactly one record at {name}, e.g. "{example}".',
        )
    elif policy == "none":
        result = passed(
            "dns.dmarc", name, f'"{records[0]}": p=none (monitoring; enough for bulk senders)'
        )
    else:
        result = passed("dns.dmarc", name, f'"{records[0]}": p={policy}')
    return [result, _alignment(settings, found)]


def _dmarc_records(resolver: Resolver, name: str) -> list[str]:
    return [t for t in resolver.txt(name) if t.lower().startswith("v=dmarc1")]


def _alignment(settings: Settings, found: dict[str, str]) -> CheckResult:
    from_domain = settings.delivery.sending_domain
    adkim: Literal["r", "s"] = "s" if found.get("adkim", "r").lower() == "s" else "r"
    aspf: Literal["r", "s"] = "s" if found.get("aspf", "r").lower() == "s" else "r"
    dkim_domain = settings.delivery.dkim_domain
    spf_domain = bounce_domain(settings)
    dkim_ok = bool(dkim_domain) and aligned(dkim_domain, from_domain, adkim)
    spf_ok = aligned(spf_domain, from_domain, aspf)
    if dkim_ok:
        return passed(
            "dns.dmarc_alignment",
            from_domain,
            f"DKIM d={dkim_domain} aligns with From {from_domain} (adkim={adkim})",
        )
    if spf_ok:
        return warned(
            "dns.dmarc_alignment",
            from_domain,
            f"only SPF ({spf_domain}) aligns with From: forwarding breaks SPF, so DMARC "
            "fails for forwarded mail",
            f"Sign with DKIM d={from_domain} (delivery.dkim_domain) as well.",
        )
    return failed(
        "dns.dmarc_alignment",
        from_domain,
        f"neither DKIM d={dkim_domain or '(none)'} nor the Return-Path {spf_domain} aligns "
        f"with From {from_domain}: DMARC fails",
        f"Sign with DKIM d={from_domain} (delivery.dkim_domain), or send with a "
        f"Return-Path under {from_domain}.",
    )
