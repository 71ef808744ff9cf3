"""The archive's store queries (SQLite and PostgreSQL): series, keyset pages, minutes;
a round-up is a series apart from its channel's own editions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syndicate.store import Store
from syndicate.store.archive import archived_channels, edition_in_minute, edition_page
from syndicate.store.editions import OWN, NewEdition, save_edition

SLOT = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)


def save(store: Store, channel: str, slot: datetime, subject: str = "", cadence: str = OWN) -> None:
    save_edition(
        store,
        NewEdition(
            channel=channel,
            slot=slot,
            article_ids=("a",),
            related_ids=(),
            subject=subject or f"{channel} {cadence} {slot:%d %H:%M}",
            preheader="",
            html=f"<p>{channel} {cadence} {slot.isoformat()}</p>",
            text="text\n",
            created_at=slot + timedelta(minutes=5),
            cadence=cadence,
        ),
    )


def days(n: int) -> list[datetime]:
    return [SLOT + timedelta(days=d) for d in range(n)]


def test_archived_channels_counts_each_series(store: Store) -> None:
    assert archived_channels(store) == []
    for slot in days(3):
        save(store, "daily", slot)
    save(store, "daily", SLOT + timedelta(days=6), cadence="weekly")
    save(store, "world", SLOT)
    found = {(a.channel, a.cadence): a for a in archived_channels(store)}
    assert list(found) == [("daily", OWN), ("daily", "weekly"), ("world", OWN)]
    daily = found["daily", OWN]
    assert daily.editions == 3
    assert daily.latest == SLOT + timedelta(days=2)
    assert daily.updated == SLOT + timedelta(days=2, minutes=5)
    assert daily.latest.tzinfo is not None and daily.updated.tzinfo is not None
    assert found["daily", "weekly"].editions == 1
    assert found["daily", "weekly"].latest == SLOT + timedelta(days=6)


def test_pages_walk_older_and_back_newer(store: Store) -> None:
    slots = days(7)
    for slot in slots:
        save(store, "daily", slot)
    save(store, "other", SLOT + timedelta(days=30))  # never part of daily's pages
    save(store, "daily", SLOT + timedelta(days=3), cadence="weekly")  # nor its round-up's
    first = edition_page(store, "daily", limit=3)
    assert [e.slot for e in first.editions] == slots[6:3:-1]
    assert first.newer is None and first.older == slots[4]
    second = edition_page(store, "daily", limit=3, before=first.older)
    assert [e.slot for e in second.editions] == slots[3:0:-1]
    assert second.newer == slots[3] and second.older == slots[1]
    last = edition_page(store, "daily", limit=3, before=second.older)
    assert [e.slot for e in last.editions] == [slots[0]]
    assert last.older is None and last.newer == slots[0]
    back = edition_page(store, "daily", limit=3, after=last.newer)
    assert back == second
    assert edition_page(store, "daily", limit=3, after=back.newer) == first
    summary = first.editions[0]
    assert summary.channel == "daily" and summary.cadence == OWN
    assert summary.subject == f"daily {OWN} {slots[6]:%d %H:%M}"
    weekly = edition_page(store, "daily", limit=3, cadence="weekly")
    assert [e.slot for e in weekly.editions] == [slots[3]] and weekly.older is None
    assert summary.created_at == slots[6] + timedelta(minutes=5)


def test_empty_pages_and_bad_arguments(store: Store) -> None:
    empty = edition_page(store, "daily", limit=5)
    assert empty.editions == () and empty.older is None and empty.newer is None
    save(store, "daily", SLOT)
    assert edition_page(store, "daily", limit=5, before=SLOT).editions == ()
    assert edition_page(store, "daily", limit=0).editions == ()
    with pytest.raises(ValueError, match="not both"):
        edition_page(store, "daily", limit=5, before=SLOT, after=SLOT)


def test_edition_in_minute_finds_the_slot_in_that_minute(store: Store) -> None:
    save(store, "daily", SLOT)
    odd = SLOT + timedelta(days=1, seconds=42)  # a slot not on the minute
    save(store, "daily", odd)
    exact = edition_in_minute(store, "daily", SLOT)
    assert exact is not None and exact.slot == SLOT and exact.html.startswith("<p>daily")
    assert exact.cadence == OWN
    found = edition_in_minute(store, "daily", SLOT + timedelta(days=1))
    assert found is not None and found.slot == odd
    assert edition_in_minute(store, "daily", SLOT + timedelta(minutes=1)) is None
    assert edition_in_minute(store, "world", SLOT) is None


def test_a_roundup_in_the_same_minute_is_its_own_edition(store: Store) -> None:
    save(store, "daily", SLOT)
    assert edition_in_minute(store, "daily", SLOT, "daily") is None
    save(store, "daily", SLOT, cadence="daily")  # both at 07:00, as schedules allow
    own = edition_in_minute(store, "daily", SLOT)
    roundup = edition_in_minute(store, "daily", SLOT, "daily")
    assert own is not None and roundup is not None and own.id != roundup.id
    assert own.cadence == OWN and roundup.cadence == "daily"
