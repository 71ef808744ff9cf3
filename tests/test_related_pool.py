"""``Pool.extended`` (related/pool.py): a pool grown by new rows, as the cache's refresh
builds it, equals the pool built whole from the same rows, array for array: ranks, label
codes and vocabularies, story clusters (a new cluster named after an old article
included), section and source codes, statistics."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from scipy import sparse

from syndicate.related.pool import Facts, FactsBuilder, Pool, TermRows
from syndicate.related.terms import Terms

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WORDS = ["harbour", "Energy", "trade", "AI", "music", "space", "Ölpreis", "zebra", "aardvark"]
SECTIONS = ["World", "world", "", "Economy", "Arts", "Zoo", "Aardvarks"]
SOURCES = ["desk", "wire", "agency", "blog", "zine"]


def rows(rng: random.Random, start: int, count: int, ids: list[str]) -> list[dict[str, Any]]:
    """``count`` random rows numbered from ``start``; some join the story of an earlier
    id (``ids``), some of a later one, some are their own."""
    out = []
    for n in range(start, start + count):
        story = ""
        roll = rng.random()
        if roll < 0.3 and ids:
            story = rng.choice(ids)  # joins (or names) the story of an earlier article
        elif roll < 0.4:
            story = f"cluster-{rng.randrange(5)}"
        out.append(
            {
                "id": f"tag:x,2026:{rng.choice('abcdefghij')}{n:05d}",
                "source": rng.choice(SOURCES[: 3 + n % 3]),
                "section": rng.choice(SECTIONS[: 3 + n % 5]),
                "tags": rng.sample(WORDS[: 4 + n % 6], rng.randrange(4)),
                "authors": rng.sample(
                    ["Ana", "Li", "Zoë", "Bo", "Al"][: 2 + n % 4], rng.randrange(3)
                ),
                "published_at": T0 + timedelta(hours=rng.randrange(1000)),
                "story": story,
                "related_exclude": rng.random() < 0.1,
                "terms": Terms(
                    np.array(sorted(rng.sample(range(1, 400), rng.randrange(1, 12))), np.uint32),
                    np.array([rng.choice([1.0, 2.0, 0.5]) for _ in range(12)], np.float32),
                    float(rng.randrange(5, 80)),
                ),
            }
        )
        ids.append(out[-1]["id"])
    return out


def facts(of: list[dict[str, Any]]) -> Facts:
    builder = FactsBuilder()
    for r in of:
        builder.add(
            r["id"],
            r["source"],
            r["section"],
            r["tags"],
            r["authors"],
            r["published_at"],
            r["story"],
            r["related_exclude"],
        )
    return builder.build()


def term_rows(of: list[dict[str, Any]]) -> TermRows:
    return TermRows.of(
        [
            Terms(r["terms"].ids, r["terms"].counts[: len(r["terms"].ids)], r["terms"].length)
            for r in of
        ]
    )


def assert_same(a: Any, b: Any, name: str) -> None:
    if isinstance(a, sparse.spmatrix | sparse.sparray):
        assert a.shape == b.shape, name
        for part in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(a, part), getattr(b, part), err_msg=name)
            assert getattr(a, part).dtype == getattr(b, part).dtype, name
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert a.dtype == b.dtype, name
    else:
        assert a == b, name


ATTRIBUTES = [
    "ids",
    "position",
    "rank",
    "ordered",
    "matrix",
    "section_code",
    "section_weight",
    "sections",
    "tag_vocab",
    "tags",
    "tag_weight",
    "author_vocab",
    "authors",
    "tags_t",
    "authors_t",
    "published",
    "story_code",
    "stories",
    "source_code",
    "sources",
    "excluded",
]


@pytest.mark.parametrize("seed", range(12))
def test_an_extended_pool_is_the_pool_built_whole(seed: int) -> None:
    rng = random.Random(seed)
    ids: list[str] = []
    first = rows(rng, 0, rng.randrange(1, 40), ids)
    pool = Pool(facts(first), term_rows(first))
    everything = list(first)
    for _ in range(4):  # grown several times, as refreshes do
        more = rows(rng, len(everything), rng.randrange(1, 6), ids)
        if seed % 3 == 0:  # a new cluster named after an old article of its own story
            lone = [r["id"] for r in everything if not r["story"]]
            if lone:
                more[0]["story"] = rng.choice(lone)
        everything += more
        pool = Pool.extended(pool, pool.facts.then(facts(more)), pool.rows.then(term_rows(more)))
        whole = Pool(facts(everything), term_rows(everything))
        for name in ATTRIBUTES:
            assert_same(getattr(pool, name), getattr(whole, name), name)
        assert_same(pool.space.idf, whole.space.idf, "idf")
        assert_same(pool.space.df, whole.space.df, "df")  # counted on from the old pool's


def test_an_extended_pool_leaves_the_old_one_as_it_was() -> None:
    rng = random.Random(7)
    ids: list[str] = []
    first = rows(rng, 0, 20, ids)
    old = Pool(facts(first), term_rows(first))
    before = {name: getattr(old, name) for name in ("rank", "sections", "stories", "sources")}
    position, ordered = dict(old.position), list(old.ordered)
    more = rows(rng, 20, 5, ids)
    Pool.extended(old, old.facts.then(facts(more)), old.rows.then(term_rows(more)))
    assert old.position == position and old.ordered == ordered
    for name, value in before.items():
        assert getattr(old, name) is value


@pytest.mark.parametrize("new_features", [False, True])
def test_rows_followed_by_more_are_the_rows_built_whole(new_features: bool) -> None:
    # A refresh's new rows mostly reuse the pool's features (their ids are kept as they
    # are); a new feature renumbers the pool's ids around it.
    rng = random.Random(3)
    first = rows(rng, 0, 30, [])
    more = rows(rng, 30, 3, [])
    used = {int(i) for r in first for i in r["terms"].ids}
    for n, r in enumerate(more):
        ids = sorted(used)[n::7][:5] + ([1000 + n, 401 + 2 * n] if new_features else [])
        r["terms"] = Terms(np.array(sorted(ids), np.uint32), r["terms"].counts, 20.0)
    old = term_rows(first).compacted()
    joined = old.then(term_rows(more))
    whole = term_rows(first + more).compacted()
    assert (joined.features is old.features) is not new_features
    for part in ("indptr", "indices", "counts", "lengths", "features"):
        assert_same(getattr(joined, part), getattr(whole, part), part)
