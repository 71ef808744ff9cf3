"""The store's tables (SQLAlchemy Core). Alembic migrations create exactly these."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


articles = Table(
    "articles",
    metadata,
    Column("id", String(512), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("dek", Text, nullable=False),
    Column("body_html", Text, nullable=False),
    Column("authors", JSON, nullable=False),
    Column("section", String(200), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("image", JSON, nullable=True),
    Column("featured", Boolean, nullable=False),
    Column("published_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    # Story clusters (migration 0009). ``url_key`` and ``signature`` are what a newer
    # article is compared with (NULL: not computed yet, for rows older than 0009);
    # ``story`` is the id of the cluster's first article, "" when alone. A cluster never
    # changes its id: later articles join it.
    Column("url_key", String(32), nullable=True),
    Column("signature", LargeBinary, nullable=True),
    Column("story", String(512), nullable=False, server_default=""),
    # The editor's "More from" choices (front matter ``related`` and ``related_exclude``).
    Column("related_pins", JSON, nullable=False, server_default="[]"),
    Column("related_exclude", Boolean, nullable=False, server_default=false()),
    Index("ix_articles_published_at", "published_at"),
    Index("ix_articles_section", "section"),
    Index("ix_articles_source", "source"),
    # Migration 0013: the related index's check for changed articles probes these.
    Index("ix_articles_first_seen_at", "first_seen_at"),
    Index("ix_articles_updated_at", "updated_at"),
    Index("ix_articles_url_key", "url_key"),
    Index("ix_articles_story", "story"),
)

source_state = Table(
    "source_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("etag", Text, nullable=True),
    Column("last_modified", Text, nullable=True),
    Column("next_poll_at", UTCDateTime, nullable=True),
    Column("consecutive_errors", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("last_error_at", UTCDateTime, nullable=True),
    Column("last_success_at", UTCDateTime, nullable=True),
    Column("extra", JSON, nullable=False),
)

# Digest editions: one per (channel, schedule slot). ``html`` and ``text`` are the
# compiled parts with per-recipient placeholders still in them, so every recipient of an
# edition gets the same content however long delivery takes (a template or article edit
# mid-send changes nothing), and "view in browser" can serve the stored HTML.
editions = Table(
    "editions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("slot", UTCDateTime, nullable=False),
    Column("article_ids", JSON, nullable=False),
    Column("related_ids", JSON, nullable=False),
    Column("subject", Text, nullable=False),
    Column("preheader", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # "edition" for the channel's own schedule; "daily"/"weekly" for the round-ups made
    # for subscribers who chose that cadence (migration 0004).
    Column("cadence", String(16), nullable=False, server_default="edition"),
    # Random per edition, part of every Message-ID of its messages: ids and subscriber ids
    # restart in a rebuilt database or a second install, the salt does not (migration 0008).
    Column("message_salt", String(32), nullable=False, default=lambda: new_message_salt()),
    UniqueConstraint("channel", "cadence", "slot", name="uq_editions_channel_cadence_slot"),
    # The scheduler's tick looks for editions under review (draft, held) by status and
    # slot: an index, so an idle tick reads none of the archive (migration 0018).
    Index("ix_editions_status_slot", "status", "slot"),
)


def new_message_salt() -> str:
    """A fresh Message-ID salt: 64 random bits in hex."""
    return secrets.token_hex(8)
