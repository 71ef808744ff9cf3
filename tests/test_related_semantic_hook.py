"""The embedding hook of RelatedIndex (runs without the semantic extra: vectors by hand)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from syndicate.models import Article
from syndicate.related import RelatedIndex, RelatedWeights

T0 = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def art(key: str, text: str) -> Article:
    return Article(
        id=f"tag:x.example,2026:s/{key}",
        source="s",
        url=f"https://x.example/{key}/",
        title=text,
        dek="",
        body_html=f"<p>{text}</p>",
        authors=(),
        section="",
        tags=(),
        image=None,
        published_at=T0,
        updated_at=T0,
        content_hash=key,
    )


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


STORY = art("story", "lighthouse keepers strike")
POOL = [
    art("a", "lighthouse budget vote"),  # shares a word with the story
    art("b", "coastal beacon staff walk out"),  # same topic, no shared word
    art("c", "football cup final"),
]
VECTORS = {
    STORY.id: unit(1, 0, 0),
    POOL[0].id: unit(0, 1, 0),
    POOL[1].id: unit(1, 0.1, 0),
    POOL[2].id: unit(0, 0, 1),
}


def test_without_embeddings_the_lexical_match_leads_and_semantic_is_zero() -> None:
    index = RelatedIndex([STORY, *POOL])
    assert not index.signals([STORY], T0).semantic.any()
    assert index.pick([STORY], 1, reference=T0)[0].id == POOL[0].id


def test_embeddings_add_weight_times_cosine_and_can_change_the_pick() -> None:
    weights = RelatedWeights(semantic=1.0, semantic_feedback=0.0)
    index = RelatedIndex([STORY, *POOL], weights, embeddings=VECTORS)
    signals = index.signals([STORY], T0)
    assert signals.semantic is not None
    position = {a.id: n for n, a in enumerate(index.articles)}
    cosine = float(VECTORS[STORY.id] @ VECTORS[POOL[1].id])
    assert np.isclose(signals.semantic[0, position[POOL[1].id]], cosine)
    total = signals.text + signals.section + signals.tag + signals.author + signals.semantic
    assert np.allclose(signals.combined(), total * signals.decay)
    assert index.pick([STORY], 1, reference=T0)[0].id == POOL[1].id


def test_embed_covers_stories_only_and_a_pool_article_without_a_vector_gets_none() -> None:
    asked: list[str] = []

    def embed(articles: object) -> np.ndarray:
        items = list(articles)  # type: ignore[call-overload]
        asked.extend(a.id for a in items)
        return np.stack([VECTORS[a.id] for a in items])

    stored = {k: v for k, v in VECTORS.items() if k != POOL[1].id}
    story_elsewhere = art("new", "lighthouse keepers strike")  # not in the pool
    VECTORS[story_elsewhere.id] = unit(1, 0, 0)
    index = RelatedIndex(POOL, RelatedWeights(semantic=1.0), embeddings=stored, embed=embed)
    # Embedding the archive is `related reindex`'s job, never a compose's: only the story
    # is embedded, and b (no stored vector) loses its semantic lead to the lexical match.
    assert index.pick([story_elsewhere], 1, reference=T0)[0].id == POOL[0].id
    assert asked == [story_elsewhere.id]
    with_b = RelatedIndex(POOL, RelatedWeights(semantic=1.0), embeddings=VECTORS, embed=embed)
    assert with_b.pick([story_elsewhere], 1, reference=T0)[0].id == POOL[1].id


def test_feedback_moves_the_story_towards_its_nearest_members_centre() -> None:
    """A story's embedding is widened by its nearest members' centre: a candidate close
    to that centre gains, one close only to the story's own point loses, and the
    story's own row never counts as its neighbour."""
    story = art("q", "harbour strike")
    near = [art(f"n{i}", f"neighbour {i}") for i in range(3)]
    lone = art("lone", "a near twin of the story's point only")
    centred = art("mid", "the neighbours' topic")
    vectors = {
        story.id: unit(1, 0.5, 0),
        lone.id: unit(1, -0.2, 0),  # 5th closest to the story
        centred.id: unit(0.55, 1, 0),  # 4th closest, beside the three below
        **{a.id: unit(0.6, 1, 0.05 * i) for i, a in enumerate(near)},  # the 3 closest
    }
    pool = [story, *near, lone, centred]
    plain = RelatedIndex(pool, RelatedWeights(semantic_feedback=0.0), embeddings=vectors)
    fed = RelatedIndex(pool, RelatedWeights(semantic_feedback_depth=3), embeddings=vectors)
    position = {a.id: n for n, a in enumerate(plain.articles)}
    before = plain.signals([story], T0).semantic[0]
    after = fed.signals([story], T0).semantic[0]
    assert np.isclose(before[position[lone.id]], float(vectors[story.id] @ vectors[lone.id]))
    assert after[position[centred.id]] > before[position[centred.id]]
    assert after[position[lone.id]] < before[position[lone.id]]
    # The widened query is the story plus the mean of its three nearest members (not
    # itself, though its own cosine is the highest), renormalised.
    centre = np.mean([vectors[a.id] for a in near], axis=0)
    query = vectors[story.id] + centre
    query /= np.linalg.norm(query)
    assert np.isclose(after[position[lone.id]], float(query @ vectors[lone.id]), atol=1e-6)
