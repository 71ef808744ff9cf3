"""The editor's console: operators, their sessions, the audit log, and editions' review.

Defined on the same ``metadata`` as :mod:`syndicate.store.schema`; migration 0018
creates exactly this.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from syndicate.store.schema import UTCDateTime, metadata

# People who may sign in to the console. ``password_hash`` is an argon2id PHC string;
# ``failed_signins`` counts wrong passwords in a row, and ``locked_until`` is set when it
# reaches ``[console] lockout_after``.
operators = Table(
    "operators",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("password_changed_at", UTCDateTime, nullable=False),
    Column("failed_signins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UTCDateTime, nullable=True),
    # The channels whose drafts the operator is told of; empty: every channel.
    Column("channels", JSON, nullable=False, server_default="[]"),
    sqlite_autoincrement=True,
)

# Server-side sessions. The cookie holds a random token; only its SHA-256 is stored, so
# a copy of the database signs nobody in. Deleting a row revokes the session.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("operator_id", Integer, ForeignKey("operators.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Index("ix_console_sessions_operator_id", "operator_id"),
)

# Every write made through the console or the operator commands: who, when, what, and
# the state before and after. The operator is kept by email, so the record outlives them.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(320), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text, nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Index("ix_audit_log_at", "at"),
    sqlite_autoincrement=True,
)

# The review of an edition made under a hold window (``[digest] review``/``draft_hours``):
# when its editors were told (once per draft), who decided and why it ended as it did.
# The edition's own ``status`` column holds the state (draft, held, approved, ...).
edition_reviews = Table(
    "edition_reviews",
    metadata,
    Column(
        "edition_id",
        Integer,
        ForeignKey("editions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("notified_at", UTCDateTime, nullable=True),
    Column("decided_by", String(320), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=False, server_default=""),
)
