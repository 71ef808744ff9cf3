"""The table of feed items' stored "More from" picks (``related_in_content``).

Defined on the same ``metadata`` as :mod:`syndicate.store.schema`; migration 0010
creates exactly this (and 0019 the reverse table, `feed_pick_targets`).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table

from syndicate.store.schema import UTCDateTime, metadata

# One row per (channel, feed item): the ids of the articles its "More from" list links
# to, in order, chosen once from the articles published before the item. ``item_hash``
# (the item's content hash, and its pins) and ``settings`` (the channel's k and pool)
# say what the picks were computed for: while both still match and every pick is still
# allowed, the item keeps them, so its bytes never change because newer articles arrived.
feed_item_picks = Table(
    "feed_item_picks",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("article_id", String(512), primary_key=True),
    Column("pick_ids", JSON, nullable=False),
    Column("item_hash", String(64), nullable=False),
    Column("settings", String(64), nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
)

# The reverse of ``pick_ids`` (migration 0019): which of a channel's items link to an
# article, so a build told that an article changed re-checks only those items' picks
# instead of reading every stored row. Kept in step by store/feedpicks.py.
feed_pick_targets = Table(
    "feed_pick_targets",
    metadata,
    Column("channel", String(64), primary_key=True),
    Column("target_id", String(512), primary_key=True),
    Column("article_id", String(512), primary_key=True),
    # An item's rows, when its picks are chosen again or it goes (migration 0021): the
    # key leads with the target, so without it each was a scan of the channel's rows.
    Index("ix_feed_pick_targets_item", "channel", "article_id"),
)

# A row per item whose stored picks were chosen (migration 0019): what an incremental
# build re-checks besides changed articles, since another build sharing the store (its
# own output folder, or ``--repick``) may choose picks this output has not shown yet.
feed_pick_changes = Table(
    "feed_pick_changes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("article_id", String(512), nullable=False),
)
