"""One row of an import, whatever tool exported it, and the value readers formats share.

Each format module turns a CSV record (header names lower-cased) into an
:class:`ImportedRow`; :mod:`.apply` decides what it changes in the store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from syndicate.models import Subscription
from syndicate.subscribers.consent import network_of
from syndicate.subscribers.roster import InvalidRow, csv_plain, normalise_email

__all__ = ["network_of"]  # re-exported: formats read sign-up addresses

Record = Mapping[str, str | None]

# The statuses an import understands. ``cleaned`` is Mailchimp's word for an address
# removed after hard bounces (or repeated soft ones): it is suppressed as ``bounced``.
IMPORT_STATUSES = ("active", "pending", "unsubscribed", "bounced", "complained", "cleaned")
# Status → the suppression reason it becomes (SU-1, SU-2). Such rows are never made
# active, by this import or by any later one.
SUPPRESSING = {
    "unsubscribed": "unsubscribed",
    "bounced": "bounced",
    "complained": "complained",
    "cleaned": "bounced",
}


@dataclass(frozen=True, slots=True)
class ImportedRow:
    """What one export row says about one address.

    ``subscriptions`` is set only by formats that name channels themselves (our own
    CSV); the others give ``tags``, which the import maps to channels and sections.
    ``given_at`` is when consent was given, ``confirmed_at`` when a double opt-in was
    confirmed, ``status_at`` when the status last changed (an unsubscribe's time), all
    as the tool recorded them. ``network`` is the sign-up client's /24 or /56 only.
    """

    email: str
    name: str = ""
    status: str = "active"
    timezone: str = "UTC"
    subscriptions: tuple[Subscription, ...] = ()
    tags: tuple[str, ...] = ()
    given_at: datetime | None = None
    confirmed_at: datetime | None = None
    status_at: datetime | None = None
    optin: str = ""
    origin: str = ""
    network: str = ""


def text(record: Record, *names: str) -> str:
    """The first non-empty value among the columns ``names``, stripped, with the quote
    an export puts before a formula-like cell taken off ("" if none)."""
    for name in names:
        value = csv_plain((record.get(name) or "").strip())
        if value:
            return value
    return ""


def email_of(record: Record, *names: str) -> str:
    """The normalised address in the first of ``names`` that has one."""
    value = text(record, *names)
    if not value:
        raise InvalidRow(f"no address in column {names[0]!r}")
    return normalise_email(value)


def flag(record: Record, name: str) -> bool | None:
    """A true/false column (``true``, ``false``, ``1``, ``0``, ``yes``, ``no``); None if empty."""
    value = text(record, name).lower()
    if not value:
        return None
    if value in ("true", "1", "yes", "t", "y"):
        return True
    if value in ("false", "0", "no", "f", "n"):
        return False
    raise InvalidRow(f"column {name!r}: expected true or false, found {value!r}")


def when(record: Record, name: str) -> datetime | None:
    """A time column: ISO 8601 (``Z`` or an offset) or ``YYYY-MM-DD HH:MM:SS``; a time
    without a zone is read as UTC (Mailchimp's exports). None if empty."""
    value = text(record, name)
    if not value:
        return None
    cleaned = value.replace(" UTC", "").strip()
    # PostgreSQL prints "+00" (listmonk's export); fromisoformat wants "+00:00".
    if len(cleaned) > 3 and cleaned[-3] in "+-" and cleaned[-3:].lstrip("+-").isdigit():
        cleaned += ":00"
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError as err:
        raise InvalidRow(f"column {name!r}: not a time: {value!r}") from err
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def tag_list(value: str) -> tuple[str, ...]:
    """Tags from one cell: a JSON list, or names separated by commas (each maybe quoted,
    as Mailchimp writes ``"Donor","VIP"``)."""
    value = value.strip()
    if not value:
        return ()
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return tuple(str(t).strip() for t in parsed if str(t).strip())
    parts = (p.strip().strip('"').strip("'").strip() for p in value.split(","))
    return tuple(p for p in parts if p)
