"""The table of feed items' rendered fragments (render once, splice ever after).

Defined on the same ``metadata`` as :mod:`syndicate.store.schema`; migration 0014
creates exactly this.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, LargeBinary, String, Table

from syndicate.store.schema import metadata

# One row per (channel, format, feed item): the item's bytes as they appear inside a
# document (an RSS <item>, an Atom <entry>, a JSON Feed item object), and ``input_hash``,
# a hash of everything those bytes depend on (the article's key, its "More from" links,
# the channel's item settings, the renderer's code). A row whose hash no longer matches
# is rendered again; the hash names no channel, so another channel's row with the same
# hash is as good (feeds.fragments).
feed_fragments = Table(
    "feed_fragments",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("format", String(16), primary_key=True),
    Column("article_id", String(512), primary_key=True),
    Column("input_hash", String(64), nullable=False),
    Column("fragment", LargeBinary, nullable=False),
    # Reading a document's items: by article id, whatever the channel (see above).
    Index("ix_feed_fragments_article_id", "article_id"),
)
