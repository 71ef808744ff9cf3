"""Which resolved addresses a fetch may connect to (STANDARDS SE-5).

An IPv6 address can carry an IPv4 address that a translator or tunnel on the path will
actually reach: IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, 6to4
``2002:AABB:CCDD::/48`` and NAT64 (``64:ff9b::/96`` and the local-use ``64:ff9b:1::/48``,
RFC 6052 / RFC 8215). Python's ``is_global`` calls several of these global whatever they
carry, so the policy unwraps them and decides on the IPv4 inside.

Link-local addresses (169.254.0.0/16, where cloud metadata services answer, and
fe80::/10) are never allowed, not by ``allow_private`` nor by ``allow_networks``, wrapped
or not.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NEVER_ALLOWED: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
)
_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
# RFC 6052 §2.2: where the 32 IPv4 bits sit (start and end bit offsets from the left; the
# reserved bits 64-71 inside a span are skipped), per prefix length that fits in the /48.
_LOCAL_LAYOUTS = ((48, 88), (56, 96), (72, 104), (96, 128))


def embedded_ipv4(address: IPAddress) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses ``address`` may stand for; empty when it carries none.

    The local-use NAT64 prefix can be deployed at any RFC 6052 length, so every layout
    that fits is returned and the caller must accept all of them.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return ()
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    value = int(address)
    if address in _COMPATIBLE or address in _NAT64:
        return (ipaddress.IPv4Address(value & 0xFFFFFFFF),)
    if address in _NAT64_LOCAL:
        return tuple(ipaddress.IPv4Address(_bits(value, layout)) for layout in _LOCAL_LAYOUTS)
    return ()


def _bits(value: int, layout: tuple[int, int]) -> int:
    """32 bits of a 128-bit value from offset ``start``, stepping over bits 64-71."""
    start, end = layout
    if end <= 64 or start >= 72:
        return (value >> (128 - end)) & 0xFFFFFFFF
    high = 64 - start  # bits before the reserved octet
    first = (value >> 64) & ((1 << high) - 1)
    rest = (value >> (128 - end)) & ((1 << (32 - high)) - 1)
    return (first << (32 - high)) | rest


def never_allowed(address: IPAddress) -> bool:
    """True for a link-local address, or one carrying a link-local IPv4 address."""
    return any(a in net for a in (address, *embedded_ipv4(address)) for net in NEVER_ALLOWED)


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses a fetch may connect to.

    Never link-local (``NEVER_ALLOWED``), wrapped or not. Otherwise any address when
    ``allow_private``; an address inside ``networks``; or a public (globally routable)
    one, where an IPv6 address carrying IPv4 counts as the IPv4 it carries.
    """

    allow_private: bool = False
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_config(cls, allow_private: bool, networks: Iterable[str]) -> AddressPolicy:
        """Build a policy from a source's ``allow_private`` and ``allow_networks`` keys."""
        return cls(allow_private, tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def allows(self, address: IPAddress) -> bool:
        """True when a connection to ``address`` is permitted."""
        if never_allowed(address):
            return False
        if self.allow_private or self._listed(address):
            return True
        inside = embedded_ipv4(address) or (address,)
        return all(a.is_global or self._listed(a) for a in inside)

    def _listed(self, address: IPAddress) -> bool:
        return any(address in net for net in self.networks)
