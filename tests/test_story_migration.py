"""Migration 0009 (story clusters) on SQLite and PostgreSQL: an existing archive keeps
its rows, gets empty clusters, and ingest computes the story keys it lacks."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select

from syndicate.ingest.canonical import url_key
from syndicate.ingest.signature import signature
from syndicate.ingest.stories import backfill
from syndicate.store import Store
from syndicate.store.engine import make_engine, migrate
from syndicate.store.schema import articles, metadata

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BODY = (
    "<p>Dockers at the Harbourside container terminal walked out at dawn on Monday, stopping "
    "all twelve cranes in a dispute over a three per cent pay offer.</p>"
)


def old_row(n: int) -> dict[str, object]:
    return {
        "id": f"tag:news.example,2026:desk/{n}",
        "source": "desk",
        "url": f"https://www.news.example/business/harbour-{n}/?utm_source=rss",
        "title": f"Harbour cranes stop as dockers strike, part {n}",
        "dek": "",
        "body_html": BODY,
        "authors": [],
        "section": "Business",
        "tags": [],
        "image": None,
        "featured": False,
        "published_at": T0,
        "updated_at": T0,
        "content_hash": f"h{n}",
        "first_seen_at": T0,
    }


def test_an_archive_upgrades_and_gets_its_story_keys(store_url: str) -> None:
    engine = make_engine(store_url, create=True)
    migrate(engine, "0008")
    # Rows as 0008 knew them: only its columns are named, none of 0009's.
    with engine.begin() as conn:
        conn.execute(insert(articles), [old_row(n) for n in range(3)])
    migrate(engine)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        rows = conn.execute(select(articles).order_by(articles.c.id)).all()
    assert [d for d in diffs if "articles" in repr(d)] == []
    assert [(r.story, r.related_pins, r.related_exclude, r.url_key, r.signature) for r in rows] == [
        ("", [], False, None, None)
    ] * 3

    store = Store(engine)
    stored = store.list_articles()
    assert len(stored) == 3 and all(a.story == "" and a.related_pins == () for a in stored)
    assert backfill(store) == 3
    assert backfill(store) == 0  # done once
    with engine.connect() as conn:
        keyed = {r.id: (r.url_key, r.signature) for r in conn.execute(select(articles))}
    row = old_row(1)
    assert keyed[str(row["id"])] == (
        url_key(str(row["url"])),
        signature(str(row["title"]), "", BODY),
    )
    engine.dispose()
