"""Related items ("More from"): exclusions, determinism, boosts, diversity, real content."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from syndicate.config import Settings
from syndicate.ingest.run import ingest
from syndicate.models import Article, Author
from syndicate.related.ranking import (
    RelatedIndex,
    RelatedWeights,
    pick_related,
    pick_related_per_story,
)
from syndicate.store import Store
from tests.digest.factory import T0, article


def topical(n: int, topic: str, section: str, tags: tuple[str, ...], days_old: float) -> Article:
    body = f"<p>{topic} " * 30 + "</p>"
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


def test_picks_are_diversified_not_near_duplicates() -> None:
    story = topical(200, "lithium mines water", "World", ("mining",), days_old=0)
    twins = [topical(201 + i, "lithium mines water", "World", ("mining",), 1) for i in range(3)]
    other = topical(210, "lithium mines strike", "World", ("mining",), days_old=1)
    # Without diversification the identical twins fill every slot ...
    plain = pick_related([story], [*twins, other], 2, weights=RelatedWeights(mmr_lambda=1.0))
    assert set(plain) <= set(twins)
    # ... with it, the second pick is the different item.
    picks = pick_related([story], [*twins, other], 2)
    assert picks[0] in twins and picks[1] == other


def test_small_or_empty_pools() -> None:
    story = article(1)
    assert pick_related([story], [], 4) == ()
    assert pick_related([story], [story], 4) == ()
    assert pick_related([], [story], 4) == ()
    assert pick_related([story], [article(2)], 4) == (article(2),)
    blank = article(3, title="", dek="", body_html="")
    assert pick_related([blank], [article(4, title="", dek="", body_html="")], 1)


def test_the_index_answers_many_questions(pool: list[Article]) -> None:
    index = RelatedIndex(pool)
    assert index.matrix.shape[0] == len(pool)
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
