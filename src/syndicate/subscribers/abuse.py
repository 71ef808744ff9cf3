"""Sign-up abuse (list bombing): the checks a sign-up passes before a confirmation
mail may go, apart from the rate windows the web process keeps.

List bombing signs real victims' addresses up by script; every confirmation mail to
them costs the sender's reputation before the first digest goes out. Besides the
per-client, per-network and per-domain windows (``syndicate.web.services``), a
sign-up is refused when

* the form came back faster than a person fills it in (``min_submit_seconds``, timed
  from the form token's signed timestamp);
* the address's domain has no MX record, when a resolver is configured;
* the domain is a throwaway-mailbox service, when ``refuse_disposable`` is on;
* the address already got a confirmation within a day (:data:`CONFIRM_INTERVAL`).

A refusal is never shown: the visitor gets the same "check your inbox" page as
everyone (SE-6), and the refusal is counted by reason for ``/metrics``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cache
from importlib.resources import files
from pathlib import Path

from syndicate.config import SubscribeSettings
from syndicate.store import Store
from syndicate.store.guards import Guards
from syndicate.subscribers.consent import network_of as consent_network

log = logging.getLogger(__name__)

CONFIRM_INTERVAL = timedelta(days=1)
COUNTER = "signup:"  # counters' prefix in the store: signup:<reason>
REASONS = (
    "client",
    "address",
    "too-fast",
    "network",
    "domain",
    "no-mx",
    "disposable",
    "repeat",
    "honeypot",
)


def network_of(address: str) -> str:
    """The key of a client's rate window: its /24 (IPv4) or /56 (IPv6, a typical
    end-site prefix), as a consent record keeps it; anything else as it is."""
    return consent_network(address) or address


def domain_of(email: str) -> str:
    """The domain of a normalised address."""
    return email.rpartition("@")[2].lower()


@cache
def shipped_disposable_domains() -> frozenset[str]:
    """The throwaway-mailbox domains shipped with syndicate."""
    text = files("syndicate.subscribers").joinpath("data/disposable_domains.txt").read_text()
    return _domains(text)


def _domains(text: str) -> frozenset[str]:
    lines = (line.strip().lower() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def has_mail_exchanger(domain: str, resolver: str, timeout: float) -> bool | None:
    """Whether ``domain`` publishes an MX record (a null MX, RFC 7505, is none), asking
    the DNS server ``resolver`` (``host`` or ``host:port``); ``None`` when the server
    does not answer in ``timeout`` seconds (then nothing is refused on it)."""
    import dns.exception
    import dns.resolver

    host, _, port = resolver.partition(":")
    ask = dns.resolver.Resolver(configure=False)
    ask.nameservers = [host]
    ask.port = int(port or 53)
    ask.lifetime = timeout
    try:
        answer = ask.resolve(domain, "MX")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return False
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as err:
        log.warning("MX check of %s: resolver %s did not answer: %s", domain, resolver, err)
        return None
    return any(str(r.exchange) not in (".", "") for r in answer)


class SignupChecks:
    """The store-backed and DNS checks of one instance's sign-ups."""

    def __init__(self, store: Store, settings: SubscribeSettings, base: Path) -> None:
        self.guards = Guards(store)
        self.settings = settings
        self.disposable: frozenset[str] = frozenset()
        if settings.refuse_disposable:
            extra = settings.disposable_domains_file
            own = _domains((base / extra).read_text(encoding="utf-8")) if extra else frozenset()
            self.disposable = shipped_disposable_domains() | own

    def address_refusal(self, email: str) -> str | None:
        """Why the address itself is refused (``disposable``, ``no-mx``), or ``None``."""
        domain = domain_of(email)
        if domain in self.disposable:
            return "disposable"
        if self.settings.resolver:
            found = has_mail_exchanger(
                domain, self.settings.resolver, self.settings.resolver_timeout
            )
            if found is False:
                return "no-mx"
        return None

    def may_confirm(self, email: str, now: datetime) -> bool:
        """True (and recorded) when no confirmation went to ``email`` within a day."""
        return self.guards.note_confirmation(email, now, now - CONFIRM_INTERVAL)

    def refused(self, reason: str) -> None:
        """Count a refusal (for ``/metrics``) and log it; the visitor is told nothing."""
        log.info("sign-up refused: %s", reason)
        self.guards.count(COUNTER + reason)
