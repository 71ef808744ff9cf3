"""The shortcuts of the batched feed picks (``related/before.py``) change no pick.

Each test drives one of them where it could go wrong and compares with the per-item
path (``feeds.picks._pick_before_per_item``), on a site pool and a channel pool: blocks
and parts split anywhere, items in any order, stories of many words next to short ones
(the BM25 blend on some rows only), the age decay counted only near the ranking's head
(and a walk that goes past the head), weights that void the decay's bounds, no
feedback, no blend.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from syndicate.feeds.picks import pick_before
from syndicate.models import Article
from syndicate.related import before
from syndicate.related import columns as member_columns
from syndicate.related.ranking import RelatedIndex, RelatedWeights, _ranked, decay
from syndicate.related.terms import MAX_TERMS
from tests import test_related_before as base
from tests.digest.factory import T0, article


@pytest.fixture(params=["site pool", "channel pool"], autouse=True)
def pool(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(base, "CHANNEL_POOL", request.param == "channel pool")
    return str(request.param)


@pytest.fixture
def articles() -> list[Article]:
    return base.realistic(300, seed=23)


def reweighted(index: RelatedIndex, **weights: float) -> RelatedIndex:
    return RelatedIndex.over(
        index.pool, index.load, replace(index.weights, **weights), members=index.members
    )


@pytest.mark.parametrize(
    ("product_cells", "block_cells"), [(1, 1), (1 << 22, 1), (1 << 22, 3000), (2000, 1 << 20)]
)
def test_blocks_and_parts_split_anywhere(
    articles: list[Article], monkeypatch: pytest.MonkeyPatch, product_cells: int, block_cells: int
) -> None:
    monkeypatch.setattr(before, "PRODUCT_CELLS", product_cells)
    monkeypatch.setattr(before, "BLOCK_CELLS", block_cells)
    monkeypatch.setattr(member_columns, "CHUNK", 7)  # the BM25 maxima over many chunks
    items = sorted(articles, key=lambda a: (a.published_at, a.id))
    base.assert_same(base.index_over(articles), items, 4)


def test_items_in_any_order_keep_their_order(articles: list[Article]) -> None:
    items = base.items_of(articles)
    random.Random(8).shuffle(items)
    got = base.assert_same(base.index_over(articles), items, 4)
    assert list(got) == [a.id for a in items]


def test_stories_of_many_words_next_to_short_ones(articles: list[Article]) -> None:
    # A story filling its term budget gets no BM25 blend; in one part with short ones.
    long_words = " ".join(f"word{n}x" for n in range(MAX_TERMS + 20))
    mixed = [
        replace(a, body_html=f"<p>{a.body_html[3:-4]} {long_words}</p>") if n % 3 == 0 else a
        for n, a in enumerate(articles)
    ]
    index = base.index_over(mixed)
    items = base.items_of(mixed)
    vectors = index._vectors(items)
    assert (np.diff(vectors.indptr) >= MAX_TERMS).any()
    assert (np.diff(vectors.indptr) < MAX_TERMS).any()
    base.assert_same(index, items, 4)


@pytest.mark.parametrize(
    "weights",
    [
        {"feedback": 0.0},  # no neighbours: the plain cosine is the text signal
        {"query": 0.0},  # no BM25 blend anywhere
        {"recency": 0.0},
        {"recency": 0.6, "half_life_days": 2.0},  # the decay reorders a lot
        {"recency": 1.5},  # a decay below 0: no bound holds, every score is exact
        {"author": -0.4, "section": -0.2},  # sums below 0: no bound holds either
    ],
)
def test_other_weights(articles: list[Article], weights: dict[str, float]) -> None:
    index = reweighted(base.index_over(articles), **weights)
    base.assert_same(index, base.items_of(articles), 4)


def spy_decays(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of columns each age decay of the walk is counted over."""
    sizes: list[int] = []
    decay: Callable[..., np.ndarray] = before.decay

    def counted(weights: object, moment: object, published: np.ndarray) -> np.ndarray:
        sizes.append(published.size)
        return decay(weights, moment, published)

    monkeypatch.setattr(before, "decay", counted)
    return sizes


STORY = {"title": "Harbour strike", "dek": "Cranes idle.", "body_html": "<p>dockers quay wages</p>"}


def crowd(close: dict[str, str], count: int = 150) -> list[Article]:
    """``count`` articles like ``close`` (``{n}`` in its body: the article's number), 400
    others sharing a word with the story (some a tag), and the story last."""
    near = [
        article(
            n, **{**close, "body_html": close["body_html"].replace("{n}", f"{n}" * (n % 5 + 1))}
        )  # type: ignore[arg-type]
        for n in range(count)
    ]
    others = [
        article(
            200 + n,
            title=f"Other {n}",
            body_html=f"<p>dockers {' '.join(f'own{n}w{i}' for i in range(n % 7 + 3))}</p>",
            published_at=T0 + timedelta(hours=n % 90),
            tags=("diplomacy",) if n % 2 else (),
        )
        for n in range(400)
    ]
    story = article(999, published_at=T0 + timedelta(hours=151), **STORY)  # type: ignore[arg-type]
    return [*near, *others, story]


# The default decay, and one that reorders much more (a column's score may be above one
# of a larger sum): the head is the same as when every decay is counted.
DECAYS = [{}, {"recency": 0.5, "half_life_days": 0.5}]


@pytest.mark.parametrize("weights", DECAYS)
def test_a_walk_past_the_ranking_head(
    monkeypatch: pytest.MonkeyPatch, weights: dict[str, float]
) -> None:
    # 150 copies of the story fill the ranking's head (16k + 48 = 112 for k = 4) and are
    # all passed over as near-copies: the walk goes on to the rest, ranked exactly.
    *pool, story = crowd(STORY)
    index = reweighted(base.index_over([*pool, story]), **weights)
    sizes = spy_decays(monkeypatch)
    got = base.assert_same(index, [story], 4)
    assert len(got[story.id]) == 4
    assert all(int(pick.rsplit("/", 1)[1]) >= 200 for pick in got[story.id])  # no copy
    members = int(index.members.sum())
    # The head's decay over a few columns, then every candidate's for the rest.
    assert sizes[0] < members // 2 and max(sizes) > members // 2


@pytest.mark.parametrize("weights", DECAYS)
def test_the_decay_is_counted_near_the_head_only(
    monkeypatch: pytest.MonkeyPatch, weights: dict[str, float]
) -> None:
    # 150 articles close to the story (not copies) make its head: their scores are
    # exact, the 400 others' decays are never counted.
    body = "<p>dockers quay wages strike{n} crane{n} union{n} talks{n} {n}</p>"
    *pool, story = crowd({**STORY, "body_html": body, "dek": "More."})
    index = reweighted(base.index_over([*pool, story]), **weights)
    sizes = spy_decays(monkeypatch)
    got = base.assert_same(index, [story], 4)
    assert all(int(pick.rsplit("/", 1)[1]) < 150 for pick in got[story.id])
    assert max(sizes) < int(index.members.sum()) // 2


def test_a_story_alone_or_with_no_member_before_it() -> None:
    lone = article(1)
    index = base.index_over([lone])
    assert base.assert_same(index, [lone], 4) == {lone.id: []}
    # Members only after the item: its prefix is empty, its neighbours are not.
    first, *later = (article(n, published_at=T0 + timedelta(hours=n)) for n in range(30))
    assert pick_before(base.index_over([first, *later]), [first], 4) == {first.id: ()}
    base.assert_same(base.index_over([first, *later]), [first, later[-1]], 4)


@pytest.mark.parametrize("recency", [0.0, 0.02, 0.5, 1.0])
def test_the_bounded_ranking_is_the_ranking_of_the_decayed_scores(recency: float) -> None:
    # Every place in order, past the head too: sums with ties and a wide spread of ages,
    # so the decay moves columns across the head's last place.
    rng = np.random.default_rng(int(recency * 100))
    weights = replace(RelatedWeights(), recency=recency, half_life_days=3.0)
    for case in range(40):
        count = int(rng.integers(1, 900))
        summed = np.round(rng.gamma(1.0, 0.1, count), 3 if case % 2 else 9)
        summed[rng.random(count) < 0.3] *= 0.2  # a long tail below the head
        columns = SimpleNamespace(
            published=rng.uniform(0, 30 * 86400.0, count), rank=rng.permutation(count)
        )
        allowed = rng.random(count) < 0.8
        item = article(1, published_at=datetime.fromtimestamp(30 * 86400.0, UTC))
        k = int(rng.integers(1, 5))
        index = SimpleNamespace(weights=weights)
        got = list(before._ranked_decayed(index, columns, summed, allowed, k, item))  # type: ignore[arg-type]
        relevance = summed * decay(weights, 30 * 86400.0, columns.published)
        assert got == list(_ranked(relevance, allowed, k, columns.rank))


@pytest.mark.parametrize("sorted_rows", [True, False])
def test_row_cosines_both_ways_are_the_sparse_products(
    articles: list[Article], sorted_rows: bool
) -> None:
    empty = article(900, title="", dek="", body_html="<p></p>")
    index = base.index_over([*articles, empty])
    matrix = index.pool.matrix
    blank = index.pool.position[empty.id]
    assert matrix[blank].nnz == 0
    assert matrix.has_sorted_indices
    cosines = before.RowCosines(index)
    cosines._sorted = sorted_rows  # (a pool's rows are sorted: the other way is a fallback)
    rows = len(index.pool)
    rng = random.Random(4)
    for a, b in [(rng.randrange(rows), rng.randrange(rows)) for _ in range(300)] + [
        (0, blank),
        (blank, 0),
        (blank, blank),
    ]:
        expected = (matrix[a] @ matrix[[b]].T).max()
        assert cosines(a, b) == expected and cosines(a, b).dtype == expected.dtype


@pytest.mark.parametrize("weights", [{}, {"feedback": 0.0}, {"query": 0.0}])
@pytest.mark.parametrize("long_stories", [False, True])
def test_every_score_is_the_item_alone_s_to_the_bit(
    articles: list[Article], long_stories: bool, weights: dict[str, float]
) -> None:
    # Not only the picks: each cell of a part's scores (before the decay, then with it)
    # is the one the item alone gets over the whole pool.
    if long_stories:
        words = " ".join(f"word{n}x" for n in range(MAX_TERMS + 20))
        articles = [
            replace(a, body_html=f"<p>{a.body_html[3:-4]} {words}</p>") if n % 3 else a
            for n, a in enumerate(articles)
        ]
    index = reweighted(base.index_over(articles), **weights)
    columns = member_columns.Columns(index)
    items = sorted(articles, key=lambda a: a.published_at)[100:160]
    text = member_columns.BlockText(index, columns, items, index._vectors(items))
    for lo, hi, width in before._parts(columns, items):
        part = items[lo:hi]
        summed = before._scores(index, columns, part, text.text(lo, hi, width), width)
        for row, item in enumerate(part):
            moment = item.published_at.timestamp()
            mine = columns.before(moment)  # (its own column, zeroed, is not before it)
            alone = index._signals([item], None, index._vectors([item]))
            expected = alone.combined()[0, columns.rows[:mine]]
            got = summed[row, :mine] * decay(index.weights, moment, columns.published[:mine])
            assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("stories", [1, 2, 3, 5])
def test_member_products_one_vector_at_a_time_or_over_the_used_features(
    articles: list[Article], monkeypatch: pytest.MonkeyPatch, stories: int
) -> None:
    # A few stories are multiplied one vector at a time over every feature; more over
    # the rows restricted to their features: the same float32 sums, to the bit.
    index = base.index_over(articles)
    columns = member_columns.Columns(index)
    items = sorted(articles, key=lambda a: a.published_at)[200 : 200 + stories]
    vectors = index._vectors(items)
    parts = [(vectors, False), (vectors[: max(stories - 1, 1)], True)]
    results = []
    for most in (0, 1 << 10):
        monkeypatch.setattr(member_columns, "MATVEC_MAX", most)
        results.append(member_columns.member_products(columns, parts))
    wide, narrow = results
    assert wide.dtype == narrow.dtype == np.float32
    assert wide.shape == (len(columns), stories + max(stories - 1, 1))
    assert wide.any() and wide.tobytes() == narrow.tobytes()


@pytest.mark.parametrize("prefix", [True, False])
def test_members_that_are_the_pool_s_first_rows(articles: list[Article], prefix: bool) -> None:
    # A site pool whose rows are in publication order (articles stored as they were
    # published): the columns are a slice of the pool's space and its label transposes,
    # nothing copied, and the picks stay the per-item path's. One member fewer at the
    # start (not a prefix) takes the copying path.
    from syndicate.related.pool import Pool

    pool = Pool.of_articles(articles)  # rows in id order, which is publication order here
    assert list(pool.published) == sorted(pool.published)
    members = np.ones(len(pool), dtype=bool)
    members[-40:] = False  # the newest are no members (as the items' own until excludes)
    if not prefix:
        members[0] = False
    by_id = {a.id: a for a in articles}
    index = RelatedIndex.over(pool, lambda ids: [by_id[i] for i in ids], members=members)
    columns = member_columns.Columns(index)
    assert (columns.tags_t is pool.tags_t) is prefix
    assert np.shares_memory(columns.space.matrix.data, pool.matrix.data) is prefix
    items = sorted(articles, key=lambda a: (a.published_at, a.id))[::3]
    base.assert_same(index, items, 4)
