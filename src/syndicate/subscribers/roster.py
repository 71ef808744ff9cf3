"""Subscriber addresses and CSV import: validation with line numbers, idempotent upserts.

Addresses are validated and normalised with email-validator (no DNS look-ups unless
asked), then lower-cased so that one person is one row however they typed it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syndicate.models import Subscription
from syndicate.store.delivery_schema import CADENCES
from syndicate.store.subscribers import SubscriberStore

CSV_COLUMNS = ("email", "name", "channels", "cadence", "sections", "timezone")


class InvalidRow(ValueError):
    """A CSV row or an address that cannot be imported; the message says why."""


def normalise_email(address: str, *, check_deliverability: bool = False) -> str:
    """The normalised, lower-cased form of ``address``; :class:`InvalidRow` if invalid."""
    # Imported here: email-validator pulls in dnspython, which costs every command start.
    from email_validator import EmailNotValidError, validate_email

    try:
        info = validate_email(address.strip(), check_deliverability=check_deliverability)
    except EmailNotValidError as err:
        raise InvalidRow(f"invalid email address {address!r}: {err}") from err
    return info.normalized.lower()


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA timezone; :class:`InvalidRow` otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InvalidRow(f"unknown timezone {name!r}") from err
    return name


def _split(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    parts = value.replace("|", ";").split(";")
    return tuple(p.strip() for p in parts if p.strip())


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    """One validated row: who, and which channels at which cadence and sections."""

    email: str
    name: str
    timezone: str
    subscriptions: tuple[Subscription, ...]


def parse_row(
    row: dict[str, str | None], *, known_channels: Sequence[str], default_channel: str | None
) -> SubscriberRow:
    """Validate one CSV row (``channels`` and ``sections`` separated by ``;``)."""
    email = normalise_email(row.get("email") or "")
    channels = _split(row.get("channels")) or ((default_channel,) if default_channel else ())
    if not channels:
        raise InvalidRow("no channel (fill the 'channels' column or pass --channel)")
    unknown = [c for c in channels if c not in known_channels]
    if unknown:
        raise InvalidRow(
            f"unknown channel {unknown[0]!r} (known: {', '.join(known_channels) or 'none'})"
        )
    cadence = (row.get("cadence") or "edition").strip().lower()
    if cadence not in CADENCES:
        raise InvalidRow(f"cadence must be one of {', '.join(CADENCES)}, found {cadence!r}")
    sections = _split(row.get("sections"))
    timezone = check_timezone((row.get("timezone") or "UTC").strip())
    subs = tuple(Subscription(c, cadence, sections) for c in channels)
    return SubscriberRow(email, (row.get("name") or "").strip(), timezone, subs)


@dataclass
class ImportReport:
    """What an import did; ``errors`` holds (line number, reason) for skipped rows."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0
    refused: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def read_csv(path: Path) -> tuple[list[str], Iterable[tuple[int, dict[str, str | None]]]]:
    """The header and the rows of a CSV file, each row with its line number."""
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = header

    def rows() -> Iterable[tuple[int, dict[str, str | None]]]:
        for row in reader:
            yield reader.line_num, {k: v for k, v in row.items() if k is not None}

    return header, rows()


def import_csv(
    store: SubscriberStore,
    path: Path,
    *,
    known_channels: Sequence[str],
    default_channel: str | None,
    status: str,
    now: Callable[[], datetime],
) -> ImportReport:
    """Import ``path``: bad rows are reported with their line numbers and skipped, the
    rest upserted. Importing the same file again changes nothing."""
    header, rows = read_csv(path)
    report = ImportReport()
    if "email" not in header:
        report.errors.append((1, f"no 'email' column (columns: {', '.join(header)})"))
        return report
    # Rows for one address are merged: the first row gives the name and timezone, every
    # row adds its channels. So an export (one row per subscription) imports back as it
    # was, and importing a file twice changes nothing.
    merged: dict[str, tuple[int, SubscriberRow]] = {}
    seen: dict[tuple[str, str], int] = {}
    for line, raw in rows:
        try:
            row = parse_row(raw, known_channels=known_channels, default_channel=default_channel)
        except InvalidRow as err:
            report.errors.append((line, str(err)))
            continue
        repeats = [
            seen[(row.email, s.channel)]
            for s in row.subscriptions
            if (row.email, s.channel) in seen
        ]
        if repeats:
            report.errors.append((line, f"{row.email} repeats line {repeats[0]}"))
            continue
        seen.update({(row.email, s.channel): line for s in row.subscriptions})
        if row.email in merged:
            first, acc = merged[row.email]
            row = replace(acc, subscriptions=acc.subscriptions + row.subscriptions)
            merged[row.email] = (first, row)
        else:
            merged[row.email] = (line, row)
    for first, row in merged.values():
        outcome = store.upsert(
            row.email,
            name=row.name,
            status=status,
            timezone=row.timezone,
            subs=row.subscriptions,
            now=now(),
            consent={"source": f"import:{path.name}", "line": first},
        )
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def export_rows(store: SubscriberStore, status: str | None = None) -> Iterable[dict[str, str]]:
    """Subscribers as CSV rows in the import format: one row per subscription, so that
    importing the export gives back the same cadences and sections per channel."""
    for sub in store.iter_all(status=status):
        for subscription in sub.subscriptions or (Subscription(""),):
            yield {
                "email": sub.email,
                "name": sub.name,
                "channels": subscription.channel,
                "cadence": subscription.cadence,
                "sections": ";".join(subscription.sections),
                "timezone": sub.timezone,
            }
