"""The welcome edition a subscriber gets on confirming (``[digest] welcome``).

* ``latest``: a copy of the channel's most recent own edition — the same stories and
  "More from" candidates — rendered with the normal templates and a welcome line, and
  stored as an edition of cadence ``welcome`` at the same slot, so everyone who confirms
  before the next edition shares one render.
* ``start_here``: a selection stored as cadence ``start_here`` at the day's slot (UTC
  midnight): the channel's ``welcome_pins`` in order, else the best of the channel's
  own archive by the "More from" ranking, taken as related to its newest stories, in
  turns from each of the channel's sections (:func:`by_section`). A subscriber who
  chose sections is sent only those sections' stories, as with any edition (the
  dispatcher's per-segment copy).
* ``off``: nothing.

Building writes only the edition; queueing it for one subscriber, exactly once, is
:func:`syndicate.store.welcomes.enqueue_welcome`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from syndicate.config import ChannelConfig, Settings
from syndicate.digest.build import stored_form
from syndicate.digest.compose import (
    Edition,
    candidate_count,
    describe,
    load_edition,
    order_stories,
)
from syndicate.digest.render import render_edition
from syndicate.digest.templates import DigestTemplates
from syndicate.models import Article
from syndicate.related import RelatedIndex, related_index
from syndicate.store import Store
from syndicate.store.channels import iter_channel_articles
from syndicate.store.editions import EditionRecord, articles_by_ids, get_edition
from syndicate.store.editions import save_edition as save
from syndicate.store.welcomes import START_HERE, WELCOME, latest_edition

ANCHOR_STORIES = 5  # newest stories a "start here" ranking is related to


def build_welcome(
    store: Store,
    settings: Settings,
    channel: ChannelConfig,
    now: datetime,
    templates: DigestTemplates | None = None,
) -> EditionRecord | None:
    """The stored welcome edition of ``channel`` for a subscriber confirming ``now``
    (made and saved on first use), or ``None`` when the channel sends none: ``welcome``
    is ``off``, or there is nothing to welcome with yet (no edition, no article)."""
    mode = channel.digest.welcome
    if mode == "off" or not channel.digest.enabled:
        return None
    if mode == "latest":
        source = latest_edition(store, channel.name, now)
        if source is None:
            return None
        slot, cadence = source.slot, WELCOME
    else:
        day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        slot, cadence = day, START_HERE
    stored = get_edition(store, channel.name, slot, cadence)
    if stored is not None:
        return stored
    templates = templates or DigestTemplates(settings)
    if mode == "latest":
        assert source is not None
        edition = _copy(load_edition(store, source), settings, channel, templates)
    else:
        edition = _start_here(store, settings, channel, slot, templates)
    if edition is None:
        return None
    rendered = render_edition(edition, settings, channel, templates)
    record, _ = save(store, stored_form(channel, slot, edition, rendered, now, cadence))
    return record


def welcome_subject(channel: ChannelConfig, subject: str) -> str:
    """A welcome's subject: says it is a welcome, then what the edition's said."""
    return f"Welcome to {channel.title}: {subject}"


def _copy(
    source: Edition, settings: Settings, channel: ChannelConfig, templates: DigestTemplates
) -> Edition | None:
    """The latest edition as a welcome: its stories and candidates (those still stored)."""
    if not source.articles:
        return None
    stories = list(source.articles)
    subject, preheader = describe(settings, channel, source.slot, stories, templates)
    return replace(
        source,
        record=None,
        cadence=WELCOME,
        subject=welcome_subject(channel, subject),
        preheader=preheader,
    )


def _start_here(
    store: Store,
    settings: Settings,
    channel: ChannelConfig,
    slot: datetime,
    templates: DigestTemplates,
) -> Edition | None:
    """The "start here" selection (module docstring), with its "More from" candidates."""
    digest = channel.digest
    stories = articles_by_ids(store, digest.welcome_pins)[: digest.max_items]
    if not stories:
        # Ranked within the channel's own archive, whatever its "More from" pool.
        own = channel.model_copy(
            update={"digest": digest.model_copy(update={"related_pool": "channel"})}
        )
        recent = iter_channel_articles(store, channel, until=slot)  # newest first
        newest = order_stories(itertools.islice(recent, 50), ANCHOR_STORIES)
        sections = channel.filters.sections
        wanted = digest.max_items * max(1, len(sections))
        ranked = _index(store, settings, own, slot).pick(newest, wanted, reference=slot)
        # The channel's newest stories make up for a ranking short of candidates.
        ids = {a.id for a in ranked}
        stories = by_section(
            [*ranked, *(a for a in newest if a.id not in ids)], sections, digest.max_items
        )
    if not stories:
        return None
    related: tuple[Article, ...] = ()
    if digest.related_k:
        index = _index(store, settings, channel, slot)
        related = index.pick(stories, candidate_count(digest), reference=slot)
    subject, preheader = describe(settings, channel, slot, stories, templates)
    return Edition(
        channel.name,
        slot,
        tuple(stories),
        related,
        welcome_subject(channel, subject),
        preheader,
        cadence=START_HERE,
    )


def by_section(ranked: Sequence[Article], sections: Sequence[str], k: int) -> list[Article]:
    """The first ``k`` of ``ranked`` taken in turns from each of ``sections`` (in rank
    order within each), so that every section has stories in the selection and a reader
    of some sections finds theirs in their copy; ranked order when there is no choice
    of sections."""
    if len(sections) < 2:
        return list(ranked[:k])
    queues = [[a for a in ranked if a.section.casefold() == s.casefold()] for s in sections]
    chosen: list[Article] = []
    for turn in range(k):
        for queue in queues:
            if turn < len(queue) and len(chosen) < k:
                chosen.append(queue[turn])
    return chosen


def _index(
    store: Store, settings: Settings, channel: ChannelConfig, until: datetime
) -> RelatedIndex:
    return related_index(store, settings, channel, until=until)
