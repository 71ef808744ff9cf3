"""The semantic option's rankers for the "More from" benchmarks, and its own table.

``bench/related.py`` imports :func:`available` and :data:`RANKERS`: "semantic" is the
project's default ranking plus the embedding signal (``RelatedWeights.semantic``),
"embedding" is the embedding cosine alone (top-k). Each ranker takes the pool and the
query positions and returns k positions per query. Embeddings of a pool are computed
once per run (memoised by the pool's ids and content hashes), and may be cached on
disk between runs (``SEMANTIC_BENCH_CACHE=/some/folder``).

Run alone, it prints P@4 on 20 Newsgroups (fine labels; full text and title + first 40
words) for the default, the embedding alone and the combination at several weights:
``.venv/bin/python bench/semantic_ranker.py --data /tmp/20ng [--pool 1500 --queries 500]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from syndicate.models import Article
from syndicate.related import semantic
from syndicate.related.ranking import RelatedIndex, RelatedWeights

K = 4
Ranker = Callable[[Sequence[Article], Sequence[int]], list[list[int]]]
_memo: dict[str, np.ndarray] = {}


def available() -> bool:
    """True when the semantic extra is installed."""
    return semantic.available()


def vectors(articles: Sequence[Article]) -> np.ndarray:
    """Unit rows for ``articles`` (memoised; on disk too with SEMANTIC_BENCH_CACHE)."""
    key = hashlib.sha256(
        "\n".join(f"{a.id} {semantic.embedding_text(a)}" for a in articles).encode()
    ).hexdigest()[:24]
    if key in _memo:
        return _memo[key]
    cache = os.environ.get("SEMANTIC_BENCH_CACHE")
    path = Path(cache) / f"{semantic.MODEL_NAME}-{key}.npy" if cache else None
    if path is not None and path.is_file():
        _memo[key] = np.load(path)
        return _memo[key]
    _memo[key] = semantic.embed_articles(articles)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, _memo[key])
    return _memo[key]


def combined(weight: float) -> Ranker:
    """The project's default ranking with the embedding signal at ``weight``."""

    def rank(articles: Sequence[Article], queries: Sequence[int]) -> list[list[int]]:
        rows = vectors(articles)
        stored = {a.id: rows[n] for n, a in enumerate(articles)}
        index = RelatedIndex(articles, RelatedWeights(semantic=weight), embeddings=stored)
        position = {a.id: n for n, a in enumerate(articles)}
        out = []
        reference = max(a.published_at for a in articles)
        # One story at a time, as the default's ranker in related_quality.py: stories
        # asked together are never each other's picks (an edition's contract), which
        # would take every other query out of each query's pool.
        for q in queries:
            story = articles[q]
            picks = index.pick_per_story([story], K, reference=reference)[story.id]
            out.append([position[p.id] for p in picks])
        return out

    return rank


def embedding(articles: Sequence[Article], queries: Sequence[int]) -> list[list[int]]:
    """Top-k by embedding cosine alone (never the story itself)."""
    rows = vectors(articles)
    scores = rows[list(queries)] @ rows.T
    scores[np.arange(len(queries)), np.asarray(queries)] = -np.inf
    return np.argsort(-scores, axis=1, kind="stable")[:, :K].tolist()  # type: ignore[no-any-return]


RANKERS: dict[str, Ranker] = {
    "semantic": combined(RelatedWeights().semantic),
    "embedding": embedding,
}


def main() -> None:
    """P@4 on a sample of 20 Newsgroups for the default, embedding, and combinations."""
    from related_quality import precision, read_20ng, short

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder 20NG was unpacked in")
    parser.add_argument("--pool", type=int, default=1500, help="articles sampled as the pool")
    parser.add_argument("--queries", type=int, default=500, help="stories ranked")
    parser.add_argument("--weights", default="0.25,0.5,1,2", help="semantic weights tried")
    args = parser.parse_args()
    semantic.require()
    data = read_20ng(args.data)
    rng = np.random.default_rng(7)
    chosen = sorted(rng.choice(len(data.articles), size=args.pool, replace=False).tolist())
    fine = data.fine[chosen]
    queries = sorted(rng.choice(len(chosen), size=args.queries, replace=False).tolist())
    rankers: dict[str, Ranker] = {"project": combined(0.0), "embedding": embedding}
    for w in args.weights.split(","):
        rankers[f"combined {float(w):g}"] = combined(float(w))
    print(f"{'text':<7}{'ranker':<15}{'P@4':>7}{'s':>8}")
    for form in ("short", "full"):
        pool = [data.articles[n] for n in chosen]
        pool = [short(a) for a in pool] if form == "short" else pool
        pool = [replace(a, section="") for a in pool]
        start = time.perf_counter()
        vectors(pool)
        print(f"{form:<7}{'(embed pool)':<15}{'':>7}{time.perf_counter() - start:>8.1f}")
        for name, ranker in rankers.items():
            start = time.perf_counter()
            picks = ranker(pool, queries)
            print(
                f"{form:<7}{name:<15}{precision(picks, queries, fine):>7.3f}"
                f"{time.perf_counter() - start:>8.1f}"
            )


if __name__ == "__main__":
    main()
