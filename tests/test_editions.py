"""Editions in the store (SQLite and PostgreSQL): one per (channel, slot), windows, exclusions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from syndicate.delivery.compose import EditionMessages
from syndicate.delivery.dispatch import enqueue_edition
from syndicate.delivery.tokens import TokenSigner
from syndicate.digest import build_edition
from syndicate.digest.compose import order_stories
from syndicate.store import Store, open_store
from syndicate.store.editions import (
    NewEdition,
    get_edition_by_id,
    list_editions,
    previous_edition,
    recent_editions,
    save_edition,
    set_edition_status,
)
from syndicate.store.engine import make_engine, migrate
from syndicate.store.outbox import Outbox
from syndicate.store.schema import editions, metadata
from tests.deliveryhelpers import add_subscribers
from tests.digest.factory import T0, article, channel, settings, store_articles

SLOT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def new(slot: datetime = SLOT, name: str = "daily", ids: tuple[str, ...] = ("a",)) -> NewEdition:
    return NewEdition(
        channel=name,
        slot=slot,
        article_ids=ids,
        related_ids=("r1", "r2"),
        subject="Subject",
        preheader="Preheader",
        html="<html></html>",
        text="text\n",
        created_at=T0,
    )


def test_an_edition_is_unique_per_channel_and_slot(store: Store) -> None:
    first, created = save_edition(store, new())
    assert created and first.id > 0
    again, created_again = save_edition(store, new(ids=("other",)))
    assert not created_again
    assert again == first  # the existing row wins, unchanged
    other, _ = save_edition(store, new(name="weekly"))
    assert other.id != first.id
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(
            insert(editions).values(
                channel="daily",
                slot=SLOT,
                article_ids=[],
                related_ids=[],
                subject="",
                preheader="",
                html="",
                text="",
                status="ready",
                created_at=T0,
            )
        )
    assert len(list_editions(store, "daily")) == 1


def test_edition_queries(store: Store) -> None:
    for day in range(4):
        save_edition(store, new(slot=SLOT + timedelta(days=day)))
    recent = recent_editions(store, "daily", before=SLOT + timedelta(days=3), limit=2)
    assert [r.slot for r in recent] == [SLOT + timedelta(days=2), SLOT + timedelta(days=1)]
    previous = previous_edition(store, "daily", SLOT + timedelta(days=1))
    assert previous is not None and previous.slot == SLOT
    assert previous_edition(store, "daily", SLOT) is None
    assert recent[0].article_ids == ("a",) and recent[0].related_ids == ("r1", "r2")
    set_edition_status(store, recent[0].id, "sent")
    stored = get_edition_by_id(store, recent[0].id)
    assert stored is not None and stored.status == "sent"
    assert stored.slot.tzinfo is not None


def test_building_the_same_slot_twice_returns_the_same_edition(store: Store) -> None:
    store_articles(store, 6)
    config, daily = settings(), channel(first_lookback_hours=24 * 10)
    first = build_edition(store, config, daily, SLOT, now=T0)
    second = build_edition(store, config, daily, SLOT, now=T0)
    assert first is not None and second is not None
    assert first.created and not second.created
    assert first.record is not None and second.record is not None
    assert second.record.id == first.record.id
    assert second.rendered.html == first.rendered.html
    assert len(first.edition.articles) == 6
    assert len(list_editions(store)) == 1


def test_no_edition_with_fewer_than_min_items(store: Store) -> None:
    store_articles(store, 2)
    built = build_edition(store, settings(), channel(min_items=3, first_lookback_hours=240), SLOT)
    assert built is None
    assert list_editions(store) == []


def test_first_edition_looks_back_then_each_edition_takes_what_came_after(store: Store) -> None:
    ids = store_articles(store, 4)  # published T0 .. T0+3h
    config = settings()
    daily = channel(first_lookback_hours=2)  # window [slot-2h, slot)
    slot1 = T0 + timedelta(hours=4)
    first = build_edition(store, config, daily, slot1)
    assert first is not None
    assert {a.id for a in first.edition.articles} == set(ids[2:4])
    later = store_articles(store, 3, start=4)  # T0+4h .. T0+6h
    slot2 = T0 + timedelta(hours=6)
    second = build_edition(store, config, daily, slot2)
    assert second is not None
    # [slot1, slot2): the article at exactly slot1 is in, the one at slot2 waits.
    assert [a.id for a in second.edition.articles] == [later[1], later[0]]
    assert build_edition(store, config, daily, slot2 + timedelta(minutes=1)) is not None


def test_related_items_skip_the_last_editions(store: Store) -> None:
    store_articles(store, 30)  # archive: T0 .. T0+29h
    config = settings()
    daily = channel(first_lookback_hours=1, exclude_last_editions=3)
    seen: set[str] = set()
    for n in range(100, 103):
        store_articles(store, 1, start=n)  # one new story per edition, at T0 + n hours
        at = T0 + timedelta(hours=n + 1)
        built = build_edition(store, config, daily, at)
        assert built is not None and built.record is not None
        # 4 shown by default, and 8 spares for readers who received some of those.
        assert len(built.edition.related) == 12
        related = {a.id for a in built.edition.related[:4]}
        stories = {a.id for a in built.edition.articles}
        assert not related & stories
        assert not related & seen, "a related item repeated within the last 3 editions"
        seen |= related | stories


def test_lead_is_the_newest_featured_then_newest_first_capped() -> None:
    items = [article(n) for n in range(5)]
    items[1] = article(1, featured=True)
    ordered = order_stories(items, 3)
    assert [a.id for a in ordered] == [items[1].id, items[4].id, items[3].id]
    assert [a.id for a in order_stories(items[2:], 10)] == [
        items[4].id,
        items[3].id,
        items[2].id,
    ]
    assert order_stories([], 3) == []


def _message_ids(store: Store, edition_id: int) -> list[str]:
    """The Message-ID of the edition's first delivery as built by two separate sender
    processes (the second one resending it after the first crashed)."""
    claimed = Outbox(store).claim("t", now=SLOT, lease=timedelta(minutes=5), limit=1)
    assert claimed and claimed[0].edition_id == edition_id
    config = settings(tag_authority="news.example,2026")
    found = []
    for _ in range(2):
        messages = EditionMessages(
            store, config, {"daily": channel()}, tokens=TokenSigner("k" * 32)
        )
        found.append(messages.message(claimed[0], SLOT).message_id)
    return found


def _send_first_edition(url: str) -> tuple[str, str]:
    """In the store at ``url``: one edition, one subscriber; :func:`_message_ids`."""
    opened = open_store(url)
    try:
        store_articles(opened, 3)
        daily = channel(first_lookback_hours=24 * 10)
        built = build_edition(opened, settings(), daily, SLOT, now=T0)
        assert built is not None and built.record is not None
        add_subscribers(opened, 1, channel_name="daily")
        enqueue_edition(opened, daily, built.record, SLOT)
        first, again = _message_ids(opened, built.record.id)
        return first, again
    finally:
        opened.close()


def test_message_ids_differ_across_stores_and_hold_across_resends(tmp_path: Path) -> None:
    first, resent = _send_first_edition(f"sqlite:///{tmp_path / 'a.db'}")
    assert first == resent  # the same delivery built again keeps its Message-ID
    # A rebuilt database (or a second install with the same tag_authority) composes the
    # "same" edition: same edition id, subscriber id, channel and authority.
    other, _ = _send_first_edition(f"sqlite:///{tmp_path / 'b.db'}")
    assert other != first
    assert first.endswith("@localhost>") and other.endswith("@localhost>")


def test_each_edition_has_its_own_random_salt(store: Store) -> None:
    one, _ = save_edition(store, new())
    two, _ = save_edition(store, new(slot=SLOT + timedelta(days=1)))
    assert len(one.message_salt) >= 16 and len(two.message_salt) >= 16
    assert one.message_salt != two.message_salt
    stored = get_edition_by_id(store, one.id)
    assert stored is not None and stored.message_salt == one.message_salt


def test_migration_gives_existing_editions_distinct_salts(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0007")
    row = {
        "channel": "daily",
        "article_ids": [],
        "related_ids": [],
        "subject": "s",
        "preheader": "p",
        "html": "h",
        "text": "t",
        "status": "ready",
        "created_at": T0,
    }
    with engine.begin() as conn:
        for day in range(3):
            conn.execute(
                text(
                    "INSERT INTO editions (channel, slot, article_ids, related_ids, subject,"
                    " preheader, html, text, status, created_at) VALUES (:channel, :slot,"
                    " '[]', '[]', :subject, :preheader, :html, :text, :status, :created_at)"
                ),
                {**row, "slot": SLOT + timedelta(days=day)},
            )
    migrate(engine)
    upgraded = Store(engine)
    salts = [record.message_salt for record in list_editions(upgraded)]
    assert len(salts) == 3 and len(set(salts)) == 3 and all(len(s) >= 16 for s in salts)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diffs if "editions" in repr(d)] == []
    engine.dispose()


def test_another_sources_copy_of_a_story_already_sent_stays_out_of_the_next_edition(
    store: Store,
) -> None:
    from syndicate.ingest.content import clean_entry
    from syndicate.models import Entry

    ids = store_articles(store, 4)  # published T0 .. T0+3h
    config = settings()
    daily = channel(first_lookback_hours=2)
    first = build_edition(store, config, daily, T0 + timedelta(hours=4))
    assert first is not None and ids[3] in {a.id for a in first.edition.articles}
    # The wire's copy of story 3 arrives after the edition went out; so does a new story.
    copy = clean_entry(
        Entry(
            key="wire-3",
            url="https://wire.example/3",
            title="Story number 3, from the wire",
            body_html="<p>Body of story 3 about harbours.</p>",
            published_at=T0 + timedelta(hours=4, minutes=30),
        ),
        source="wire",
        authority="news.example,2026",
        site_url="https://wire.example",
    )
    store.save_entries([copy], now=T0 + timedelta(hours=4, minutes=30), stories={copy.id: ids[3]})
    (new_story,) = store_articles(store, 1, start=5)  # T0+5h
    second = build_edition(store, config, daily, T0 + timedelta(hours=6))
    assert second is not None
    assert [a.id for a in second.edition.articles] == [new_story]
