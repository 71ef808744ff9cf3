"""The table of articles' term vectors for "More from" ranking (``related/``).

Defined on the same ``metadata`` as :mod:`syndicate.store.schema`; migration 0013
creates exactly this. One row per article: its hashed term ids and weighted counts
(``related/terms.py``), the few fields ranking reads besides (so an index of the whole
archive never loads an article's text), and what it was computed from
(``content_hash``, ``version``) so a changed article or a new term format is noticed.
``indexed_at`` is when the row was written: each process's in-memory index reads only
rows written since its last look. Migration 0013 also indexes ``articles``' first-seen
and updated times (declared in :mod:`syndicate.store.schema`): the per-ranking check
for changed articles is an index probe.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)

from syndicate.store.schema import UTCDateTime, metadata

related_terms = Table(
    "related_terms",
    metadata,
    Column("id", String(512), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("section", String(200), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("authors", JSON, nullable=False),
    Column("published_at", UTCDateTime, nullable=False),
    Column("story", String(512), nullable=False),
    Column("related_exclude", Boolean, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("length", Float, nullable=False),
    Column("term_ids", LargeBinary, nullable=False),  # uint32, little-endian
    Column("term_counts", LargeBinary, nullable=False),  # float32, little-endian
    Column("indexed_at", UTCDateTime, nullable=False),
    Index("ix_related_terms_indexed_at", "indexed_at"),
)

# The token of each related index snapshot saved of this store (``related/snapshot.py``),
# by the snapshot file's name: a process uses a snapshot only while the store still
# holds its token, so a store restored from a backup (which holds an older token, or
# none) or another store at the same URL never takes a snapshot that is not its own.
# Migration 0020 creates it.
related_snapshots = Table(
    "related_snapshots",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("token", String(64), nullable=False),
    Column("saved_at", UTCDateTime, nullable=False),
)

# The cache's cheap "did articles change?" look (``articles_state``) reads these two
# maxima on every ranking: indexed, each is one index probe instead of a table scan.
