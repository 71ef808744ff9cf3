"""Consent records: how and when each subscription was agreed to.

Three ways, each kept as a :class:`~syndicate.store.consents.ConsentRecord`:

* ``form`` — the sign-up form and its confirmation click (request and confirmation
  times, the form, the user agent and the client's network: its /24 or /56, never the
  address itself);
* ``import`` — an import: the file's name and row, the tool it came from and what that
  tool recorded (consent and confirmation times, single or double opt-in);
* ``operator`` — ``syndicate subscribers add`` on the command line.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime

from syndicate.store.consents import ConsentRecord


def network_of(address: str) -> str:
    """The network a client address belongs to: its /24 (IPv4) or /56 (IPv6), never
    the address itself ("" if ``address`` is not one)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 56
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def operator_record(channel: str, now: datetime, *, note: str = "") -> ConsentRecord:
    """The record of an operator adding a subscription on the command line."""
    return ConsentRecord(
        channel=channel,
        method="operator",
        source="cli",
        given_at=now,
        confirmed_at=None,
        recorded_at=now,
        detail={"note": note} if note else {},
    )
