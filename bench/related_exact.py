"""Do two versions of the ranking pick the same? Picks for editions of a generated store.

Writes the picks (edition picks and per-story picks) of ``--editions`` 10-story editions
over a ``--size``-article generated pool as JSON, so the picks of a change can be compared
with those of the code before it::

    PYTHONPATH=<old>/src python bench/related_exact.py --out old.json
    PYTHONPATH=src python bench/related_exact.py --out new.json --compare old.json

Some articles are put in story clusters, marked ``related_exclude`` or pinned, so those
paths are exercised too. No threshold: any differing pick is listed.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from related import T0, generate
from syndicate.related.ranking import RelatedIndex


def picks(size: int, editions: int) -> dict[str, list[str]]:
    """Picks by edition and by story over a generated pool of ``size`` articles."""
    articles = generate(size, seed=5)
    # Clusters (some named after a member), an excluded article in fifty, a pin in a hundred.
    articles = [
        replace(
            a,
            story=f"story-{n // 3}" if n % 7 == 0 else articles[n - 1].id if n % 11 == 0 else "",
            related_exclude=n % 50 == 1,
            related_pins=(articles[(n * 31) % size].id,) if n % 100 == 2 else (),
        )
        for n, a in enumerate(articles)
    ]
    index = RelatedIndex(articles)
    out: dict[str, list[str]] = {}
    step = max(1, size // (editions * 10))
    for e in range(editions):
        stories = [articles[(e * 10 + n) * step % size] for n in range(10)]
        edition = index.pick(stories, 4, reference=T0, exclude=[articles[e].id])
        out[f"edition {e}"] = [a.id for a in edition]
        for sid, chosen in index.pick_per_story(stories, 4, reference=T0).items():
            out[f"edition {e} story {sid}"] = [a.id for a in chosen]
    return out


def main() -> None:
    """Write the picks; with ``--compare``, list where they differ from an earlier run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--editions", type=int, default=30)
    parser.add_argument("--out", required=True)
    parser.add_argument("--compare")
    args = parser.parse_args()
    result = picks(args.size, args.editions)
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True))
    if args.compare:
        before = json.loads(Path(args.compare).read_text())
        differ = sorted(k for k in before.keys() | result.keys() if before.get(k) != result.get(k))
        for key in differ:
            print(f"{key}: {before.get(key)} → {result.get(key)}")
        print(f"{len(result)} pick lists, {len(differ)} differ")
        sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
