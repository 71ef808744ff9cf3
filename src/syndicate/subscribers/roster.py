"""Subscriber addresses and CSV import: validation with line numbers, idempotent upserts.

Addresses are validated and normalised with email-validator (no DNS look-ups unless
asked), then lower-cased so that one person is one row however they typed it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syndicate.models import Subscription
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


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do).

    ``errors`` holds (line number, reason) for skipped rows; ``changes`` (line, address,
    action) for every row that changed something. ``suppressed`` counts rows skipped
    because the address is suppressed (or erased), ``refused`` those skipped because
    the subscriber opted out or bounced, ``suppressions_added`` the rows that put an
    address on the suppression list, ``kept`` the unsubscribes older than the
    subscriber's own later opt-in here.
    """

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0
    refused: int = 0
    suppressions_added: int = 0
    kept: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    changes: list[tuple[int, str, str]] = field(default_factory=list)

    def count(self, action: str) -> None:
        """Count one row's ``action`` (an upsert outcome, ``suppressed:<reason>`` or ``kept``)."""
        name = "suppressions_added" if action.startswith("suppressed:") else action
        setattr(self, name, getattr(self, name) + 1)


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
    dry_run: bool = False,
) -> ImportReport:
    """Import ``path`` in our own CSV format (see
    :mod:`syndicate.subscribers.importers.generic`): bad rows are reported with their
    line numbers and skipped, the rest upserted. Importing the same file again changes
    nothing."""
    # Imported here: the importers import this module (addresses, the CSV reader).
    from syndicate.subscribers.importers.apply import ImportOptions, run_import

    options = ImportOptions(
        known_channels=known_channels,
        default_channels=(default_channel,) if default_channel else (),
        status=status,
    )
    return run_import(store, path, "csv", options, now=now, dry_run=dry_run)


# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV
# injection"): a name typed into the public sign-up form must not run in the
# operator's spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """``value`` for a CSV cell: a leading ``'`` when it would start a formula (which
    every import here takes off again, :func:`csv_plain`)."""
    return f"'{value}" if value.startswith(FORMULA_START) else value


def csv_plain(value: str) -> str:
    """A CSV cell's value with :func:`csv_safe`'s quote taken off."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def export_rows(store: SubscriberStore, status: str | None = None) -> Iterable[dict[str, str]]:
    """Subscribers as CSV rows in the import format: one row per subscription, so that
    importing the export gives back the same cadences and sections per channel. A cell
    that a spreadsheet would run as a formula is quoted (:func:`csv_safe`)."""
    for sub in store.iter_all(status=status):
        for subscription in sub.subscriptions or (Subscription(""),):
            row = {
                "email": sub.email,
                "name": sub.name,
                "channels": subscription.channel,
                "cadence": subscription.cadence,
                "sections": ";".join(subscription.sections),
                "timezone": sub.timezone,
            }
            yield {key: csv_safe(value) for key, value in row.items()}
