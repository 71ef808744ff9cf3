"""Feed items' picks chosen in batched passes are the per-item path's, pick for pick.

``RelatedIndex.pick_each_before`` (``related/before.py``) must give every item exactly
what asking the index about that item alone, every member not older than it excluded,
gives (``feeds.picks._pick_before_per_item``, the definition): same picks, same order.
Compared on a pool with story clusters, related_exclude articles, a source whose
articles may not be picks, near-copies, pins, equal timestamps and ties of equal score,
through the stored index as the feed builder uses it, and on the edge cases.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from syndicate.feeds.picks import _pick_before_per_item, pick_before
from syndicate.ingest.content import clean_entry
from syndicate.models import Article, Author, Entry
from syndicate.related import before
from syndicate.related import columns as member_columns
from syndicate.related.cache import forget_stored_indexes, related_index
from syndicate.related.pool import Pool
from syndicate.related.ranking import RelatedIndex
from syndicate.store import Store
from tests.digest.factory import BASE, T0, article, channel, settings

TOPICS = [
    "harbour cranes dockers strike port shipping containers quay wages union",
    "vaccine trial doses immunity clinic patients antibodies nurses hospital",
    "orchestra symphony conductor violin concert premiere cellist score",
    "election ballot candidates turnout polling coalition parliament vote",
]
SECTIONS = ["World", "World", "Science", "Culture", ""]
TAGS = ["diplomacy", "health", "music", "trade", "labour", "usa"]
AUTHORS = ["Ana Ruiz", "Li Wei", "Sam Okafor"]


def realistic(count: int = 360, seed: int = 7) -> list[Article]:
    """``count`` articles over four topics: two share most hours, one in nine
    joins an earlier one's story cluster, one in eleven is marked related_exclude, one
    in thirteen copies an earlier body (a near-copy), one in six comes from the wire,
    some pin earlier, later or excluded articles."""
    rng = random.Random(seed)
    made: list[Article] = []
    for n in range(count):
        topic = TOPICS[rng.randrange(len(TOPICS))].split()
        words = rng.sample(topic, 5) + [f"own{n}w{i}" for i in range(rng.randrange(0, 9))]
        body = " ".join(words)
        if n % 13 == 5 and made:
            body = made[rng.randrange(len(made))].body_html.removeprefix("<p>")[:-4] + " also"
        changes: dict[str, object] = {
            "title": f"{topic[0].title()} {topic[1]} {n}",
            "dek": f"{rng.choice(topic)} and {rng.choice(topic)}.",
            "body_html": f"<p>{body}</p>",
            "section": rng.choice(SECTIONS),
            "tags": tuple(rng.sample(TAGS, rng.randrange(0, 3))),
            "authors": (Author(rng.choice(AUTHORS)),),
            # Equal timestamps, and a span of a year: the age decay reorders near ties.
            "published_at": T0 + timedelta(days=3 * (n // 3) + (n % 3 == 2)),
            "source": "wire" if n % 6 == 4 else "desk",
            "related_exclude": n % 11 == 3,
        }
        if n % 9 == 8 and made:
            changes["story"] = made[rng.randrange(len(made))].story_key
        if n % 17 == 10 and len(made) > 2:
            changes["related_pins"] = (made[1].id, made[-1].id, f"{made[0].id}-gone")
        made.append(article(n, **changes))
    # A pin on a later article (never a pick: not older) and one on an excluded one.
    mid = count // 2
    made[mid] = replace(made[mid], related_pins=(made[-1].id, made[3].id, made[mid - 1].id))
    return made


# Which pool the comparisons use (set by the ``pool`` fixture): the site's, or a channel's.
CHANNEL_POOL = False


def index_over(articles: Sequence[Article], **kw: object) -> RelatedIndex:
    """The index the feed builder asks: members are the pool's articles not from the
    wire (and, for a channel's pool, not of the Culture section); rows in store order
    (not id order), as a cached pool's are."""
    shuffled = list(articles)
    random.Random(3).shuffle(shuffled)
    pool = Pool.of_articles(shuffled)
    members = np.array([s != "wire" for s in pool.facts.sources])
    if CHANNEL_POOL:
        members &= np.array([s != "Culture" for s in pool.facts.sections])
    by_id = {a.id: a for a in articles}
    return RelatedIndex.over(pool, lambda ids: [by_id[i] for i in ids], members=members, **kw)  # type: ignore[arg-type]


def ids(chosen: dict[str, tuple[Article, ...]]) -> dict[str, list[str]]:
    return {item: [a.id for a in picks] for item, picks in chosen.items()}


def assert_same(index: RelatedIndex, items: Sequence[Article], k: int) -> dict[str, list[str]]:
    expected = ids(_pick_before_per_item(index, items, k))
    got = ids(pick_before(index, items, k))
    assert list(got) == list(expected)
    differing = {i: (expected[i], got[i]) for i in expected if expected[i] != got[i]}
    assert not differing
    return got


@pytest.fixture
def articles() -> list[Article]:
    return realistic()


@pytest.fixture(params=["site pool", "channel pool"], autouse=True)
def scoring(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every comparison both ways: nearly every row a member (the site's pool) and a
    third of the rows left out (a channel's pool: non-members' columns are never
    scored, yet they sit in the whole-pool row the item alone is scored over)."""
    monkeypatch.setattr(sys.modules[__name__], "CHANNEL_POOL", request.param == "channel pool")
    return str(request.param)


def items_of(articles: Sequence[Article]) -> list[Article]:
    """The World channel's items, oldest first (as ``feeds.picks._choose`` sorts them)."""
    world = [a for a in articles if a.section == "World"]
    return sorted(world, key=lambda a: (a.published_at, a.id))


@pytest.mark.parametrize("k", [1, 4, 7])
def test_batched_picks_are_the_per_item_picks(articles: list[Article], k: int) -> None:
    index = index_over(articles)
    items = items_of(articles)
    got = assert_same(index, items, k)
    sizes = [len(p) for p in got.values()]
    # The comparison means something: most items have picks, some fewer than k.
    assert sum(sizes) > len(items) * min(k, 3) // 2
    assert any(0 < n < k for n in sizes) or k == 1
    by_id = {a.id: a for a in articles}
    for item in items:
        for pick in got[item.id]:
            assert by_id[pick].published_at < item.published_at
            assert by_id[pick].source != "wire" and not by_id[pick].related_exclude


def test_every_item_of_the_site_across_many_small_blocks(
    articles: list[Article], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(before, "MAX_BLOCK", 7)  # block boundaries everywhere
    items = sorted(articles, key=lambda a: (a.published_at, a.id))
    got = assert_same(index_over(articles), items, 4)
    assert [got[a.id] for a in items if a.published_at == T0] == [[], []]


def test_ties_of_equal_score_break_the_same_way() -> None:
    # Identical texts, labels and dates: every candidate ties, the id order decides; the
    # near-copy rule would drop them all, so the threshold is out of reach here.
    same = [article(n, published_at=T0 + timedelta(hours=n // 4)) for n in range(40)]
    index = index_over(same)
    weights = replace(index.weights, near_duplicate=1.5)
    index = RelatedIndex.over(index.pool, index.load, weights, members=index.members)
    got = assert_same(index, same, 5)
    assert sum(len(p) for p in got.values()) > 40


def test_near_copy_cosines_are_the_sparse_products_to_the_bit(articles: list[Article]) -> None:
    index = index_over(articles)
    matrix = index.pool.matrix
    cosines = before.RowCosines(index)
    rng = random.Random(1)
    rows = len(index.pool)
    for a, b in ((rng.randrange(rows), rng.randrange(rows)) for _ in range(300)):
        expected = (matrix[a] @ matrix[[b]].T).max()
        assert cosines(a, b) == expected and cosines(a, b).dtype == expected.dtype
    story = articles[40]
    vectors = index.story_vectors([story])
    stories = index.pool.space.cosines(index._vectors([story])).astype(np.float32)
    for place in range(rows):
        assert stories[0, place] == (matrix[place] @ vectors.T).max()


def test_with_embeddings_the_semantic_part_is_the_same_too(articles: list[Article]) -> None:
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(len(articles), 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    embeddings = {a.id: vectors[n] for n, a in enumerate(articles) if n % 5}
    index = index_over(articles, embeddings=embeddings, embed=lambda s: vectors[: len(s)])
    assert_same(index, items_of(articles)[:80], 4)


def test_edge_cases() -> None:
    first, second, third, fourth = (article(n, published_at=T0) for n in range(4))
    later = article(9, published_at=T0 + timedelta(hours=1))
    index = index_over([first, second, third, fourth, later])
    # Equal dates: none is older than another, so none picks another.
    assert assert_same(index, [first, second, third, fourth], 4) == {
        a.id: [] for a in (first, second, third, fourth)
    }
    # A pool smaller than k.
    assert len(assert_same(index, [later], 10)[later.id]) < 10
    assert assert_same(index, [later], 0) == {later.id: []}
    empty = RelatedIndex.over(index.pool, index.load, members=np.zeros(5, dtype=bool))
    assert assert_same(empty, [later], 4) == {later.id: []}
    assert pick_before(index, [], 4) == {}


# --- through the stored index, as the feed builder asks --------------------------------------


@pytest.fixture
def stored(store: Store) -> Iterator[tuple[Store, list[Article]]]:
    forget_stored_indexes()
    entries = []
    for a in realistic(240, seed=11):
        entry = Entry(
            key=a.id.rsplit("/", 1)[-1],
            url=a.url,
            title=a.title,
            body_html=a.body_html,
            published_at=a.published_at,
            dek=a.dek,
            section=a.section,
            tags=a.tags,
            authors=a.authors,
        )
        cleaned = clean_entry(entry, source=a.source, authority="news.example,2026", site_url=BASE)
        entries.append(replace(cleaned, related_exclude=a.related_exclude))
    store.save_entries(entries, now=T0)
    yield store, store.list_articles()
    forget_stored_indexes()


def test_the_stored_index_gives_the_same_picks_both_ways(
    stored: tuple[Store, list[Article]],
) -> None:
    store, saved = stored
    items = sorted((a for a in saved if a.section == "World"), key=lambda a: (a.published_at, a.id))
    index = related_index(store, settings(), channel(related_pool="site"), items[-1].published_at)
    got = assert_same(index, items, 4)
    assert sum(len(p) for p in got.values()) > len(items)


def test_tied_feedback_neighbours_are_the_ones_the_whole_pool_gives(scoring: str) -> None:
    # Thirty members equally close to the story, each sharing a word of its own with one
    # candidate: which ten feed the story's vector decides the picks, and which of a tie
    # ``argpartition`` keeps depends on the whole row, wire columns included.
    made = []
    for n in range(10, 40):  # two digits each: texts of one length, cosines of one value
        made.append(article(n, title="Alpha beta", body_html=f"<p>gamma delta own{n}</p>"))
        made.append(article(100 + n, source="wire", body_html=f"<p>wire words {n}</p>"))
        made.append(article(200 + n, title=f"Own{n} talks", body_html=f"<p>own{n} epsilon</p>"))
    story = article(400, title="Alpha beta", body_html="<p>gamma delta</p>")
    index = index_over([*made, story])
    everything = sorted(made, key=lambda a: (a.published_at, a.id))
    columns = member_columns.Columns(index)
    plain = columns.space.cosines(index._vectors([story]))
    plain[0, columns.of(index, story.id)] = 0.0
    _, tied = member_columns._top(plain.T.astype(np.float32), index.weights.feedback_depth)
    assert tied.tolist() == [True]
    assert_same(index, [*everything[-40:], story], 4)
