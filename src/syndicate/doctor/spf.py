"""SPF (RFC 7208): find a domain's record and walk its includes, counting the DNS
lookups a receiver would make (§4.6.4: at most 10, at most 2 void ones) and noting every
domain it includes, so the checks can say whether the provider is in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syndicate.doctor.resolver import Resolver

LOOKUP_LIMIT = 10
VOID_LIMIT = 2
# Mechanisms and modifiers that cost a DNS lookup (§4.6.4).
_LOOKUP_TERMS = frozenset({"include", "a", "mx", "ptr", "exists", "redirect"})
# Stop walking a runaway tree long after the verdict is clear.
_WALK_CAP = 40


@dataclass
class SPFWalk:
    """What walking a domain's SPF record found."""

    domain: str
    record: str | None = None
    records: int = 0
    lookups: int = 0
    voids: int = 0
    included: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def includes(self, domain: str) -> bool:
        """Whether ``domain`` (or a subdomain of it) is included anywhere in the tree."""
        want = domain.lower().rstrip(".")
        return any(d == want or d.endswith("." + want) for d in self.included)

    @property
    def all_qualifier(self) -> str | None:
        """The top record's ``all`` qualifier (``-``, ``~``, ``?``, ``+``), or ``None``."""
        for term in (self.record or "").split()[1:]:
            qualifier, name = _split_qualifier(term)
            if name.lower() == "all":
                return qualifier
        return None


def spf_records(txt_records: list[str]) -> list[str]:
    """The TXT records that are SPF records (``v=spf1`` alone or followed by a space)."""
    return [t for t in txt_records if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


def walk_spf(resolver: Resolver, domain: str) -> SPFWalk:
    """Walk ``domain``'s SPF record; :class:`~syndicate.doctor.resolver.Unreachable`
    propagates when the resolver does not answer."""
    found = SPFWalk(domain)
    records = spf_records(resolver.txt(domain))
    found.records = len(records)
    if not records:
        return found
    found.record = records[0]
    if len(records) > 1:
        found.problems.append(f"{len(records)} SPF records at {domain} (permerror)")
    _walk(resolver, records[0], found, {domain.lower()})
    return found


def _split_qualifier(term: str) -> tuple[str, str]:
    if term[:1] in "+-~?":
        return term[0], term[1:]
    return "+", term


def _walk(resolver: Resolver, record: str, found: SPFWalk, seen: set[str]) -> None:
    for term in record.split()[1:]:
        if found.lookups > _WALK_CAP:
            return
        _, body = _split_qualifier(term)
        if "=" in body and ":" not in body.partition("=")[0]:
            name, _, target = body.partition("=")
        else:
            name, _, target = body.partition(":")
        name = name.partition("/")[0].lower()
        if name not in _LOOKUP_TERMS:
            continue
        found.lookups += 1
        if name not in ("include", "redirect") or not target:
            continue
        target = target.lower().rstrip(".")
        found.included.append(target)
        if "%" in target or target in seen:  # a macro cannot be expanded here; loops stop
            if target in seen:
                found.problems.append(f"{name}:{target} loops back")
            continue
        included = spf_records(resolver.txt(target))
        if not included:
            found.voids += 1
            found.problems.append(f"{name}:{target} has no SPF record (permerror)")
            continue
        _walk(resolver, included[0], found, seen | {target})
