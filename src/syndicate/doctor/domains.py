"""Domain helpers for DMARC alignment (RFC 7489 §3.1).

Relaxed alignment compares organizational domains. Finding one exactly needs the Public
Suffix List, which syndicate does not ship; :func:`org_domain` approximates it with the
last two labels, or three under a two-letter country code whose second level is a
common generic one (``example.co.uk``). That is right for the sending domains the
doctor sees in practice, and errs towards calling a pair *not* aligned.
"""

from __future__ import annotations

from typing import Literal

_GENERIC_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gov", "net", "org", "ne", "or"})


def org_domain(domain: str) -> str:
    """The organizational domain of ``domain`` (approximate; see the module docstring)."""
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _GENERIC_SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def aligned(domain: str, from_domain: str, mode: Literal["r", "s"]) -> bool:
    """Whether ``domain`` aligns with the From domain: equal (strict) or the same
    organizational domain (relaxed)."""
    a, b = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if mode == "s":
        return a == b
    return org_domain(a) == org_domain(b)


def tags(record: str) -> dict[str, str]:
    """``k=v; k=v`` tag lists (DKIM, DMARC, BIMI) as a dict; keys lower-cased."""
    out: dict[str, str] = {}
    for part in record.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out
