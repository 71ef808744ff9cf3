"""Substack: the subscriber list export (Settings → Exports, ``email_list.<date>.csv``).

Columns read: ``email``; ``name`` (when present); ``created_at`` (consent time);
``email_disabled`` (``true``: the reader turned e-mail off — unsubscribed);
``active_subscription`` and ``plan`` (``paid`` and the plan name become tags, e.g. to
map paying readers to a channel). Substack signs readers up without double opt-in.
"""

from __future__ import annotations

from syndicate.subscribers.importers.rows import ImportedRow, Record, email_of, flag, text, when

REQUIRED = ("email",)


def parse(record: Record) -> ImportedRow:
    """One row of a Substack export."""
    tags = tuple(t for t in (text(record, "plan"),) if t)
    if flag(record, "active_subscription"):
        tags += ("paid",)
    return ImportedRow(
        email=email_of(record, "email"),
        name=text(record, "name"),
        status="unsubscribed" if flag(record, "email_disabled") else "active",
        tags=tags,
        given_at=when(record, "created_at"),
        optin="single",
        origin="substack",
    )
