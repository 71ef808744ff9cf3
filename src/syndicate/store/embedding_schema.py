"""The table of article embeddings ("More from" with ``[related] semantic = true``).

Defined on the same ``metadata`` as :mod:`syndicate.store.schema`; migration 0012
creates exactly this.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from syndicate.store.schema import UTCDateTime, metadata

# One vector per article: the model that made it, its width, the float32 values
# (little-endian, ``dims`` × 4 bytes) and the article's ``content_hash`` when it was
# embedded. A row whose model or content hash differs from today's is stale: the article
# was edited, or the model changed, and ``syndicate related reindex`` redoes it.
article_embeddings = Table(
    "article_embeddings",
    metadata,
    Column(
        "article_id",
        String(512),
        ForeignKey("articles.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("model", String(64), nullable=False),
    Column("dims", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("embedded_at", UTCDateTime, nullable=False),
    Index("ix_article_embeddings_model", "model"),
)
