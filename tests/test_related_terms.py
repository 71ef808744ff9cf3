"""An article's term vector: ``terms_of`` hashes each distinct word once, and gives the
vector its definition gives (one weight added per occurrence, ties to the word first met).
"""

from __future__ import annotations

import random

import pytest

from syndicate.related.terms import MAX_TERMS, Terms, _bucket, terms_of, words


def by_definition(fields: list[tuple[str, float]], max_terms: int | None = None) -> Terms:
    """Word by word, as the docstring of ``related/terms.py`` defines it."""
    import numpy as np

    weight: dict[int, float] = {}
    first: dict[int, int] = {}
    position = 0
    for text, field_weight in fields:
        for word in words(text):
            bucket = _bucket(word)
            weight[bucket] = weight.get(bucket, 0.0) + field_weight
            first.setdefault(bucket, position)
            position += 1
    kept = sorted(weight, key=lambda b: (-weight[b], first[b]))[: max_terms or MAX_TERMS]
    kept.sort()
    return Terms(
        np.array(kept, dtype=np.uint32),
        np.array([weight[b] for b in kept], dtype=np.float32),
        float(sum(weight.values())),
    )


def text(rng: random.Random, vocabulary: list[str], size: int) -> str:
    return " ".join(rng.choice(vocabulary) for _ in range(size))


@pytest.mark.parametrize("max_terms", [None, 3, 40, 1000])
@pytest.mark.parametrize("weights", [(2.0, 1.0, 1.0, 1.0), (0.7, 1.3, 0.1, 0.1)])
def test_terms_are_the_word_by_word_definition(
    max_terms: int | None, weights: tuple[float, float, float, float]
) -> None:
    rng = random.Random(4)
    # Many repeats, words shared between fields, two pairs of words hashed to one bucket
    # each, a stop word, case; truncation cuts through ties of equal weight.
    collide = ["yhbjdjs", "tlervfz", "kexvaou", "uzaxrvw"]
    assert _bucket(collide[0]) == _bucket(collide[1]) and _bucket(collide[2]) == _bucket(collide[3])
    vocabulary = collide + ["harbour", "Harbour", "vote", "the"] + [f"w{n}" for n in range(5000)]
    for _ in range(30):
        fields = [
            (text(rng, vocabulary[:50], 6), weights[0]),
            (text(rng, vocabulary[:300], 20), weights[1]),
            (text(rng, vocabulary, 400), weights[2]),
            # Ten tenths are not 1.0: a fractional weight is added once per occurrence.
            (text(rng, vocabulary[8:12], 60), weights[3]),
        ]
        got, expected = terms_of(fields, max_terms), by_definition(fields, max_terms)
        assert got.ids.tolist() == expected.ids.tolist()
        assert got.counts.tolist() == expected.counts.tolist()
        assert got.length == expected.length
