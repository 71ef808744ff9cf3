"""Benchmark of "More from" picks: quality on labelled text, and time and memory at scale.

One invocation prints two tables:

- quality (``bench/related_quality.py``): the project's ranking beside plain TF-IDF
  cosine and BM25 top-4 (and the ``semantic`` rankers of ``bench/semantic_ranker.py``
  where available): precision@4, nDCG@4, near-duplicate share and coarse precision@4,
  for full text and title + first 40 words, with and without sections, on 20 Newsgroups
  (test split, and the train split as a held-out check) and the generated set below;
- scale (``bench/related_scale.py``): build, load, per-edition pick time (median) and
  peak memory (tracemalloc and RSS) of the persistent index at 2,000, 20,000 and
  100,000 articles.

The labelled set is generated: each section has its own topic words, tags and authors,
mixed into a large shared vocabulary. A story is only ~5% words of its own topic and
~2.5% of the neighbouring section's, and 10% of stories carry another section's tags,
so neither text nor tags give the answer alone.

Run: ``.venv/bin/python bench/related.py [--quick] [--sizes 2000,20000] [--no-scale]``
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from syndicate.models import Article, Author

sys.path.insert(0, str(Path(__file__).resolve().parent))

SECTIONS = ["World", "Economy", "Science", "Technology", "Culture", "Sport", "Health", "Climate"]
T0 = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def words(rng: np.random.Generator, prefix: str, count: int) -> list[str]:
    """Pronounceable fake words, e.g. 'kelomar'."""
    syllables = ["ka", "lo", "mar", "ten", "vi", "su", "dra", "pel", "no", "ri", "zu", "bel"]
    syllables += ["an", "to", "ges", "fir", "mo", "qua", "lin", "dor"]  # 20: 8,000+ words
    out: set[str] = set()
    while len(out) < count:
        out.add(prefix + "".join(rng.choice(syllables, size=rng.integers(2, 4))))
    return sorted(out)


def generate(count: int, seed: int = 1, signal: float = 0.05) -> list[Article]:
    """``count`` articles spread over SECTIONS, with labels in ``section``."""
    rng = np.random.default_rng(seed)
    common = np.array(words(rng, "", 5000))
    topics = {s: np.array(words(rng, s[:2].lower(), 300)) for s in SECTIONS}
    tags = {s: [f"{s.lower()}-{n}" for n in range(12)] for s in SECTIONS}
    authors = {s: [Author(f"{s} Writer {n}") for n in range(8)] for s in SECTIONS}
    out = []
    for n in range(count):
        section = SECTIONS[n % len(SECTIONS)]

        neighbour = SECTIONS[(SECTIONS.index(section) + 1) % len(SECTIONS)]

        def text(size: int, own: str = section, other: str = neighbour) -> str:
            # Few topic words, and some from the neighbouring section, so texts overlap.
            mine = rng.choice(topics[own], size=max(1, round(size * signal)))
            theirs = rng.choice(topics[other], size=round(size * signal / 2))
            rest = rng.choice(common, size=max(0, size - len(mine) - len(theirs)))
            return " ".join(np.concatenate([mine, theirs, rest]))

        tag_section = section if rng.random() > 0.1 else SECTIONS[rng.integers(len(SECTIONS))]
        chosen_tags = tuple(rng.choice(tags[tag_section], size=2, replace=False))
        out.append(
            Article(
                id=f"tag:bench.example,2026:gen/{n:06d}",
                source="gen",
                url=f"https://bench.example/{n}",
                title=text(8),
                dek=text(24),
                body_html=f"<p>{text(160)}</p>",
                authors=(authors[section][int(rng.integers(8))],),
                section=section,
                tags=chosen_tags,
                image=None,
                published_at=T0 - timedelta(hours=int(rng.integers(0, 24 * 720))),
                updated_at=T0,
                content_hash=str(n),
            )
        )
    return out


def main() -> None:
    """Print the quality table, then the scale table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).parent / "out/20ng", help="20NG folder"
    )
    parser.add_argument("--queries", type=int, default=1000, help="stories ranked per set")
    parser.add_argument("--generated", type=int, default=8000, help="size of the generated set")
    parser.add_argument("--sizes", default="2000,20000,100000", help="archive sizes to time")
    parser.add_argument("--repeat", type=int, default=5, help="edition picks per size")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="200 queries, no 20NG train split, a 4,000-article generated set, sizes 2000,20000",
    )
    parser.add_argument("--no-quality", action="store_true", help="only the scale table")
    parser.add_argument("--no-scale", action="store_true", help="only the quality table")
    args = parser.parse_args()
    if args.quick:
        args.queries, args.generated = min(args.queries, 200), min(args.generated, 4000)
        if args.sizes == parser.get_default("sizes"):
            args.sizes = "2000,20000"
    from related_quality import quality  # they import this module's generator
    from related_scale import scale

    if not args.no_quality:
        quality(args.data, args.queries, args.generated, quick=args.quick)
    if not args.no_scale:
        print()
        scale([int(s) for s in args.sizes.split(",")], args.repeat)


if __name__ == "__main__":
    main()
