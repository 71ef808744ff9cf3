"""Importing providers' suppression exports (STANDARDS SU-2): every address in them is
put on the suppression list, so nothing is ever sent to it.

Shapes read (header names are matched case-insensitively):

* **Postmark** (Suppressions → Export, or the suppressions dump API):
  ``EmailAddress``, ``SuppressionReason`` (``HardBounce`` → bounced,
  ``SpamComplaint`` → complained, ``ManualSuppression`` → unsubscribed), ``Origin``,
  ``CreatedAt``.
* **SendGrid** (Suppressions → Bounces / Blocks / Spam Reports / Global Unsubscribes /
  Invalid Emails → Export CSV): ``email``, ``created``, and ``reason`` and ``status``
  (bounces, blocks, invalid: bounced) or ``ip`` (spam reports: complained); only
  ``email`` and ``created``: a global unsubscribe.
* **Mailgun** (Suppressions → Bounces / Complaints / Unsubscribes → Export):
  ``address``, ``created_at``, and ``code`` and ``error`` (bounces: bounced) or
  ``tag`` (unsubscribes: unsubscribed); only ``address`` and ``created_at``: a complaint.
* **Amazon SES** (account-level suppression list, export job or
  ``list-suppressed-destinations`` as CSV): ``EmailAddress``, ``Reason``
  (``BOUNCE`` → bounced, ``COMPLAINT`` → complained), ``LastUpdateTime``.

``reason`` overrides what the shape says (a SendGrid file whose kind is not in its
columns, say). Bad rows are reported with file and line, the rest go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from syndicate.store import Store
from syndicate.store.subscribers import suppress_in
from syndicate.subscribers.importers.rows import Record, text
from syndicate.subscribers.roster import InvalidRow, normalise_email, read_csv

PROVIDERS = ("postmark", "sendgrid", "mailgun", "ses")
REASONS = ("unsubscribed", "bounced", "complained")

_POSTMARK = {
    "hardbounce": "bounced",
    "spamcomplaint": "complained",
    "manualsuppression": "unsubscribed",
}
_SES = {"bounce": "bounced", "complaint": "complained"}


@dataclass(frozen=True)
class Shape:
    """One provider's export: its address column and how a row's reason is read."""

    provider: str
    email: str
    reason: Callable[[Record, Sequence[str]], str]


def _postmark(record: Record, header: Sequence[str]) -> str:
    value = text(record, "suppressionreason").lower()
    if value not in _POSTMARK:
        raise InvalidRow(f"unknown SuppressionReason {value!r}")
    return _POSTMARK[value]


def _ses(record: Record, header: Sequence[str]) -> str:
    value = text(record, "reason").lower()
    if value not in _SES:
        raise InvalidRow(f"unknown Reason {value!r} (expected BOUNCE or COMPLAINT)")
    return _SES[value]


def _sendgrid(record: Record, header: Sequence[str]) -> str:
    if "ip" in header:
        return "complained"
    if "reason" in header or "status" in header:
        return "bounced"
    return "unsubscribed"


def _mailgun(record: Record, header: Sequence[str]) -> str:
    if "code" in header or "error" in header:
        return "bounced"
    if "tag" in header or "tags" in header:
        return "unsubscribed"
    return "complained"


SHAPES = {
    "postmark": Shape("postmark", "emailaddress", _postmark),
    "ses": Shape("ses", "emailaddress", _ses),
    "sendgrid": Shape("sendgrid", "email", _sendgrid),
    "mailgun": Shape("mailgun", "address", _mailgun),
}


def detect(header: Sequence[str]) -> str | None:
    """The provider whose export has this header, or ``None``."""
    if "emailaddress" in header:
        return "postmark" if "suppressionreason" in header else "ses"
    if "address" in header:
        return "mailgun"
    if "email" in header:
        return "sendgrid"
    return None


@dataclass
class SuppressionReport:
    """What a suppression import did: per reason the addresses newly suppressed,
    how many were already, and (line, reason) for bad rows."""

    provider: str = ""
    added: dict[str, int] = field(default_factory=dict)
    already: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def import_suppressions(
    store: Store,
    path: Path,
    *,
    provider: str | None,
    reason: str | None,
    now: Callable[[], datetime],
    dry_run: bool = False,
) -> SuppressionReport:
    """Suppress every address in ``path``, a provider's suppression export
    (``provider`` ``None``: known by its columns). Idempotent; a dry run changes nothing."""
    report = SuppressionReport()
    try:
        header, records = read_csv(path)
    except UnicodeDecodeError as err:
        report.errors.append((1, f"not UTF-8 text ({err.reason} at byte {err.start})"))
        return report
    # SES and Postmark write "EmailAddress"; a spreadsheet may add a space.
    header = [h.replace(" ", "").replace("_", "") if "email" in h else h for h in header]
    name = provider or detect(header)
    if name is None or name not in SHAPES:
        report.errors.append((1, f"not a known suppression export (columns: {', '.join(header)})"))
        return report
    shape = SHAPES[name]
    report.provider = name
    if shape.email not in header:
        report.errors.append(
            (1, f"no {shape.email!r} column for {name} (columns: {', '.join(header)})")
        )
        return report
    at = now()
    with store.engine.connect() as conn:
        transaction = conn.begin()
        try:
            for line, raw in records:
                record = {
                    (k.replace(" ", "").replace("_", "") if "email" in k else k): v
                    for k, v in raw.items()
                }
                try:
                    email = normalise_email(text(record, shape.email))
                    why = reason or shape.reason(record, header)
                except InvalidRow as err:
                    report.errors.append((line, str(err)))
                    continue
                done = suppress_in(
                    conn, email, why, source=f"import:{name}", detail=f"{path.name}:{line}", now=at
                )
                if done:
                    report.added[why] = report.added.get(why, 0) + 1
                else:
                    report.already += 1
        except BaseException:
            transaction.rollback()  # a store error: all or nothing, never half a file
            raise
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    return report
