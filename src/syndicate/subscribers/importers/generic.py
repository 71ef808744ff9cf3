"""Our own CSV (``--from csv``, the default; what ``syndicate subscribers export`` writes).

Columns: ``email`` (required), ``name``, ``channels`` and ``sections`` (separated by
``;``), ``cadence`` (``edition``, ``daily`` or ``weekly``), ``timezone`` (IANA);
optional ``status`` (``active``, ``pending``, ``unsubscribed``, ``bounced``,
``complained``, ``cleaned``; empty: the import's ``--status``), ``consent_at`` and
``confirmed_at`` (ISO 8601), ``optin`` (``single`` or ``double``) and ``source``.
"""

from __future__ import annotations

from syndicate.models import Subscription
from syndicate.store.delivery_schema import CADENCES
from syndicate.subscribers.importers.rows import (
    IMPORT_STATUSES,
    ImportedRow,
    Record,
    email_of,
    text,
    when,
)
from syndicate.subscribers.roster import InvalidRow, check_timezone

REQUIRED = ("email",)


def _split(value: str) -> tuple[str, ...]:
    parts = value.replace("|", ";").split(";")
    return tuple(p.strip() for p in parts if p.strip())


def parse(record: Record) -> ImportedRow:
    """One row of our CSV; the channels named are checked by the import."""
    email = email_of(record, "email")
    cadence = text(record, "cadence").lower() or "edition"
    if cadence not in CADENCES:
        raise InvalidRow(f"cadence must be one of {', '.join(CADENCES)}, found {cadence!r}")
    sections = _split(text(record, "sections"))
    timezone = check_timezone(text(record, "timezone") or "UTC")
    status = text(record, "status").lower()
    if status and status not in IMPORT_STATUSES:
        raise InvalidRow(f"status must be one of {', '.join(IMPORT_STATUSES)}, found {status!r}")
    optin = text(record, "optin").lower()
    if optin not in ("", "single", "double"):
        raise InvalidRow(f"optin must be single or double, found {optin!r}")
    return ImportedRow(
        email=email,
        name=text(record, "name"),
        status=status,
        timezone=timezone,
        subscriptions=tuple(
            Subscription(c, cadence, sections) for c in _split(text(record, "channels"))
        ),
        given_at=when(record, "consent_at"),
        confirmed_at=when(record, "confirmed_at"),
        optin=optin,
        origin=text(record, "source"),
    )
