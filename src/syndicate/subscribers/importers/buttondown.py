"""Buttondown: the subscribers export (Subscribers → Export, CSV).

Columns read: ``email`` (or ``email_address``); ``creation_date`` (consent time);
``subscriber_type`` (or ``type``): ``regular``, ``premium``, ``gifted``, ``trialed``,
``churning``, ``past_due``, ``unpaid``, ``paused`` — active; ``unactivated`` — never
confirmed (pending); ``unsubscribed`` and ``removed`` — unsubscribed; ``complained``
and ``spammy`` — complained; ``undeliverable`` — bounced; ``tags`` (a list or
comma-separated, become tags, with the subscriber type); ``source`` and
``referrer_url`` (kept as where the sign-up came from). Buttondown confirms new
subscribers by mail unless the writer turned that off: ``unactivated`` rows are the
unconfirmed ones.
"""

from __future__ import annotations

from syndicate.subscribers.importers.rows import ImportedRow, Record, email_of, tag_list, text, when
from syndicate.subscribers.roster import InvalidRow

REQUIRED = ("email|email_address",)

STATUS = {
    "regular": "active",
    "premium": "active",
    "gifted": "active",
    "trialed": "active",
    "churning": "active",
    "past_due": "active",
    "unpaid": "active",
    "paused": "active",
    "unactivated": "pending",
    "unsubscribed": "unsubscribed",
    "removed": "unsubscribed",
    "complained": "complained",
    "spammy": "complained",
    "undeliverable": "bounced",
}


def parse(record: Record) -> ImportedRow:
    """One row of a Buttondown subscribers export."""
    kind = text(record, "subscriber_type", "type").lower() or "regular"
    if kind not in STATUS:
        raise InvalidRow(f"unknown subscriber_type {kind!r} (known: {', '.join(STATUS)})")
    status = STATUS[kind]
    created = when(record, "creation_date")
    return ImportedRow(
        email=email_of(record, "email", "email_address"),
        name=text(record, "name"),
        status=status,
        tags=(*tag_list(text(record, "tags")), kind),
        given_at=created,
        confirmed_at=created if status == "active" else None,
        optin="double" if status == "active" else "",
        origin=text(record, "source", "referrer_url") or "buttondown",
    )
