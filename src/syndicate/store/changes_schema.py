"""The change log of the ``articles`` table (what an incremental feed build reads).

Defined on the same ``metadata`` as :mod:`syndicate.store.schema`; migration 0019
creates exactly this, and the triggers that fill it (:data:`TRIGGERS`).
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Integer, String, Table

from syndicate.store.schema import UTCDateTime, metadata

# One row per insert, update or delete of an article, written by a trigger in the same
# transaction (so every writer is covered, an operator's SQL included). ``seq`` orders
# the changes; the ``old_*`` columns are the row as it was before the change (NULL, and
# ``old_present`` false, for an insert): where the article sat in each channel, so a
# build can tell which of its documents the change touches without reading the archive.
article_changes = Table(
    "article_changes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("article_id", String(512), nullable=False),
    Column("old_present", Boolean, nullable=False),
    Column("old_published_at", UTCDateTime, nullable=True),
    Column("old_section", String(200), nullable=True),
    Column("old_source", String(64), nullable=True),
    Column("old_tags", JSON, nullable=True),
    Column("old_authors", JSON, nullable=True),
)

# The trigger names (both dialects); the store checks they exist before trusting the log.
TRIGGERS = ("article_changes_insert", "article_changes_update", "article_changes_delete")
