"""Related items ("More from"): exclusions, determinism, boosts, diversity, real content."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from syndicate.config import Settings
from syndicate.ingest.run import ingest
from syndicate.models import Article, Author
from syndicate.related.pool import Facts, FactsBuilder, Pool, TermRows, TermRowsBuilder
from syndicate.related.ranking import (
    RelatedIndex,
    RelatedWeights,
    pick_related,
    pick_related_per_story,
)
from syndicate.related.terms import MAX_TERMS, article_terms, terms_of
from syndicate.store import Store
from tests.digest.factory import T0, article


def topical(n: int, topic: str, section: str, tags: tuple[str, ...], days_old: float) -> Article:
    # Words of its own beside the topic's, so two items on one topic are related, not copies.
    own = " ".join(f"detail{n}x{i}" for i in range(12))
    body = f"<p>{topic} " * 10 + own + "</p>"
    return article(
        n,
        title=f"{topic.title()} report {n}",
        dek=f"News about {topic}.",
        body_html=body,
        section=section,
        tags=tags,
        authors=(Author(f"Writer {n}"),),
        published_at=T0 - timedelta(days=days_old),
    )


@pytest.fixture
def pool() -> list[Article]:
    items = []
    topics = [
        ("lithium mines water", "World", ("mining",)),
        ("central bank interest rates", "Economy", ("banks",)),
        ("coral reef heat", "Science", ("oceans",)),
        ("film festival market", "Culture", ("film",)),
    ]
    n = 0
    for topic, section, tags in topics:
        for age in range(6):
            items.append(topical(n, topic, section, tags, days_old=3 + age * 5))
            n += 1
    return items


def test_never_a_story_of_the_edition_nor_an_excluded_item(pool: list[Article]) -> None:
    stories = pool[:3]
    excluded = {pool[3].id, pool[4].id}
    picks = pick_related(stories, pool, 4, exclude_ids=excluded)
    ids = {p.id for p in picks}
    assert len(picks) == 4
    assert not ids & {s.id for s in stories}
    assert not ids & excluded
    per_story = pick_related_per_story(stories, pool, 4, exclude_ids=excluded)
    for story in stories:
        got = {p.id for p in per_story[story.id]}
        assert len(got) == 4
        assert not got & ({s.id for s in stories} | excluded)


def test_same_input_gives_the_same_picks_in_any_order(pool: list[Article]) -> None:
    stories = [pool[0], pool[7]]
    first = pick_related(stories, pool, 4)
    shuffled = pool[:]
    random.Random(7).shuffle(shuffled)
    assert pick_related(stories, shuffled, 4) == first
    assert pick_related(stories, pool + pool[:5], 4) == first  # duplicates ignored


def test_shared_section_or_tag_beats_a_newer_unrelated_item() -> None:
    story = topical(100, "harbour strike", "Economy", ("labour",), days_old=0)
    related_old = article(
        101,
        title="Dock pay talks",
        dek="Unions and ports.",
        body_html="<p>wages cranes ports</p>",
        section="Economy",
        tags=("labour",),
        published_at=T0 - timedelta(days=120),
    )
    unrelated_new = article(
        102,
        title="Comet photographed",
        dek="Astronomers rejoice.",
        body_html="<p>telescope comet tail</p>",
        section="Science",
        tags=("space",),
        published_at=T0 - timedelta(hours=1),
    )
    picks = pick_related([story], [unrelated_new, related_old], 1)
    assert picks == (related_old,)


def test_near_copies_of_the_story_or_of_a_pick_are_passed_over() -> None:
    story = topical(200, "lithium mines water", "World", ("mining",), days_old=0)
    copies = [replace(story, id=f"{story.id}-copy{i}") for i in range(2)]
    twin = topical(205, "lithium mines drought", "World", ("mining",), 1)
    twins = [replace(twin, id=f"{twin.id}-{i}") for i in range(3)]
    other = topical(210, "lithium mines strike", "World", ("mining",), days_old=1)
    # With the check off, copies of the story and identical twins fill every slot ...
    plain = pick_related(
        [story], [*copies, *twins, other], 3, weights=RelatedWeights(near_duplicate=1.01)
    )
    assert set(plain) <= {*copies, *twins}
    # ... with it, no copy of the story, one twin, then the different item.
    picks = pick_related([story], [*copies, *twins, other], 3)
    assert not set(picks) & set(copies)
    assert len(set(picks) & set(twins)) == 1 and other in picks


def test_an_empty_section_earns_no_boost() -> None:
    story = topical(300, "harbour crane strike", "", (), days_old=0)
    near = topical(301, "harbour crane strike talks", "", (), days_old=2)
    blank = [article(310 + i, title=f"Notice {i}", dek="", body_html="<p>x</p>") for i in range(3)]
    blank = [replace(b, section="") for b in blank]
    index = RelatedIndex([near, *blank])
    scores = index.scores([story], reference=T0)[0]
    by_id = dict(zip([a.id for a in index.articles], scores, strict=True))
    assert all(by_id[b.id] < 0.05 for b in blank)


def test_a_tag_on_most_articles_counts_less_than_a_rare_one() -> None:
    story = topical(400, "ballot count", "World", ("usa", "recount"), days_old=0)
    common = [topical(401 + i, f"topic{i} words", "", ("usa",), 1) for i in range(8)]
    rare = topical(420, "other words", "", ("recount",), 1)
    index = RelatedIndex([*common, rare])
    scores = dict(zip([a.id for a in index.articles], index.scores([story], T0)[0], strict=True))
    # Texts are equally unrelated: the difference is the tags' worth (0.1 for a rare tag).
    assert scores[rare.id] - max(scores[c.id] for c in common) > 0.05


def test_small_or_empty_pools() -> None:
    story = article(1)
    assert pick_related([story], [], 4) == ()
    assert pick_related([story], [story], 4) == ()
    assert pick_related([], [story], 4) == ()
    different = article(2, title="Harbour cranes idle", body_html="<p>Dock strike.</p>")
    assert pick_related([story], [different], 4) == (different,)
    blank = article(3, title="", dek="", body_html="")
    assert pick_related([blank], [article(4, title="", dek="", body_html="")], 1)


def test_the_index_answers_many_questions(pool: list[Article]) -> None:
    index = RelatedIndex(pool)
    assert index.pool.matrix.shape[0] == len(pool)
    assert index.pick([pool[0]], 2) == pick_related([pool[0]], pool, 2)
    assert index.pick_per_story([pool[0]], 2)[pool[0].id] == index.pick([pool[0]], 2)


def test_on_the_example_content_three_of_four_picks_share_section_or_tag(
    store: Store, instance_settings: Settings, tmp_path: Path
) -> None:
    ingest(store, instance_settings)
    articles = store.list_articles()
    assert len(articles) == 26
    index = RelatedIndex(articles)
    for story in articles:
        picks = index.pick_per_story([story], 4)[story.id]
        assert len(picks) == 4
        tags = {t.casefold() for t in story.tags}
        close = [
            p for p in picks if p.section == story.section or tags & {t.casefold() for t in p.tags}
        ]
        assert len(close) >= 3, (story.title, [p.title for p in picks])


def test_one_story_cluster_gives_at_most_one_pick_and_never_the_story_s_own(
    pool: list[Article],
) -> None:
    story = replace(pool[0], story="cluster-a")
    same_story = replace(pool[1], story="cluster-a")  # the story, from another source
    twins = [replace(pool[2], story="cluster-b"), replace(pool[3], story="cluster-b")]
    index = RelatedIndex([story, same_story, *twins, *pool[4:]])
    picks = index.pick([story], 4)
    assert same_story.id not in {p.id for p in picks}
    assert len({p.story_key for p in picks}) == len(picks)
    assert sum(p.story == "cluster-b" for p in picks) == 1
    assert index.refusal(same_story, [story], set()) == "cluster"


def test_a_cluster_named_after_its_first_article_counts_that_article_in(
    pool: list[Article],
) -> None:
    first = pool[0]  # the story's first article: its own story key, and the cluster's name
    follow_up = replace(pool[1], story=first.id)
    other = replace(pool[2], story=first.id)
    index = RelatedIndex([first, follow_up, other, *pool[3:]])
    # Asked for the follow-up, neither the first article nor the other member is a pick.
    picks = {p.id for p in index.pick([follow_up], 4)}
    assert not picks & {first.id, other.id}
    assert index.refusal(first, [follow_up], set()) == "cluster"
    # Asked for an unrelated story, the cluster gives one pick at most.
    chosen = index.pick([pool[5]], 6)
    assert sum(p.id in {first.id, follow_up.id, other.id} for p in chosen) == 1


def test_a_pool_grown_from_kept_and_new_rows_scores_as_a_fresh_one(pool: list[Article]) -> None:
    """The cache's merge (rows kept in their compact numbering, new rows with words the
    pool never had appended) gives the same numbers as a pool built in one go."""
    new = topical(99, "glacier melt sensors", "Science", ("ice",), days_old=1)
    old = Pool.of_articles(pool)
    keep = np.ones(len(pool), dtype=bool)
    keep[[2, 7]] = False  # pool[2] goes; pool[7] is replaced
    added = [new, pool[7]]
    grown = Pool(
        old.facts.keep(keep).then(facts_of(added)),
        old.rows.keep(keep).then(TermRows.of([article_terms(a) for a in added])),
    )
    # The same rows in the same order (the mean length is summed in row order), built
    # in one go: no feature of pool[2]'s left over in its numbering.
    by_id = {a.id: a for a in [*pool, new]}
    same_order = [by_id[i] for i in grown.ids]
    fresh = Pool(facts_of(same_order), TermRows.of([article_terms(a) for a in same_order]))
    assert len(fresh.space.features) < len(grown.space.features)
    stories = [new, pool[0]]
    for weights in (None, RelatedWeights(feedback=0)):
        got = RelatedIndex.over(grown, lambda ids: [], weights).scores(stories, T0)
        want = RelatedIndex.over(fresh, lambda ids: [], weights).scores(stories, T0)
        assert np.array_equal(got, want)


def facts_of(articles: list[Article]) -> Facts:
    facts = FactsBuilder()
    for a in articles:
        authors = [x.name for x in a.authors]
        facts.add(a.id, a.source, a.section, a.tags, authors, a.published_at, a.story, False)
    return facts.build()


def test_stored_terms_fill_arrays_of_any_expected_size() -> None:
    rows = [terms_of([(f"word{n} " * (n + 1) + "common", 1.0)]) for n in range(7)]
    want = TermRows.of(rows)
    for expected in ((0, 0), (2, 3), (7, sum(len(t.ids) for t in rows))):
        builder = TermRowsBuilder(*expected)
        for t in rows:
            builder.add(t.ids.astype("<u4").tobytes(), t.counts.astype("<f4").tobytes(), t.length)
        got = builder.build()
        for name in ("indptr", "indices", "counts", "lengths"):
            assert np.array_equal(getattr(got, name), getattr(want, name)), (expected, name)


def test_pins_come_first_and_a_related_exclude_article_is_never_a_pick(
    pool: list[Article],
) -> None:
    story = replace(pool[0], related_pins=(pool[20].id, "tag:unknown,2026:nowhere"))
    banned = replace(pool[1], related_exclude=True)
    index = RelatedIndex([story, banned, *pool[2:]])
    picks = index.pick([story], 4)
    assert picks[0].id == pool[20].id  # off-topic, but the editor chose it
    assert banned.id not in {p.id for p in picks}
    assert index.refusal(banned, [story], set()) == "excluded"
    per_story = index.pick_per_story([story], 4)[story.id]
    assert per_story[0].id == pool[20].id and banned.id not in {p.id for p in per_story}


def test_age_reorders_close_candidates_but_never_buries_a_relevant_one() -> None:
    story = topical(400, "glacier melt survey", "", (), days_old=0)
    old = topical(401, "glacier melt survey", "", (), days_old=3650)
    fresh = article(
        402, title="Survey of shoppers", dek="", body_html="<p>shoppers prices</p>", section=""
    )
    assert pick_related([story], [old, fresh], 1, reference=T0) == (old,)
    twin = replace(old, id="tag:news.example,2026:desk/twin", published_at=T0 - timedelta(days=1))
    assert pick_related([story], [old, twin], 1, reference=T0) == (twin,)


def test_a_section_most_of_the_pool_shares_earns_less_than_a_rare_one() -> None:
    story = topical(500, "budget vote", "Politics", (), days_old=0)
    common = [topical(510 + i, f"topic{i} things", "News", (), days_old=1) for i in range(6)]
    rare = topical(520, "river ferry", "Politics", (), days_old=1)
    index = RelatedIndex([*common, rare])
    signals = index.signals([replace(story, section="News")], reference=T0)
    news_boost = signals.section[0].max()
    rare_boost = index.signals([story], reference=T0).section[0].max()
    assert 0 < news_boost < rare_boost


def test_feedback_finds_an_article_on_the_topic_that_shares_no_word_with_the_story() -> None:
    story = article(600, title="Reef", dek="", body_html="<p>coral bleaching</p>", section="")
    bridge = [
        article(
            601 + i,
            title=f"Reef {i}",
            dek="",
            body_html=f"<p>coral bleaching algae lagoon note{i}</p>",
            section="",
        )
        for i in range(4)
    ]
    unseen = article(610, title="Lagoon", dek="", body_html="<p>algae lagoon</p>", section="")
    other = article(611, title="Tariffs", dek="", body_html="<p>steel tariffs</p>", section="")
    index = RelatedIndex([*bridge, unseen, other])
    ids = [c.id for c in index.candidates]
    text = dict(zip(ids, index.signals([story]).text[0], strict=True))
    assert text[unseen.id] > 0 == text[other.id]
    plain = RelatedIndex([*bridge, unseen, other], RelatedWeights(feedback=0))
    assert not plain.signals([story]).text[0][plain.pool.position[unseen.id]]


def test_a_short_story_prefers_the_article_matching_more_of_its_words() -> None:
    # The cosine discounts "broad" for its other words; BM25 credits it for matching
    # all three of the story's. A short story blends in the BM25 score.
    story = article(700, title="Reef", dek="", body_html="<p>coral bleaching</p>", section="")
    extra = " ".join(f"survey{i}" for i in range(6))
    broad = article(
        701, title="Reef survey", dek="", body_html=f"<p>coral bleaching {extra}</p>", section=""
    )
    narrow = article(702, title="Reef", dek="", body_html="<p>reef</p>", section="")
    filler = [
        article(710 + i, title=f"Tariffs {i}", dek="", body_html=f"<p>steel tariffs port{i}</p>")
        for i in range(6)
    ]
    pool = [broad, narrow, *filler]
    cosine_only = RelatedWeights(feedback=0, query=0)
    assert pick_related([story], pool, 1, weights=cosine_only) == (narrow,)
    assert pick_related([story], pool, 1, weights=RelatedWeights(feedback=0)) == (broad,)


def test_a_story_that_fills_its_term_budget_is_ranked_by_the_cosine_alone() -> None:
    body = " ".join(f"word{i}" for i in range(2 * MAX_TERMS))
    story = article(800, title="Long", dek="", body_html=f"<p>{body}</p>", section="")
    others = [
        article(801 + i, title=f"Part {i}", dek="", body_html=f"<p>word{i} word{i + 1}</p>")
        for i in range(8)
    ]
    blended = RelatedIndex(others).signals([story]).text
    cosine = RelatedIndex(others, RelatedWeights(query=0)).signals([story]).text
    assert np.array_equal(blended, cosine)
    short = replace(story, body_html="<p>word1 word2 word3</p>")
    assert not np.array_equal(
        RelatedIndex(others).signals([short]).text,
        RelatedIndex(others, RelatedWeights(query=0)).signals([short]).text,
    )


def test_age_only_breaks_near_ties_a_few_percent_of_relevance_outweighs_two_years() -> None:
    story = topical(900, "glacier melt survey", "", (), days_old=0)
    old = topical(901, "glacier melt survey", "", (), days_old=730)
    fresh = topical(902, "glacier melt survey", "", (), days_old=1)
    # Three words more than the story shares: a few percent less similar than ``old``.
    fresh = replace(fresh, body_html=fresh.body_html.replace("</p>", " aside1 aside2 aside3</p>"))
    weights = RelatedWeights(feedback=0)
    text = RelatedIndex([old, fresh], weights).signals([story], reference=T0).text[0]
    assert 0.9 * text[0] < text[1] < text[0]
    assert pick_related([story], [fresh, old], 1, reference=T0, weights=weights) == (old,)
