"""The landing page, Today: per channel the next editions (slot, status with its reason,
stories); sources' health; recent failures and paused channels; subscribers by status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syndicate.config import ChannelConfig
from syndicate.digest.slots import ON_NEW, next_slot
from syndicate.models import Article
from syndicate.store import Store
from syndicate.store.editions import FROZEN, EditionRecord, articles_by_ids, list_editions
from syndicate.store.outbox import Outbox
from syndicate.store.oversight import Progress, newest_by_source, progress, recent_failures
from syndicate.store.reviews import review_of
from syndicate.store.subscribers import SubscriberStore
from syndicate.web.console.auth import Call, guarded
from syndicate.web.console.pages import page
from syndicate.web.console.services import ConsoleServices

SHOWN_PER_CHANNEL = 3


@dataclass(frozen=True)
class EditionView:
    """An edition as Today and the edition page show it."""

    record: EditionRecord
    state: str  # draft | held | approved | sending | sent | ready | missed | cancelled
    reason: str
    stories: list[Article]
    progress: Progress
    picks: list[Article]


def state_of(record: EditionRecord, done: Progress) -> str:
    """What to call an edition: its review status, or, once frozen, how far it got."""
    if record.status in FROZEN and done.total:
        return "sending" if done.waiting else "sent"
    return record.status


def edition_view(store: Store, record: EditionRecord) -> EditionView:
    """The view of one edition (its stories and delivery progress read)."""
    done = progress(store, record.id)
    return EditionView(
        record,
        state_of(record, done),
        review_of(store, record.id).reason,
        articles_by_ids(store, record.article_ids),
        done,
        articles_by_ids(store, record.related_ids),
    )


@dataclass(frozen=True)
class ChannelView:
    channel: ChannelConfig
    editions: list[EditionView]
    next_slot: datetime | None


def channel_view(store: Store, channel: ChannelConfig, now: datetime) -> ChannelView:
    """The channel's editions from the last day on, newest first, and its next slot."""
    recent = [e for e in list_editions(store, channel.name) if e.slot >= now - timedelta(days=1)][
        :SHOWN_PER_CHANNEL
    ]
    upcoming = None
    if channel.digest.enabled and channel.digest.schedule != ON_NEW:
        upcoming = next_slot(channel.digest, now)
    return ChannelView(channel, [edition_view(store, r) for r in recent], upcoming)


def routes(services: ConsoleServices) -> list[BaseRoute]:
    """``/`` (Today)."""

    def today(call: Call) -> Response:
        store = services.store
        now = services.clock()
        channels = [channel_view(store, c, now) for c in services.channels().values()]
        states = store.list_source_states()
        sources = [(src, *states.get(src.name, (None, None))) for src in services.settings.sources]
        return page(
            "today.html",
            site=services.site,
            title="Today",
            call=call,
            prefix=services.prefix,
            channels=channels,
            sources=sources,
            newest=newest_by_source(store),
            failures=recent_failures(store),
            paused=Outbox(store).paused(),
            subscribers=SubscriberStore(store).counts(),
            now=now,
        )

    return [Route("/", guarded(services, today), methods=["GET"])]
