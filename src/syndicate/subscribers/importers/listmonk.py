"""listmonk: the subscribers export (Subscribers → Export, or ``GET /api/subscribers/export``).

Columns read: ``email``, ``name``, ``status`` (``enabled`` — active; ``blocklisted`` —
unsubscribed from everything, suppressed; ``disabled`` — never mailed by listmonk,
suppressed as unsubscribed), ``created_at`` (consent time), ``updated_at`` (when a
blocklisted or disabled status was set), ``attributes`` (a JSON object; a ``tags``
list in it becomes tags). listmonk's export has no list memberships: map the whole
file to a channel with ``--channel``.
"""

from __future__ import annotations

import json

from syndicate.subscribers.importers.rows import ImportedRow, Record, email_of, text, when
from syndicate.subscribers.roster import InvalidRow

REQUIRED = ("email", "status")

STATUS = {"enabled": "active", "blocklisted": "unsubscribed", "disabled": "unsubscribed"}


def _tags(raw: str) -> tuple[str, ...]:
    try:
        attributes = json.loads(raw) if raw else {}
    except ValueError as err:
        raise InvalidRow(f"column 'attributes': not JSON: {err}") from err
    tags = attributes.get("tags") if isinstance(attributes, dict) else None
    return tuple(str(t) for t in tags) if isinstance(tags, list) else ()


def parse(record: Record) -> ImportedRow:
    """One row of a listmonk subscribers export."""
    kind = text(record, "status").lower()
    if kind not in STATUS:
        raise InvalidRow(f"unknown status {kind!r} (known: {', '.join(STATUS)})")
    status = STATUS[kind]
    return ImportedRow(
        email=email_of(record, "email"),
        name=text(record, "name"),
        status=status,
        tags=_tags(text(record, "attributes")),
        given_at=when(record, "created_at"),
        status_at=when(record, "updated_at") if status != "active" else None,
        origin="listmonk",
    )
