"""Benchmark of "More from" picks: precision@4 by section, and time to pick at 100,000.

The labelled set is generated: each section has its own topic words, tags and authors,
mixed into a large shared vocabulary. A story is only ~5% words of its own topic and
~2.5% of the neighbouring section's, and 10% of stories carry another section's tags,
so neither text nor tags give the answer alone.
Precision@4 counts picks of the story's own section, measured twice: with every signal
(the default weights) and with text alone (section/tag/author boosts off), which shows
what TF-IDF contributes by itself.

Run: ``.venv/bin/python bench/related.py [--archive 100000] [--labelled 8000]``
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np

from syndicate.models import Article, Author
from syndicate.related.ranking import RelatedIndex, RelatedWeights

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


def precision_by_section(
    articles: list[Article], queries: int, weights: RelatedWeights
) -> dict[str, float]:
    """Mean share of the 4 picks in the story's own section, per section."""
    index = RelatedIndex(articles, weights)
    hits: dict[str, list[float]] = defaultdict(list)
    for story in articles[:queries]:
        picks = index.pick_per_story([story], 4, reference=T0)[story.id]
        hits[story.section].append(sum(p.section == story.section for p in picks) / 4)
    return {s: statistics.fmean(v) for s, v in sorted(hits.items())}


def timing(archive: list[Article], edition_size: int, repeat: int) -> dict[str, float]:
    """Seconds to build the index and to pick for one edition (median of ``repeat``)."""
    builds, picks, per_story = [], [], []
    stories = archive[:edition_size]
    for _ in range(repeat):
        start = time.perf_counter()
        index = RelatedIndex(archive)
        builds.append(time.perf_counter() - start)
        start = time.perf_counter()
        index.pick(stories, 4, reference=T0)
        picks.append(time.perf_counter() - start)
        start = time.perf_counter()
        index.pick_per_story(stories, 4, reference=T0)
        per_story.append(time.perf_counter() - start)
    return {
        "build": statistics.median(builds),
        "pick": statistics.median(picks),
        "per_story": statistics.median(per_story),
    }


def peak_memory(archive: list[Article], edition_size: int) -> float:
    """Peak traced allocation (MiB) of building the index and picking once."""
    tracemalloc.start()
    index = RelatedIndex(archive)
    index.pick(archive[:edition_size], 4, reference=T0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    """Print precision@4 by section and timings for the archive size asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", type=int, default=100_000)
    parser.add_argument("--labelled", type=int, default=8_000)
    parser.add_argument("--queries", type=int, default=800)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    labelled = generate(args.labelled, seed=2)
    full = precision_by_section(labelled, args.queries, RelatedWeights())
    no_section = precision_by_section(labelled, args.queries, RelatedWeights(section=0.0))
    text_only = precision_by_section(
        labelled, args.queries, RelatedWeights(section=0.0, tag=0.0, author=0.0)
    )
    print(f"precision@4 by section ({args.labelled:,} generated articles, {args.queries} stories)")
    print(f"{'section':<12}{'all signals':>13}{'no section':>12}{'text only':>11}")
    for section in full:
        print(
            f"{section:<12}{full[section]:>13.3f}{no_section[section]:>12.3f}"
            f"{text_only[section]:>11.3f}"
        )
    means = [statistics.fmean(d.values()) for d in (full, no_section, text_only)]
    print(f"{'mean':<12}{means[0]:>13.3f}{means[1]:>12.3f}{means[2]:>11.3f}")
    print("(chance is 0.125; 'no section' = tags, authors and text, without the section boost)")

    start = time.perf_counter()
    archive = generate(args.archive, seed=3)
    print(
        f"\narchive of {args.archive:,} articles generated in {time.perf_counter() - start:.1f} s"
    )
    times = timing(archive, 10, args.repeat)
    print(f"index build (TF-IDF fit + labels), median of {args.repeat}: {times['build']:.2f} s")
    print(f"pick 4 for a 10-story edition:            {times['pick'] * 1000:.1f} ms")
    print(f"pick 4 per story for 10 stories:          {times['per_story'] * 1000:.1f} ms")
    print(f"time to pick (build + edition pick):      {times['build'] + times['pick']:.2f} s")
    print(f"peak traced memory (build + pick):        {peak_memory(archive, 10):.0f} MiB")


if __name__ == "__main__":
    main()
