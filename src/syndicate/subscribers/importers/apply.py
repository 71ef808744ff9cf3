"""Running an import: read the file, check each row, and change the store in one
transaction (rolled back for a dry run).

The rule that matters most: a row that says unsubscribed, bounced, complained or
cleaned becomes a suppression, and nothing an import does ever makes a suppressed,
unsubscribed, bounced or complained address active again (the store's ``upsert``
refuses; see :data:`~syndicate.store.subscribers.STICKY`). So importing an older export
after a newer one never re-activates anyone. The one exception goes the other way: an
unsubscribe older than the subscriber's own later confirmation (they signed up again
here, by the form's double opt-in) does not undo that fresh opt-in.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import ModuleType

from sqlalchemy import Connection, func, select

from syndicate.models import Subscription
from syndicate.store import Store
from syndicate.store.consent_schema import consent_records
from syndicate.store.consents import ConsentRecord
from syndicate.store.delivery_schema import subscribers, suppressions
from syndicate.store.subscribers import SubscriberStore, suppress_in, upsert_in
from syndicate.subscribers.importers.rows import SUPPRESSING, ImportedRow
from syndicate.subscribers.roster import ImportReport, InvalidRow, read_csv

# --from NAME → the module that reads that tool's export (one module per format).
FORMATS: dict[str, str] = {
    "csv": "generic",
    "substack": "substack",
    "ghost": "ghost",
    "mailchimp": "mailchimp",
    "buttondown": "buttondown",
    "listmonk": "listmonk",
}

TagMap = Mapping[str, Sequence[tuple[str, str | None]]]


@dataclass(frozen=True)
class ImportOptions:
    """How rows map to this instance.

    ``tag_map`` maps a tool's tag (or label, plan) to channels, each with a section to
    narrow it to (``None``: every section); a row's mapped tags give its channels, a row
    with none gets ``default_channels``. ``status`` is for rows that give none (our
    CSV); ``cadence`` for subscriptions that do not say.
    """

    known_channels: Sequence[str]
    default_channels: tuple[str, ...] = ()
    tag_map: TagMap = field(default_factory=dict)
    status: str = "active"
    cadence: str = "edition"


def format_module(name: str) -> ModuleType:
    """The module that reads format ``name``; :class:`KeyError` if there is none."""
    return importlib.import_module(f"syndicate.subscribers.importers.{FORMATS[name]}")


def parse_tag_map(items: Sequence[str]) -> dict[str, list[tuple[str, str | None]]]:
    """``TAG=CHANNEL`` or ``TAG=CHANNEL:SECTION`` items as a tag map;
    :class:`InvalidRow` for an item without ``=``."""
    out: dict[str, list[tuple[str, str | None]]] = {}
    for item in items:
        tag, sep, target = item.partition("=")
        if not sep or not tag.strip() or not target.strip():
            raise InvalidRow(f"expected TAG=CHANNEL or TAG=CHANNEL:SECTION, found {item!r}")
        channel, _, section = target.partition(":")
        out.setdefault(tag.strip().lower(), []).append((channel.strip(), section.strip() or None))
    return out


def _subscriptions(row: ImportedRow, options: ImportOptions) -> tuple[Subscription, ...]:
    """The row's channels: its own, else its mapped tags, else the defaults."""
    if row.subscriptions:
        subs = row.subscriptions
    else:
        wanted: dict[str, list[str] | None] = {}
        for tag in row.tags:
            for channel, section in options.tag_map.get(tag.lower(), ()):
                known = wanted.get(channel, [])
                # A tag mapped to the whole channel wins over sections of it.
                if section is None or known is None:
                    wanted[channel] = None
                elif section not in known:
                    wanted[channel] = [*known, section]
        if not wanted:
            wanted = {c: None for c in options.default_channels}
        subs = tuple(Subscription(c, options.cadence, tuple(s or ())) for c, s in wanted.items())
    unknown = [s.channel for s in subs if s.channel not in options.known_channels]
    if unknown:
        names = ", ".join(options.known_channels) or "none"
        raise InvalidRow(f"unknown channel {unknown[0]!r} (known: {names})")
    return subs


def _missing(header: Sequence[str], required: Sequence[str]) -> str | None:
    for need in required:
        choices = need.split("|")
        if not any(c in header for c in choices):
            return " or ".join(repr(c) for c in choices)
    return None


def read_rows(
    path: Path, fmt: str, options: ImportOptions, report: ImportReport
) -> list[tuple[int, ImportedRow]]:
    """The valid rows of ``path``, merged per address (rows for one address add their
    channels to the first); bad rows go to ``report.errors`` with their line."""
    module = format_module(fmt)
    try:
        header, records = read_csv(path)
    except UnicodeDecodeError as err:
        report.errors.append((1, f"not UTF-8 text ({err.reason} at byte {err.start})"))
        return []
    missing = _missing(header, module.REQUIRED)
    if missing:
        report.errors.append((1, f"no {missing} column (columns: {', '.join(header)})"))
        return []
    merged: dict[str, tuple[int, ImportedRow]] = {}
    seen: dict[tuple[str, str], int] = {}
    for line, record in records:
        try:
            row: ImportedRow = module.parse(record)
            status = row.status or options.status
            subs = _subscriptions(row, options)
            if not subs and status not in SUPPRESSING:
                raise InvalidRow("no channel (fill the 'channels' column or pass --channel)")
        except InvalidRow as err:
            report.errors.append((line, str(err)))
            continue
        row = replace(row, status=status, subscriptions=subs)
        repeats = [seen[(row.email, s.channel)] for s in subs if (row.email, s.channel) in seen]
        if repeats:
            report.errors.append((line, f"{row.email} repeats line {repeats[0]}"))
            continue
        seen.update({(row.email, s.channel): line for s in subs})
        if row.email in merged:
            first, acc = merged[row.email]
            worse = row.status if row.status in SUPPRESSING else acc.status
            merged[row.email] = (
                first,
                replace(acc, status=worse, subscriptions=acc.subscriptions + subs),
            )
        else:
            merged[row.email] = (line, row)
    return list(merged.values())


def run_import(
    store: Store | SubscriberStore,
    path: Path,
    fmt: str,
    options: ImportOptions,
    *,
    now: Callable[[], datetime],
    dry_run: bool = False,
) -> ImportReport:
    """Import ``path`` (an export in format ``fmt``) and say what changed.

    Bad rows are reported with their line and skipped; the rest is applied in one
    transaction, which a dry run rolls back (so its report says exactly what a real run
    would do, and the store is left as it was). Importing the same file again changes
    nothing.
    """
    report = ImportReport()
    rows = read_rows(path, fmt, options, report)
    at = now()
    with store.engine.connect() as conn:
        transaction = conn.begin()
        try:
            for line, row in rows:
                action = _apply(conn, row, line, path, fmt, at)
                report.count(action)
                if action != "unchanged":
                    report.changes.append((line, row.email, action))
        except BaseException:
            transaction.rollback()  # a store error: all or nothing, never half a file
            raise
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    return report


def _apply(
    conn: Connection, row: ImportedRow, line: int, path: Path, fmt: str, at: datetime
) -> str:
    if row.status in SUPPRESSING:
        return _suppress(conn, row, line, path, fmt, at)
    records = [
        ConsentRecord(
            channel=s.channel,
            method="import",
            source=path.name,
            given_at=row.given_at,
            confirmed_at=row.confirmed_at,
            recorded_at=at,
            detail={
                "line": line,
                "format": fmt,
                "optin": row.optin,
                "origin": row.origin,
                "network": row.network,
            },
        )
        for s in row.subscriptions
    ]
    return upsert_in(
        conn,
        row.email,
        name=row.name,
        status=row.status,
        timezone=row.timezone,
        subs=row.subscriptions,
        now=at,
        consent={"source": f"import:{path.name}", "line": line},
        records=records,
    )


def _suppress(
    conn: Connection, row: ImportedRow, line: int, path: Path, fmt: str, at: datetime
) -> str:
    if row.status_at is not None:
        # Only the subscriber's own confirmation here (a form's double opt-in) counts as
        # newer consent: an import's "active" is no opt-in, so an earlier import of an
        # older export never outweighs this export's unsubscribe.
        confirmed = conn.execute(
            select(func.max(consent_records.c.confirmed_at))
            .join(subscribers, subscribers.c.id == consent_records.c.subscriber_id)
            .where(subscribers.c.email == row.email, consent_records.c.method == "form")
        ).scalar_one_or_none()
        listed = conn.execute(
            select(suppressions.c.email).where(suppressions.c.email == row.email)
        ).first()
        if listed is None and confirmed is not None and confirmed > row.status_at:
            # They opted in again here after the exported unsubscribe: the export is older.
            return "kept"
    reason = SUPPRESSING[row.status]
    done = suppress_in(
        conn, row.email, reason, source=f"import:{fmt}", detail=f"{path.name}:{line}", now=at
    )
    return f"suppressed:{reason}" if done else "unchanged"
