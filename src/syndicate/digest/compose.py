"""Composing an edition: which stories, in what order, with which related items.

An edition of a channel for a slot carries the channel's articles that *arrived* in
``[previous edition's slot, slot)`` (half-open, so every article falls in exactly one
window) — arrival being the later of publication and first being stored, so an upstream
article polled after the previous edition went out is in the next one, not lost between
the two; a draft composed ahead of its slot (the hold window) closes its window when
composed — and were published at most ``first_lookback_hours`` before the previous slot
(a newly added source's old archive is not news). The channel's first edition carries
the articles published in ``[slot - first_lookback_hours, slot)``. Items of the last
``exclude_last_editions`` editions are never repeated, and of several articles of one
story cluster (the same story from several sources) only one is carried.
The lead is the newest ``featured`` article, else the newest; the rest follow newest
first, capped at ``max_items``. Fewer than ``min_items`` new articles → no edition.

Related items come from the store's persistent related index (``related/cache.py``: term
vectors computed once per article, kept in memory per process) restricted to the
candidate pool: every article in the store (``related_pool = "site"``, the default: the
block is "More from <Publication>", and a small channel whose whole archive fits in one
edition would otherwise have nothing to offer) or only the channel's archive
(``"channel"``); either way published before the slot, minus the edition's stories and
every story and shown related item (the first ``related_k``) of the channel's last
``exclude_last_editions`` editions.
With ``related_memory_days`` on, the edition carries ``related_k`` × (1 + :data:`SPARE_PER_PICK`)
candidates in rank order, so that each reader can be shown the first ``related_k`` they
have not received (:mod:`syndicate.digest.picks`).

Composing reads the store and writes nothing; :mod:`syndicate.digest.build` saves.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from syndicate.config import ChannelConfig, DigestSettings, Settings
from syndicate.digest.templates import DigestTemplates
from syndicate.ingest.stories import one_per_story
from syndicate.models import Article
from syndicate.related import related_index
from syndicate.related.semantic import index_inputs
from syndicate.store import Store
from syndicate.store.channels import iter_channel_articles
from syndicate.store.editions import (
    NEVER_SENT,
    OWN,
    EditionRecord,
    articles_by_ids,
    get_edition,
    recent_editions,
)

# Spare "More from" candidates per pick shown: a reader who received up to twice
# related_k of the best candidates still gets a full block.
SPARE_PER_PICK = 2

DEFAULT_SUBJECT = "{{ lead.title }} — {{ date }}"
DEFAULT_PREHEADER = (
    "{{ lead.dek | truncate(110, end='…', leeway=0) }}"
    "{% if articles | length > 1 %} Plus {{ articles | length - 1 }} more "
    "{{ 'story' if articles | length == 2 else 'stories' }}.{% endif %}"
)


@dataclass(frozen=True, slots=True)
class Edition:
    """An edition's content. ``record`` is set when it was read from the store."""

    channel: str
    slot: datetime
    articles: tuple[Article, ...]
    related: tuple[Article, ...]
    subject: str
    preheader: str
    record: EditionRecord | None = None
    cadence: str = OWN  # ``edition``, or ``daily``/``weekly`` for a round-up

    @property
    def lead(self) -> Article:
        """The first story."""
        return self.articles[0]


def candidate_count(digest: DigestSettings) -> int:
    """How many "More from" candidates an edition carries: ``related_k``, plus spares
    for per-reader memory when ``related_memory_days`` is on."""
    spare = digest.related_k * SPARE_PER_PICK if digest.related_memory_days else 0
    return digest.related_k + spare


def local_date(slot: datetime, timezone: str) -> str:
    """The slot's date in the channel's timezone, e.g. "25 November 2026"."""
    local = slot.astimezone(ZoneInfo(timezone))
    return f"{local.day} {local:%B %Y}"


def order_stories(articles: Iterable[Article], limit: int) -> list[Article]:
    """Lead first (newest featured, else newest), the rest newest first, at most ``limit``."""
    newest_first = sorted(articles, key=lambda a: (-a.published_at.timestamp(), a.id))
    if not newest_first:
        return []
    lead = next((a for a in newest_first if a.featured), newest_first[0])
    rest = [a for a in newest_first if a.id != lead.id]
    return [lead, *rest][:limit]


def compose_edition(
    store: Store,
    settings: Settings,
    channel: ChannelConfig,
    slot: datetime,
    templates: DigestTemplates,
    cadence: str = OWN,
) -> Edition | None:
    """The edition of ``channel`` for ``slot``: the stored one if it exists, else a draft.

    ``cadence`` is ``edition`` for the channel's own schedule, or ``daily``/``weekly``
    for a round-up (whose window is the time since the previous round-up of that
    cadence). ``None`` when the window holds fewer than ``min_items`` new articles.
    """
    stored = get_edition(store, channel.name, slot, cadence)
    if stored is not None:
        return load_edition(store, stored)
    digest = channel.digest
    recent = recent_editions(
        store,
        channel.name,
        before=slot,
        limit=max(1, digest.exclude_last_editions),
        cadence=cadence,
    )
    # A missed or cancelled draft sent nothing: its stories are still news.
    recent = [r for r in recent if r.status not in NEVER_SENT]
    lookback = timedelta(hours=digest.first_lookback_hours)
    previous = recent[0].slot if recent else None
    if previous is None:
        window = iter_channel_articles(store, channel, since=slot - lookback, until=slot)
    else:
        # A draft composed ahead of its slot (the hold window) closed its window when it
        # was composed: what arrived after that is this edition's, not lost between two.
        since = min(previous, recent[0].created_at)
        window = iter_channel_articles(
            store, channel, since=previous - lookback, arrived_since=since, arrived_until=slot
        )
    sent: set[str] = set()
    if recent and recent[0].created_at < recent[0].slot:
        sent.update(recent[0].article_ids)  # the early draft's stories are not news again
    told: set[str] = set()  # ids of the stories those editions carried
    for record in recent[: digest.exclude_last_editions]:
        # The picks every reader without a memory hit got; the spares went only to some,
        # and per-reader memory keeps those from coming back to them.
        sent.update(record.article_ids, record.related_ids[: digest.related_k])
        told.update(record.article_ids)
    # Another source's copy of a story already told is not news either.
    told_stories = {a.story_key for a in articles_by_ids(store, sorted(told))}
    # One member per story cluster: the publisher's own, else the newest (ingest/stories.py).
    fresh = one_per_story(
        (a for a in window if a.id not in sent and a.story_key not in told_stories),
        settings.own_sources(),
    )
    if len(fresh) < digest.min_items:
        return None
    stories = order_stories(fresh, digest.max_items)
    related: tuple[Article, ...] = ()
    if digest.related_k:
        index = related_index(store, settings, channel, until=slot)
        # With [related] semantic, the same pool again with its stored embeddings.
        semantic = index_inputs(store, settings, index.member_ids(), stories)
        if semantic:
            index = related_index(store, settings, channel, until=slot, **semantic)
        related = index.pick(stories, candidate_count(digest), exclude=sent, reference=slot)
    subject, preheader = describe(settings, channel, slot, stories, templates)
    return Edition(channel.name, slot, tuple(stories), related, subject, preheader, cadence=cadence)


def describe(
    settings: Settings,
    channel: ChannelConfig,
    slot: datetime,
    stories: list[Article],
    templates: DigestTemplates,
) -> tuple[str, str]:
    """The subject and preheader of a copy carrying ``stories`` (lead first)."""
    digest = channel.digest
    context = subject_context(settings, channel, slot, stories)
    subject = templates.render_string(
        digest.subject or DEFAULT_SUBJECT, context, origin=f"{channel.name}: [digest] subject"
    )
    preheader = templates.render_string(
        digest.preheader or DEFAULT_PREHEADER,
        context,
        origin=f"{channel.name}: [digest] preheader",
    )
    return subject, preheader


def for_sections(
    edition: Edition,
    sections: Collection[str],
    settings: Settings,
    channel: ChannelConfig,
    templates: DigestTemplates,
) -> Edition:
    """The copy of ``edition`` for a reader who chose ``sections`` (a segment): only the
    stories in those sections, in the edition's order, with a subject and preheader that
    describe *those* stories (their lead, their count). ``edition`` itself when every
    story is in those sections, or none is (then the reader gets it all)."""
    wanted = {s.casefold() for s in sections}
    stories = [a for a in edition.articles if a.section.casefold() in wanted]
    if not stories or len(stories) == len(edition.articles):
        return edition
    subject, preheader = describe(settings, channel, edition.slot, stories, templates)
    return replace(edition, articles=tuple(stories), subject=subject, preheader=preheader)


def subject_context(
    settings: Settings, channel: ChannelConfig, slot: datetime, stories: list[Article]
) -> dict[str, Any]:
    """What the subject and preheader templates see."""
    return {
        "lead": stories[0],
        "articles": stories,
        "channel": channel,
        "site": settings.site,
        "date": local_date(slot, channel.digest.timezone),
    }


def load_edition(store: Store, record: EditionRecord) -> Edition:
    """A stored edition with its articles read back (ids no longer stored are dropped)."""
    return Edition(
        channel=record.channel,
        slot=record.slot,
        articles=tuple(articles_by_ids(store, record.article_ids)),
        related=tuple(articles_by_ids(store, record.related_ids)),
        subject=record.subject,
        preheader=record.preheader,
        record=record,
        cadence=record.cadence,
    )
