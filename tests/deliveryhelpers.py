"""Helpers for delivery tests: an edition, subscribers, a dispatcher on a fake backend."""

from __future__ import annotations

from datetime import UTC, datetime

from syndicate.config import ChannelConfig, DigestSettings, DispatchSettings, Settings
from syndicate.delivery.compose import EditionMessages
from syndicate.delivery.dispatch import Dispatcher
from syndicate.delivery.tokens import TokenSigner
from syndicate.models import Subscription
from syndicate.store import Store
from syndicate.store.editions import EditionRecord, NewEdition, save_edition
from syndicate.store.subscribers import SubscriberStore
from syndicate.testing import FixedClock, RecordingBackend, Script

SLOT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
SECRET = "test-secret-key-0123456789"
HTML = (
    "<html><body><p>Hello %%syn:name%%</p>"
    '<a href="%%syn:unsubscribe_url%%">Unsubscribe</a> '
    '<a href="%%syn:preferences_url%%">Preferences</a></body></html>'
)
TEXT = "Hello %%syn:name%%\nUnsubscribe: %%syn:unsubscribe_url%%\n"


def channel(name: str = "world", schedule: str = "0 7 * * *") -> ChannelConfig:
    return ChannelConfig(
        name=name, title="The Review — World", digest=DigestSettings(schedule=schedule)
    )


def edition(store: Store, name: str = "world", slot: datetime = SLOT) -> EditionRecord:
    record, _ = save_edition(
        store,
        NewEdition(
            channel=name,
            slot=slot,
            article_ids=(),
            related_ids=(),
            subject="Moscow Eyes a Launch Pad… in the Caribbean?",
            preheader="",
            html=HTML,
            text=TEXT,
            created_at=slot,
        ),
    )
    return record


def add_subscribers(
    store: Store,
    count: int,
    *,
    channel_name: str = "world",
    cadence: str = "edition",
    sections: tuple[str, ...] = (),
    start: int = 0,
    now: datetime = SLOT,
) -> list[str]:
    subs = SubscriberStore(store)
    emails = []
    for i in range(start, start + count):
        email = f"reader{i:05d}@example.com"
        subs.upsert(
            email,
            name=f"Reader {i}",
            status="active",
            timezone="UTC",
            subs=[Subscription(channel_name, cadence, sections)],
            now=now,
        )
        emails.append(email)
    return emails


def dispatcher(
    store: Store,
    *,
    script: Script | None = None,
    clock: FixedClock | None = None,
    settings: DispatchSettings | None = None,
    owner: str | None = None,
) -> tuple[Dispatcher, RecordingBackend]:
    backend = RecordingBackend(script)
    instance = Settings()
    messages = EditionMessages(
        store, instance, {"world": channel()}, signer=None, tokens=TokenSigner(SECRET)
    )
    d = Dispatcher(
        store,
        backend,
        messages,
        settings or DispatchSettings(batch_size=10),
        clock=clock or FixedClock(SLOT),
        owner=owner,
    )
    return d, backend
