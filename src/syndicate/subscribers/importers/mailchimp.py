"""Mailchimp: an audience export (Audience → Export audience), one CSV per status:
``subscribed_members_export_*.csv``, ``unsubscribed_members_export_*.csv``,
``cleaned_members_export_*.csv``. Import each file; the status is read from the
columns only the unsubscribed and cleaned files have.

Columns read: ``Email Address``; ``First Name`` and ``Last Name`` (the name);
``OPTIN_TIME`` (consent time), ``OPTIN_IP`` (kept as its /24 or /56 only),
``CONFIRM_TIME`` (set: double opt-in confirmed); ``TIMEZONE`` (used when it is an
IANA name); ``TAGS`` (``"Donor","VIP"``: become tags); ``UNSUB_TIME`` (set:
unsubscribed; ``UNSUB_REASON`` naming abuse or spam: complained); ``CLEAN_TIME``
(set: cleaned, suppressed as bounced). Times are UTC, ``YYYY-MM-DD HH:MM:SS``.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syndicate.subscribers.importers.rows import (
    ImportedRow,
    Record,
    email_of,
    network_of,
    tag_list,
    text,
    when,
)

REQUIRED = ("email address",)


def _status(record: Record) -> str:
    if text(record, "clean_time"):
        return "cleaned"
    if text(record, "unsub_time"):
        reason = text(record, "unsub_reason").lower()
        return "complained" if ("abuse" in reason or "spam" in reason) else "unsubscribed"
    return "active"


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def parse(record: Record) -> ImportedRow:
    """One row of a Mailchimp audience export."""
    name = " ".join(p for p in (text(record, "first name"), text(record, "last name")) if p)
    confirmed = when(record, "confirm_time")
    return ImportedRow(
        email=email_of(record, "email address"),
        name=name,
        status=_status(record),
        timezone=_timezone(text(record, "timezone")) if text(record, "timezone") else "UTC",
        tags=tag_list(text(record, "tags")),
        given_at=when(record, "optin_time"),
        confirmed_at=confirmed,
        status_at=when(record, "unsub_time") or when(record, "clean_time"),
        optin="double" if confirmed else "single",
        origin="mailchimp",
        network=network_of(text(record, "optin_ip")),
    )
