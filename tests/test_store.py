"""The store contract, run against SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect

from syndicate.ingest.content import clean_entry
from syndicate.models import Author, CleanEntry, Entry, Image, SourceState
from syndicate.store import Store, current_revision, head_revision, open_store

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
AUTH = "meridian.example,2026"


def entry(key: str = "a1", **changes: object) -> CleanEntry:
    fields: dict[str, object] = {
        "key": key,
        "url": f"http://meridian.example/world/{key}/",
        "title": f"Title {key}",
        "dek": "A dek.",
        "body_html": "<p>Body</p>",
        "published_at": T0,
        "authors": (Author("Elena Marsh", "Elena Marsh is a writer."),),
        "section": "World",
        "tags": ("space", "cuba"),
        "image": Image("https://meridian.example/i.jpg", "alt", "credit", "caption", 1200, 800),
    }
    fields.update(changes)
    return clean_entry(
        Entry(**fields),  # type: ignore[arg-type]
        source="newsroom",
        authority=AUTH,
        site_url="https://meridian.example",
    )


def test_migrations_reach_head_and_create_tables(store: Store) -> None:
    assert current_revision(store.engine) == head_revision()
    tables = set(inspect(store.engine).get_table_names())
    assert {"articles", "source_state", "alembic_version"} <= tables
    assert store.upgrade_if_needed() is False


def test_reopening_does_not_migrate_again(store_url: str) -> None:
    first = open_store(store_url)
    first.save_entries([entry()], T0)
    first.close()
    again = open_store(store_url)
    assert again.count_articles() == 1
    again.close()


def test_new_unchanged_and_round_trip(store: Store) -> None:
    counts = store.save_entries([entry("a1"), entry("a2")], T0)
    assert (counts.new, counts.updated, counts.unchanged) == (2, 0, 0)
    counts = store.save_entries([entry("a1"), entry("a2")], T0 + timedelta(hours=1))
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 2)
    got = store.get_article("tag:meridian.example,2026:newsroom/a1")
    assert got is not None
    assert got.title == "Title a1"
    assert got.authors == (Author("Elena Marsh", "Elena Marsh is a writer."),)
    assert got.image == Image(
        "https://meridian.example/i.jpg", "alt", "credit", "caption", 1200, 800
    )
    assert got.tags == ("space", "cuba")
    assert got.published_at == T0 and got.published_at.tzinfo is not None
    assert got.updated_at == T0


def test_edit_updates_in_place_and_moves_updated_at(store: Store) -> None:
    store.save_entries([entry()], T0)
    later = T0 + timedelta(days=2)
    counts = store.save_entries([entry(body_html="<p>Corrected body</p>")], later)
    assert (counts.new, counts.updated) == (0, 1)
    assert store.count_articles() == 1
    got = store.get_article("tag:meridian.example,2026:newsroom/a1")
    assert got is not None
    assert got.body_html == "<p>Corrected body</p>"
    assert got.updated_at == later
    assert got.published_at == T0


def test_source_updated_time_is_used_when_later(store: Store) -> None:
    store.save_entries([entry()], T0)
    stamped = T0 + timedelta(hours=5)
    store.save_entries([entry(title="New title", updated_at=stamped)], T0 + timedelta(days=1))
    got = store.get_article("tag:meridian.example,2026:newsroom/a1")
    assert got is not None and got.updated_at == stamped


def test_url_change_keeps_id_and_updated_at(store: Store) -> None:
    # Absolute URLs inside the article, so only the article's own URL moves: not an edit.
    store.save_entries([entry()], T0)
    moved = entry(url="https://www.meridian.example/world/a1/")
    counts = store.save_entries([moved], T0 + timedelta(days=1))
    assert counts.updated == 1
    (only,) = store.list_articles()
    assert only.id == "tag:meridian.example,2026:newsroom/a1"
    assert only.url == "https://www.meridian.example/world/a1/"
    assert only.updated_at == T0


def test_duplicate_ids_in_one_batch_keep_the_first(store: Store) -> None:
    counts = store.save_entries([entry(title="First"), entry(title="Second")], T0)
    assert counts.new == 1
    (only,) = store.list_articles()
    assert only.title == "First"


def test_list_filters_and_order(store: Store) -> None:
    store.save_entries(
        [
            entry("old", published_at=T0 - timedelta(days=3)),
            entry("new", published_at=T0, section="Science"),
            entry("mid", published_at=T0 - timedelta(days=1)),
        ],
        T0,
    )
    assert [a.id.rsplit("/", 1)[1] for a in store.list_articles()] == ["new", "mid", "old"]
    assert [a.section for a in store.list_articles(section="science")] == ["Science"]
    assert len(store.list_articles(since=T0 - timedelta(days=2))) == 2
    assert len(store.list_articles(limit=1)) == 1


def test_many_articles_in_one_save(store: Store) -> None:
    many = [entry(f"k{i}") for i in range(1200)]  # more than one IN (...) chunk
    assert store.save_entries(many, T0).new == 1200
    assert store.save_entries(many, T0).unchanged == 1200


def test_source_state_round_trip(store: Store) -> None:
    assert store.get_source_state("wire") == SourceState(name="wire")
    state = SourceState(
        name="wire",
        etag='"abc"',
        last_modified="Wed, 25 Nov 2026 10:00:00 GMT",
        next_poll_at=T0,
        consecutive_errors=2,
        last_error="HTTP 500",
        extra={"pages": {"https://x.example/a": {"etag": '"1"'}}},
    )
    store.save_source_state(state, error_at=T0)
    assert store.get_source_state("wire") == state
    store.save_source_state(replace(state, consecutive_errors=0, last_error=None))
    got, error_at = store.list_source_states()["wire"]
    assert got.consecutive_errors == 0 and got.last_error is None and error_at is None
