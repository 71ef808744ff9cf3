"""The persistent related index: stored term vectors, the per-process cache, the backfill,
and the embeddings hook."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, select

from syndicate.ingest.content import clean_entry
from syndicate.models import Article, Entry
from syndicate.related.cache import forget_stored_indexes, related_index
from syndicate.related.ranking import RelatedIndex, RelatedWeights
from syndicate.related.sync import sync_terms
from syndicate.store import Store
from syndicate.store.related_schema import related_terms
from syndicate.store.related_terms import terms_count
from syndicate.store.schema import articles
from tests.digest.factory import BASE, T0, article, channel, settings

TOPICS = {
    "harbour": "harbour cranes dockers strike port shipping containers quay",
    "vaccine": "vaccine trial doses immunity clinic patients antibodies nurses",
    "orchestra": "orchestra symphony conductor violin concert premiere cellist score",
}


def entry(n: int, topic: str, extra: str = "") -> Entry:
    words = TOPICS[topic].split()
    # Four of the topic's words and words of its own: related to its topic, not a copy.
    own = " ".join(f"w{n}x{i}" for i in range(8))
    body = " ".join(words[(n + i) % len(words)] for i in range(4)) + " " + own
    return Entry(
        key=f"k{n:03d}",
        url=f"{BASE}/stories/{n:03d}/",
        title=f"{words[n % len(words)].title()} news {n}",
        body_html=f"<p>{body} {extra}</p>",
        published_at=T0 + timedelta(hours=n),
        dek=f"Report {n}.",
        section="",
    )


def save(store: Store, *entries: Entry) -> list[Article]:
    cleaned = [
        clean_entry(e, source="desk", authority="news.example,2026", site_url=BASE) for e in entries
    ]
    store.save_entries(cleaned, now=T0)
    return store.get_articles([c.id for c in cleaned])


def to_orchestra(store: Store) -> None:
    """Article 40 saved again a day later as an orchestra story (its dates kept)."""
    store.save_entries(
        [
            clean_entry(
                replace(entry(40, "orchestra"), body_html=f"<p>{TOPICS['orchestra']}</p>"),
                source="desk",
                authority="news.example,2026",
                site_url=BASE,
            )
        ],
        now=T0 + timedelta(days=1),
    )


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    forget_stored_indexes()


def picks(store: Store, story: Article, k: int = 3) -> tuple[str, ...]:
    index = related_index(store, settings(), channel())
    return tuple(a.id for a in index.pick_per_story([story], k)[story.id])


def fresh_picks(store: Store, story: Article, k: int = 3) -> tuple[str, ...]:
    """What a process that never saw the store before picks, and what an index built
    from the articles themselves picks: both must agree with the warm cache."""
    forget_stored_indexes()
    cold = picks(store, story, k)
    built = RelatedIndex(store.list_articles()).pick_per_story([story], k)[story.id]
    assert cold == tuple(a.id for a in built)
    return cold


def test_the_index_is_built_from_the_stored_vectors_and_matches_a_fresh_build(
    store: Store,
) -> None:
    saved = save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(12)))
    story = saved[0]
    got = picks(store, story)
    assert terms_count(store) == 12
    assert got == fresh_picks(store, story)
    assert all(store.get_article(i).title for i in got)  # full articles come back
    harbour = {a.id for n, a in enumerate(saved) if n and n % 3 == 0}
    assert set(got) == harbour


def test_a_warm_cache_sees_new_changed_and_deleted_articles(store: Store) -> None:
    saved = save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(12)))
    story = saved[0]  # a harbour story
    picks(store, story)  # warm

    # New: an article that is nearly all harbour words comes first.
    (new,) = save(store, entry(40, "harbour", extra=TOPICS["harbour"] * 2))
    got = picks(store, story)
    assert got[0] == new.id
    assert got == fresh_picks(store, story)

    # Changed: the new article turns into an orchestra story and leaves the picks.
    to_orchestra(store)
    sync_terms(store)  # as ingest does after saving (the edit kept updated_at)
    got = picks(store, story)
    assert new.id not in got
    assert got == fresh_picks(store, story)

    # Deleted: the best remaining pick goes away and is never offered again.
    with store.engine.begin() as conn:
        conn.execute(delete(articles).where(articles.c.id == got[0]))
    again = picks(store, story)
    assert got[0] not in again
    assert again == fresh_picks(store, story)
    assert terms_count(store) == store.count_articles()


def test_the_backfill_fills_missing_rows_once_and_redoes_changed_ones(store: Store) -> None:
    save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(7)))
    with store.engine.begin() as conn:
        conn.execute(delete(related_terms))  # a store from before the table existed
    seen: list[tuple[int, int]] = []
    assert sync_terms(store, batch=3, on_progress=lambda d, t: seen.append((d, t))) == 7
    assert seen == [(0, 7), (3, 7), (6, 7), (7, 7)]
    assert terms_count(store) == 7
    assert sync_terms(store) == 0
    save(store, replace(entry(2, "vaccine"), body_html="<p>an edited body</p>"))
    assert sync_terms(store) == 1
    with store.engine.connect() as conn:
        version = conn.execute(select(related_terms.c.version)).scalars().all()
    assert set(version) == {1}


def test_the_channel_pool_and_until_bound_the_candidates(store: Store) -> None:
    saved = save(store, *(entry(n, "harbour") for n in range(6)))
    story = saved[0]
    until = saved[3].published_at
    index = related_index(store, settings(), channel(related_pool="channel"), until)
    got = index.pick_per_story([story], 5)[story.id]
    assert {a.id for a in got} == {a.id for a in saved[1:3]}


# --- the embeddings hook -------------------------------------------------------------------


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_embeddings_add_a_semantic_signal_and_embed_covers_new_stories() -> None:
    story = article(1, title="Alpha", dek="", body_html="<p>one</p>", tags=(), section="")
    near = article(2, title="Beta", dek="", body_html="<p>two</p>", tags=(), section="")
    far = article(3, title="Gamma", dek="", body_html="<p>three</p>", tags=(), section="")
    bare = article(4, title="Delta", dek="", body_html="<p>four</p>", tags=(), section="")
    vectors = {near.id: unit(1, 0), far.id: unit(0, 1)}
    asked: list[list[str]] = []

    def embed(stories: list[Article]) -> np.ndarray:
        asked.append([s.id for s in stories])
        return np.stack([unit(1, 0.1) for _ in stories])

    # The plain cosine (the story's own embedding, not widened by its neighbours').
    plain = RelatedWeights(semantic_feedback=0.0)
    index = RelatedIndex([near, far, bare], plain, embeddings=vectors, embed=embed)
    signals = index.signals([story], reference=T0)
    by_id = dict(zip([c.id for c in index.candidates], signals.semantic[0], strict=True))
    assert asked == [[story.id]]
    assert by_id[near.id] == pytest.approx(float(unit(1, 0.1) @ unit(1, 0)), rel=1e-5)
    assert by_id[far.id] < by_id[near.id]
    assert by_id[bare.id] == 0.0  # no embedding: no semantic part
    assert index.pick_per_story([story], 1)[story.id] == (near,)
    half = RelatedIndex(
        [near, far], RelatedWeights(semantic=0.5, semantic_feedback=0.0), embeddings=vectors
    )
    near_half = half.signals([replace(story, id=near.id)], reference=T0).semantic[0]
    assert near_half.tolist() == pytest.approx([0.5, 0.0])
    without = RelatedIndex([near, far, bare]).signals([story], reference=T0)
    assert not without.semantic.any()


def test_a_warm_ranking_with_nothing_changed_does_not_sync(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import syndicate.related.cache as cache

    save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(6)))
    story = store.list_articles()[0]
    calls: list[int] = []
    monkeypatch.setattr(cache, "sync_terms", lambda s, **kw: calls.append(sync_terms(s, **kw)))
    picks(store, story)  # cold: the first look syncs
    picks(store, story)  # warm, nothing written: no stale-row query
    assert len(calls) == 1
    (new,) = save(store, entry(30, "harbour"))  # a new article: the next look syncs
    assert new.id in picks(store, story, k=5)
    assert len(calls) == 2


def test_a_warm_look_checks_only_the_articles_the_change_log_names(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the first look, a sync checks the articles changed since the last one
    (store/changes.py), not the whole table; an edit that keeps ``updated_at`` below
    the newest (no sign in the articles' count or stamps) is seen all the same."""
    import syndicate.related.sync as sync

    saved = save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(12)))
    story = saved[0]
    checked: list[set[str] | None] = []
    stale = sync.stale_article_ids

    def spy(
        store: Store,
        version: int,
        limit: int | None = None,
        *,
        among: Collection[str] | None = None,
    ) -> list[str]:
        checked.append(None if among is None else set(among))
        return stale(store, version, limit, among=among)

    monkeypatch.setattr(sync, "stale_article_ids", spy)
    picks(store, story)
    assert checked == [None]  # the first look: the whole table
    (new,) = save(store, entry(40, "harbour", extra=TOPICS["harbour"] * 2))
    assert picks(store, story)[0] == new.id
    # PostgreSQL re-reads the last 1,000 changes (store/changes.py): more ids, no scan.
    replayed = store.engine.dialect.name == "postgresql"
    assert checked[1] is not None and new.id in checked[1]
    assert replayed or checked[1:] == [{new.id}]
    # The new article turns into an orchestra story, saved with its old stamps.
    to_orchestra(store)
    got = picks(store, story)  # no sync_terms by hand, as ingest would do
    assert new.id not in got
    assert checked[2] is not None and new.id in checked[2]
    assert replayed or checked[2:] == [{new.id}]
    assert got == fresh_picks(store, story)


def test_a_warm_look_reads_whole_only_the_rows_it_lacks(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row here is within the re-read overlap behind the newest (as after a bulk
    index): a warm look reads their stamps, and whole only the new article's row."""
    import syndicate.related.cache as cache

    saved = save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(12)))
    story = saved[0]
    whole: list[list[str]] = []
    terms_of = cache.terms_of

    def spy(store: Store, ids: list[str]) -> Any:
        whole.append(list(ids))
        return terms_of(store, ids)

    monkeypatch.setattr(cache, "terms_of", spy)
    picks(store, story)
    assert whole == []  # the first look reads the table (iter_terms)
    (new,) = save(store, entry(40, "harbour", extra=TOPICS["harbour"] * 2))
    assert picks(store, story)[0] == new.id
    assert whole == [[new.id]]
