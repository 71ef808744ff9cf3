"""DNS questions for the checks, asked of the configured resolver (``[doctor] resolver``).

An empty answer (no such name, no record of that type) is an empty list: that is what
the checks judge. A resolver that cannot be reached or fails (timeout, SERVFAIL, refused)
raises :class:`Unreachable`, which the checks turn into "could not check".
"""

from __future__ import annotations

import ipaddress

import dns.exception
import dns.name
import dns.resolver
import dns.reversename

from syndicate.config import DoctorSettings
from syndicate.errors import SyndicateError


class Unreachable(SyndicateError):
    """The resolver did not answer (timeout, SERVFAIL, no server reachable)."""


class Resolver:
    """Asks one set of DNS servers; every answer comes back as plain strings."""

    def __init__(self, settings: DoctorSettings) -> None:
        self._resolver = dns.resolver.Resolver(configure=not settings.resolver)
        if settings.resolver:
            self._resolver.nameservers = list(settings.resolver)
        self._resolver.port = settings.resolver_port
        self._resolver.timeout = settings.dns_timeout
        self._resolver.lifetime = settings.dns_timeout
        # Each check asks fresh: a record just published must show at once.
        self._resolver.cache = None
        self._silent: str | None = None

    def _ask(self, name: str, rdtype: str) -> list[dns.rdata.Rdata]:
        if self._silent is not None:
            # One timeout is enough to know: without this, an offline run would wait
            # dns_timeout for every question of every check.
            raise Unreachable(f"the resolver did not answer ({self._silent})")
        try:
            answer = self._resolver.resolve(name, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.resolver.NoNameservers as err:
            raise Unreachable(f"no DNS server answered {rdtype} {name} (SERVFAIL)") from err
        except dns.exception.Timeout as err:
            self._silent = f"timed out asking {rdtype} {name}"
            raise Unreachable(f"DNS timed out asking {rdtype} {name}") from err
        except (dns.exception.DNSException, OSError) as err:
            raise Unreachable(f"DNS failed asking {rdtype} {name}: {err}") from err
        return list(answer)

    def txt(self, name: str) -> list[str]:
        """The TXT records at ``name``, each record's strings joined (RFC 7208 §3.3)."""
        records = []
        for rdata in self._ask(name, "TXT"):
            strings: tuple[bytes, ...] = rdata.strings  # type: ignore[attr-defined]
            records.append(b"".join(strings).decode("utf-8", "replace"))
        return records

    def mx(self, name: str) -> list[tuple[int, str]]:
        """The MX records at ``name`` as (preference, host without the final dot)."""
        return sorted(
            (int(r.preference), r.exchange.to_text(omit_final_dot=True))  # type: ignore[attr-defined]
            for r in self._ask(name, "MX")
        )

    def addresses(self, name: str) -> list[str]:
        """The A and AAAA addresses of ``name``."""
        return [r.to_text() for rdtype in ("A", "AAAA") for r in self._ask(name, rdtype)]

    def ptr(self, address: str) -> list[str]:
        """The PTR names of an IP address, without the final dot."""
        reverse = dns.reversename.from_address(str(ipaddress.ip_address(address)))
        return [
            r.target.to_text(omit_final_dot=True)  # type: ignore[attr-defined]
            for r in self._ask(reverse.to_text(), "PTR")
        ]
