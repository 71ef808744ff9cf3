"""Story clusters: how often two copies of one story are found, and how often two
different stories are taken for one, at each similarity threshold.

Two sets, both read through the project's own signature (``syndicate.ingest.signature``:
the words of title + first 60 words of the lead, Jaccard similarity):

1. **Rewrites** (``bench/data/story_rewrites.json``, hand-made): 23 stories, each as two
   or three outlets would run it (headline rewritten, lead reworded, sometimes a light
   wire edit), and one *different* story on the same topic (a follow-up, the same kind
   of event elsewhere). Positives: pairs of versions of one story. "near FP": a version
   taken for its same-topic different story; "other FP": for any other story.
2. **20 Newsgroups** (``../shared/datasets/20news-bydate.tar.gz``, both splits, 18,846
   posts; quoted lines and "Re:" dropped, as ``bench/related_quality.py`` reads them). A
   pair is a *copy* when the two full bodies share at least 80% of their word 3-grams
   (reposts, cross-posts, the same announcement twice). As in the store, where one
   source's items are never clustered together, pairs by the same author are left out.
   "found" is the share of copies whose signatures reach the threshold; "FP pairs" are
   pairs that reach it but are not copies (mostly short replies in one thread, which a
   news feed does not have, and daily score tables, which it does), and "FP posts" the
   share of posts in at least one.

Also prints the cost of signing an article and of placing a batch of new articles among
a window of stored ones (``assign_stories``).

Run: ``.venv/bin/python bench/dedup.py --data /tmp/20ng``
"""

from __future__ import annotations

import argparse
import html
import itertools
import json
import re
import statistics
import sys
import tarfile
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from scipy import sparse

from syndicate.ingest.content import clean_entry
from syndicate.ingest.signature import features, signature, similarity
from syndicate.ingest.stories import Newcomer, StoryRules, assign_stories, place_stories
from syndicate.models import Entry
from syndicate.store import open_store
from syndicate.store.stories import StoryPeer

HERE = Path(__file__).resolve().parent
THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)
_QUOTE = re.compile(r"^\s*(>|\|>|:).*$", re.M)
_WRITES = re.compile(r"^.*(writes|wrote|said):\s*$", re.M)


def sign(title: str, lead: str) -> frozenset[int]:
    return features(signature(title, "", f"<p>{html.escape(lead)}</p>"))


def rewrites() -> None:
    stories = json.loads((HERE / "data" / "story_rewrites.json").read_text())["stories"]
    items: list[tuple[int, bool, frozenset[int]]] = []  # (story, is the different one, sig)
    for n, story in enumerate(stories):
        items += [(n, False, sign(v["title"], v["lead"])) for v in story["versions"]]
        items.append((n, True, sign(story["different"]["title"], story["different"]["lead"])))
    positives, near, other = [], [], []
    for (n1, d1, s1), (n2, d2, s2) in itertools.combinations(items, 2):
        score = similarity(s1, s2)
        if n1 == n2 and not d1 and not d2:
            positives.append(score)
        elif n1 == n2:
            near.append(score)
        else:
            other.append(score)
    print(
        f"Rewrites: {len(stories)} stories, {len(positives)} same-story pairs, "
        f"{len(near)} same-topic pairs, {len(other)} other pairs"
    )
    print(
        f"  same-story similarity: min {min(positives):.2f}, median "
        f"{statistics.median(positives):.2f}; same-topic max {max(near):.2f}; "
        f"other max {max(other):.2f}"
    )
    print(f"  {'threshold':>9} {'found':>9} {'missed':>7} {'near FP':>8} {'other FP':>9}")
    for t in THRESHOLDS:
        found = sum(s >= t for s in positives)
        print(
            f"  {t:>9.2f} {found:>4}/{len(positives):<4} {len(positives) - found:>7} "
            f"{sum(s >= t for s in near):>4}/{len(near):<3} {sum(s >= t for s in other):>9}"
        )


def read_posts(data: Path) -> list[tuple[str, str, str]]:
    """(author, title, body) of every post of both splits."""
    posts = []
    for split in ("20news-bydate-train", "20news-bydate-test"):
        root = next(data.rglob(split), None)
        if root is None:
            sys.exit(f"no {split}/ under {data}")
        for group in sorted(p for p in root.iterdir() if p.is_dir()):
            for post in sorted(group.iterdir(), key=lambda p: int(p.name)):
                head, _, body = post.read_text(encoding="latin-1").partition("\n\n")
                fields = dict(
                    (k.strip().lower(), v.strip())
                    for k, _, v in (line.partition(":") for line in head.splitlines())
                )
                title = re.sub(r"^(re:\s*)+", "", fields.get("subject", ""), flags=re.I)
                body = " ".join(_WRITES.sub(" ", _QUOTE.sub(" ", body)).split())
                posts.append((fields.get("from", ""), title, body))
    return posts


def _binary(sets: list[frozenset[int]]) -> sparse.csr_matrix:
    vocab: dict[int, int] = {}
    rows, cols = [], []
    for row, values in enumerate(sets):
        for value in values:
            rows.append(row)
            cols.append(vocab.setdefault(value, len(vocab)))
    data = np.ones(len(rows), dtype=np.float32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(sets), max(len(vocab), 1)))


def newsgroups(data: Path) -> None:
    posts = read_posts(data)
    sigs = [sign(title, body) for _, title, body in posts]
    grams = []
    for _, _, body in posts:
        w = body.split()
        grams.append(frozenset(hash(" ".join(w[i : i + 3])) for i in range(max(1, len(w) - 2))))
    sizes = np.array([len(s) for s in sigs])
    # All pairs sharing a word, from one sparse product: exact intersections.
    product = sparse.triu(_binary(sigs) @ _binary(sigs).T, k=1).tocoo()
    jaccard = product.data / (sizes[product.row] + sizes[product.col] - product.data)
    keep = (jaccard >= min(THRESHOLDS)) & (sizes[product.row] > 0)
    pairs = [
        (int(i), int(j), float(s))
        for i, j, s in zip(product.row[keep], product.col[keep], jaccard[keep], strict=True)
        if posts[i][0] != posts[j][0]
    ]

    def copy(i: int, j: int) -> bool:
        a, b = grams[i], grams[j]
        return len(posts[i][2].split()) >= 20 and len(a & b) / len(a | b) >= 0.8

    # Copies: found among pairs sharing words, plus any with identical bodies.
    truth = {(i, j): copy(i, j) for i, j, _ in pairs}
    by_body: dict[str, list[int]] = {}
    for n, (_, _, body) in enumerate(posts):
        by_body.setdefault(body, []).append(n)
    for group in by_body.values():
        for i, j in itertools.combinations(group, 2):
            if posts[i][0] != posts[j][0] and len(posts[i][2].split()) >= 20:
                truth[(i, j)] = True
    score = {(i, j): s for i, j, s in pairs}
    copies = [p for p, is_copy in truth.items() if is_copy]
    print(f"\n20 Newsgroups: {len(posts)} posts, {len(copies)} copy pairs by different authors")
    print(f"  {'threshold':>9} {'found':>11} {'FP pairs':>9} {'FP posts':>9}")
    for t in THRESHOLDS:
        found = sum(score.get(p, 0.0) >= t for p in copies)
        wrong = [(i, j) for i, j, s in pairs if s >= t and not truth[(i, j)]]
        share = len({n for pair in wrong for n in pair}) / len(posts)
        print(f"  {t:>9.2f} {found:>5}/{len(copies):<5} {len(wrong):>9} {share:>9.2%}")


def cost() -> None:
    rng = np.random.default_rng(3)
    vocabulary = [f"w{n}" for n in range(20_000)]

    def text() -> tuple[str, str]:
        picked = rng.choice(vocabulary, size=70, replace=True)
        return " ".join(picked[:10]), "<p>" + " ".join(picked[10:]) + "</p>"

    texts = [text() for _ in range(2_000)]
    start = time.perf_counter()
    signed = [signature(t, "", b) for t, b in texts]
    per_article = (time.perf_counter() - start) / len(texts) * 1e6
    print(f"\nSigning: {per_article:.0f} µs per article")
    t0 = datetime(2026, 11, 20, tzinfo=UTC)
    for window, size in ((1_000, 5), (10_000, 5), (10_000, 500)):
        peers = [
            StoryPeer(f"p{n}", f"s{n % 20}", "", f"k{n}", signed[n % 2000], t0)
            for n in range(window)
        ]
        batch = [
            Newcomer(f"n{n}", "new", f"x{n}", signed[(n * 7) % 2000], t0 + timedelta(hours=1))
            for n in range(size)
        ]
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            assign_stories(batch, peers, StoryRules())
            runs.append(time.perf_counter() - start)
        print(
            f"Placing {size} new articles among {window:,} in the window: "
            f"{statistics.median(runs) * 1000:.0f} ms (median of 3)"
        )
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{folder}/bench.db")
        entries = [
            clean_entry(
                Entry(
                    key=f"a{n}",
                    url=f"https://news.example/{n}",
                    title=t,
                    body_html=b,
                    published_at=t0 - timedelta(minutes=n * 26 % (6 * 24 * 60)),
                ),
                source=f"s{n % 20}",
                authority="bench.example,2026",
                site_url="https://x.example",
            )
            for n, (t, b) in enumerate(texts * 5)
        ]
        for start_at in range(0, len(entries), 1000):
            store.save_entries(entries[start_at : start_at + 1000], t0)
        fresh = [replace(e, id=f"{e.id}-new", source="new", published_at=t0) for e in entries[:5]]
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            place_stories(store, fresh, t0, StoryRules())
            runs.append(time.perf_counter() - start)
        window_size = sum(1 for a in store.iter_articles(since=t0 - timedelta(days=3)))
        print(
            f"One poll bringing 5 new articles, SQLite store of {len(entries):,} "
            f"({window_size:,} in the 3-day window): {statistics.median(runs) * 1000:.0f} ms "
            "(read the window, place; median of 3)"
        )
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder 20NG was unpacked in")
    args = parser.parse_args()
    if not any(args.data.rglob("20news-bydate-test")):
        tar = HERE.parents[1] / "shared/datasets/20news-bydate.tar.gz"
        if tar.is_file():
            with tarfile.open(tar) as archive:
                archive.extractall(args.data, filter="data")
    rewrites()
    newsgroups(args.data)
    cost()


if __name__ == "__main__":
    main()
