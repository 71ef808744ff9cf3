"""Ghost: the members export (Members → ⋯ → Export all members).

Columns read: ``email``, ``name``, ``created_at`` (consent time);
``subscribed_to_emails`` (``false``: unsubscribed from newsletters); ``deleted_at``
(a deleted member is suppressed as unsubscribed); ``email_disabled`` when present
(``true``: Ghost stopped mailing after a bounce or a spam complaint — bounced);
``labels`` and ``tiers`` (comma-separated, become tags). Ghost members sign in by a
link sent to their address, so consent is confirmed (double opt-in).
"""

from __future__ import annotations

from syndicate.subscribers.importers.rows import (
    ImportedRow,
    Record,
    email_of,
    flag,
    tag_list,
    text,
    when,
)

REQUIRED = ("email",)


def parse(record: Record) -> ImportedRow:
    """One row of a Ghost members export."""
    if flag(record, "email_disabled"):
        status = "bounced"
    elif text(record, "deleted_at") or flag(record, "subscribed_to_emails") is False:
        status = "unsubscribed"
    else:
        status = "active"
    created = when(record, "created_at")
    return ImportedRow(
        email=email_of(record, "email"),
        name=text(record, "name"),
        status=status,
        tags=tag_list(text(record, "labels")) + tag_list(text(record, "tiers")),
        given_at=created,
        confirmed_at=created,
        status_at=when(record, "deleted_at"),
        optin="double",
        origin="ghost",
    )
