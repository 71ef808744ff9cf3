"""The persistent related index at scale: build, load, per-edition pick time, memory.

For each archive size, generated articles (``bench/related.py``'s generator) are saved to
a temporary SQLite store by one process, then measured by another that does nothing else
(so its resident memory is that of one daemon):

- build: ``sync_terms`` computing and storing every article's term vector (what
  ``syndicate db upgrade`` does once for an existing archive; ingest does it per article);
- load: the first ranking in a process reading the stored vectors into memory;
- pick: one 10-story edition's 4 picks through ``related_index`` once warm (median of
  ``--repeat``; includes the check for changed rows);
- memory: peak traced allocation (tracemalloc) of load + picks, and the process's peak
  resident set size (RSS, ``ru_maxrss``), the whole interpreter included.

Run on its own: ``.venv/bin/python bench/related_scale.py [--sizes 2000,20000,100000]``;
``bench/related.py`` runs it after the quality table.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from related import T0, generate
from syndicate.config import ChannelConfig, Settings
from syndicate.models import Article, CleanEntry
from syndicate.store import open_store


def _entry(a: Article) -> CleanEntry:
    return CleanEntry(
        id=a.id,
        source=a.source,
        url=a.url,
        title=a.title,
        dek=a.dek,
        body_html=a.body_html,
        authors=a.authors,
        section=a.section,
        tags=a.tags,
        image=a.image,
        published_at=a.published_at,
        updated_at=a.updated_at,
        featured=False,
        content_hash=a.content_hash,
    )


def build(size: int, path: str) -> dict[str, float]:
    """Save ``size`` generated articles to a new SQLite store at ``path`` and time the
    backfill of their term vectors (what ``db upgrade`` does for an existing archive)."""
    from syndicate.related.sync import sync_terms

    store = open_store(f"sqlite:///{path}")
    archive = generate(size, seed=3)
    for start in range(0, size, 5000):
        store.save_entries([_entry(a) for a in archive[start : start + 5000]], T0)
    del archive
    start = time.perf_counter()
    sync_terms(store, batch=2000)
    seconds = time.perf_counter() - start
    store.close()
    return {"build": seconds}


def measure(path: str, repeat: int) -> dict[str, float]:
    """In a process that did nothing else (a daemon's): load the stored index, pick for
    one 10-story edition ``repeat`` times, then trace one cold load + pick."""
    from syndicate.related.cache import forget_stored_indexes, related_index, stored_index

    store = open_store(f"sqlite:///{path}")
    stories = generate(10, seed=3)  # the archive's first ten articles
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    settings = Settings(site={"name": "Bench", "base_url": "https://bench.example"})
    channel = ChannelConfig(name="all", title="All")
    start = time.perf_counter()
    stored_index(store).refresh(store)
    load = time.perf_counter() - start
    picks = []
    for _ in range(repeat):
        start = time.perf_counter()
        related_index(store, settings, channel, until=T0).pick(stories, 4, reference=T0)
        picks.append(time.perf_counter() - start)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Traced separately: tracemalloc slows allocation-heavy code several times over.
    forget_stored_indexes()
    tracemalloc.start()
    related_index(store, settings, channel, until=T0).pick(stories, 4, reference=T0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    store.close()
    return {
        "load": load,
        "pick": statistics.median(picks),
        "traced": peak / 2**20,
        "rss": rss,
        "rss_before": rss_before,
    }


def _child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def scale(sizes: list[int], repeat: int) -> None:
    """Print one row per archive size: built in one process, measured in another."""
    print(
        f"{'articles':>9}{'build s':>9}{'load s':>8}{'pick ms':>9}"
        f"{'traced MiB':>11}{'RSS MiB':>9}{'(before load)':>14}",
        flush=True,
    )
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            path = f"{folder}/bench.db"
            row = _child("--build", str(size), "--db", path)
            row |= _child("--measure", "--db", path, "--repeat", str(repeat))
        print(
            f"{size:>9,}{row['build']:>9.1f}{row['load']:>8.2f}{row['pick'] * 1000:>9.0f}"
            f"{row['traced']:>11.0f}{row['rss']:>9.0f}{row['rss_before']:>14.0f}",
            flush=True,
        )


def main() -> None:
    """Print one row per archive size, each measured in its own process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,20000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        print(json.dumps(build(args.build, args.db)))
    elif args.measure:
        print(json.dumps(measure(args.db, args.repeat)))
    else:
        scale([int(s) for s in args.sizes.split(",")], args.repeat)


if __name__ == "__main__":
    main()
