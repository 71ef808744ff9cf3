"""How good are the "More from" picks? precision@4, nDCG@4 and near-duplicate picks,
for the project's ranking beside plain TF-IDF cosine top-4 and BM25 top-4, on real
labelled text.

Data: the 20 Newsgroups "bydate" test split (``../shared/datasets/``, unpacked with
``--data``): an item is related to another when they share a newsgroup (fine labels) or a
top-level hierarchy (coarse: comp, rec, sci, talk, misc, soc/alt). Each post becomes an
:class:`Article` (the ``Subject:`` is the title, the body the text; other headers and
quoted lines ``>`` dropped), ranked in two forms: the full text, and "short" (title and
the first 40 words, as a summary-only feed gives). "with sections" gives every article
its coarse hierarchy as ``section``, as a publisher's sections would be: a real signal,
not the answer, for fine labels.

The generated set of ``bench/related.py`` (sections with their own topic words, tags and
authors) is the second labelled set.

A pick set has a near-duplicate pair when two picks (or a pick and its story) have a
TF-IDF cosine of 0.8 or more; "near-dup" is the share of picks in such a pair, and
"P@4 new" is precision@4 by fine label counting such a pick as a miss.

Run on its own: ``.venv/bin/python bench/related_quality.py --data /tmp/20ng [--queries
1000]``; ``bench/related.py`` runs it together with the scale table. Where
``bench/semantic_ranker.py`` exists and its ``available()`` says the ``semantic`` extra
is installed, its rankers join the table.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import statistics
import sys
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from related import generate
from syndicate.models import Article
from syndicate.related.ranking import RelatedIndex

T0 = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
K = 4
NEAR_DUPLICATE = 0.8
_QUOTE = re.compile(r"^\s*(>|\|>|:).*$", re.M)
_WRITES = re.compile(r"^.*(writes|wrote|said):\s*$", re.M)

Ranker = Callable[[Sequence[Article], Sequence[int]], list[list[int]]]


@dataclass(frozen=True)
class Labelled:
    """Articles with a fine and a coarse label each."""

    name: str
    articles: list[Article]
    fine: np.ndarray
    coarse: np.ndarray


def read_20ng(data: Path, split: str = "20news-bydate-test") -> Labelled:
    """The posts of one split as articles; labels from the folder names."""
    root = next(data.rglob(split), None)
    if root is None:
        archive = Path(__file__).resolve().parents[2] / "shared/datasets/20news-bydate.tar.gz"
        sys.exit(f"no {split}/ under {data}: unpack it first: tar -xzf {archive} -C {data}")
    articles, fine, coarse = [], [], []
    for group in sorted(p for p in root.iterdir() if p.is_dir()):
        top = group.name.split(".")[0]
        top = "soc" if top in ("soc", "alt") else top
        for post in sorted(group.iterdir(), key=lambda p: int(p.name)):
            raw = post.read_text(encoding="latin-1")
            head, _, body = raw.partition("\n\n")
            subject = next(
                (line[8:].strip() for line in head.splitlines() if line.startswith("Subject:")),
                "",
            )
            subject = re.sub(r"^(re:\s*)+", "", subject, flags=re.I)
            body = _WRITES.sub(" ", _QUOTE.sub(" ", body))
            articles.append(
                Article(
                    id=f"tag:bench.example,2026:20ng/{group.name}/{post.name}",
                    source="20ng",
                    url=f"https://bench.example/{group.name}/{post.name}",
                    title=subject,
                    dek="",
                    body_html="<p>" + html.escape(" ".join(body.split())) + "</p>",
                    authors=(),
                    section="",
                    tags=(),
                    image=None,
                    published_at=T0,
                    updated_at=T0,
                    content_hash=post.name,
                )
            )
            fine.append(group.name)
            coarse.append(top)
    name = f"20 Newsgroups ({split.rsplit('-', 1)[-1]} split)"
    return Labelled(name, articles, np.array(fine), np.array(coarse))


def generated(count: int) -> Labelled:
    """The generated set: sections carry the label; coarse = fine."""
    articles = generate(count, seed=2)
    labels = np.array([a.section for a in articles])
    plain = [replace(a, section="", tags=(), authors=()) for a in articles]
    return Labelled("generated sections", plain, labels, labels)


def baseline_text(article: Article) -> str:
    """The baselines' text: title twice, dek and body, as the issue's figures measured."""
    body = html.unescape(re.sub(r"<[^>]+>", " ", article.body_html))
    return " ".join(f"{article.title}. {article.title}. {article.dek}. {body}".split())


def short(article: Article) -> Article:
    """Title and the first 40 words of the text: a summary-only feed's item."""
    words = html.unescape(re.sub(r"<[^>]+>", " ", article.body_html)).split()[:40]
    return replace(article, dek="", body_html="<p>" + html.escape(" ".join(words)) + "</p>")


# --- rankers: each takes the pool and query positions, returns k positions per query ----


def project(articles: Sequence[Article], queries: Sequence[int]) -> list[list[int]]:
    """The project's default ranking (``RelatedIndex.pick_per_story``), one story at a
    time: asked together, stories are never each other's picks (an edition's contract),
    which would take every other query out of each query's pool."""
    index = RelatedIndex(articles)
    position = {a.id: n for n, a in enumerate(articles)}
    out = []
    for q in queries:
        story = articles[q]
        picks = index.pick_per_story([story], K, reference=T0)[story.id]
        out.append([position[p.id] for p in picks])
    return out


def _top_k(scores: np.ndarray, queries: Sequence[int]) -> list[list[int]]:
    scores[np.arange(len(queries)), np.asarray(queries)] = -np.inf  # never the story itself
    top = np.argpartition(-scores, K, axis=1)[:, :K]
    ordered = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), 1), 1)
    return ordered.tolist()  # type: ignore[no-any-return]


def tfidf(articles: Sequence[Article], queries: Sequence[int]) -> list[list[int]]:
    """Plain TF-IDF cosine top-k (scikit-learn defaults, English stop words)."""
    matrix = TfidfVectorizer(stop_words="english").fit_transform(
        [baseline_text(a) for a in articles]
    )
    out: list[list[int]] = []
    for start in range(0, len(queries), 500):
        batch = list(queries[start : start + 500])
        out += _top_k((matrix[batch] @ matrix.T).toarray(), batch)
    return out


def bm25(
    articles: Sequence[Article], queries: Sequence[int], k1: float = 1.2, b: float = 0.75
) -> list[list[int]]:
    """Okapi BM25 top-k, the query being the story's distinct terms."""
    counts = sparse.csr_matrix(
        CountVectorizer(stop_words="english").fit_transform([baseline_text(a) for a in articles]),
        dtype=np.float64,
    )
    n_docs = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    norm = k1 * (1 - b + b * lengths / lengths.mean())
    weighted = counts.tocoo()
    values = weighted.data * (k1 + 1) / (weighted.data + norm[weighted.row])
    doc_term = sparse.csr_matrix((values * idf[weighted.col], (weighted.row, weighted.col)))
    presence = counts.copy()
    presence.data[:] = 1.0
    out: list[list[int]] = []
    for start in range(0, len(queries), 500):
        batch = list(queries[start : start + 500])
        out += _top_k((presence[batch] @ doc_term.T).toarray(), batch)
    return out


RANKERS: dict[str, Ranker] = {"project": project, "tf-idf": tfidf, "bm25": bm25}

try:  # the ``semantic`` extra's rankers, where bench/semantic_ranker.py and its model exist
    import semantic_ranker  # type: ignore[import-not-found, unused-ignore]
except ImportError:
    semantic_ranker = None
SEMANTIC: frozenset[str] = frozenset()
if semantic_ranker is not None and semantic_ranker.available():
    RANKERS.update(semantic_ranker.RANKERS)
    SEMANTIC = frozenset(semantic_ranker.RANKERS)
# The embedding model reads real English: the generated set's made-up words tell it
# nothing. The train split costs another 22,000 embeddings (about 40 CPU-minutes on 2
# cores), so the semantic rankers run on the test split unless SEMANTIC_BENCH_SPLITS
# names more ("test,train").
SEMANTIC_SETS = tuple(
    f"20 Newsgroups ({split.strip()}"
    for split in os.environ.get("SEMANTIC_BENCH_SPLITS", "test").split(",")
    if split.strip()
)


# --- measures ---------------------------------------------------------------------------


def precision(picks: list[list[int]], queries: Sequence[int], labels: np.ndarray) -> float:
    """Mean share of the k picks that share the story's label."""
    return statistics.fmean(
        sum(labels[p] == labels[q] for p in row) / K for row, q in zip(picks, queries, strict=True)
    )


def ndcg(picks: list[list[int]], queries: Sequence[int], labels: np.ndarray) -> float:
    """nDCG@k with binary gains; the ideal is k relevant items (always available here)."""
    discounts = 1 / np.log2(np.arange(2, K + 2))
    ideal = discounts.sum()
    return statistics.fmean(
        sum(discounts[i] for i, p in enumerate(row) if labels[p] == labels[q]) / ideal
        for row, q in zip(picks, queries, strict=True)
    )


def near_duplicates(
    picks: list[list[int]], queries: Sequence[int], matrix: sparse.csr_matrix
) -> list[list[bool]]:
    """For each pick, whether it is a near-copy of another pick or of the story."""
    out = []
    for row, q in zip(picks, queries, strict=True):
        group = [q, *row]
        sims = (matrix[group] @ matrix[group].T).toarray()
        np.fill_diagonal(sims, 0.0)
        out.append([bool(flag) for flag in (sims[1:] >= NEAR_DUPLICATE).any(axis=1)])
    return out


def near_duplicate_share(copies: list[list[bool]]) -> float:
    """Share of picks that are a near-copy of another pick or of the story."""
    total = sum(len(row) for row in copies)
    return sum(sum(row) for row in copies) / max(total, 1)


def precision_new(
    picks: list[list[int]], queries: Sequence[int], labels: np.ndarray, copies: list[list[bool]]
) -> float:
    """Precision@k counting a near-copy as a miss: a reader who already has the story
    gains nothing from a second copy of it (DESIGN §5, "never the same story twice")."""
    return statistics.fmean(
        sum(labels[p] == labels[q] and not copy for p, copy in zip(row, flags, strict=True)) / K
        for row, q, flags in zip(picks, queries, copies, strict=True)
    )


def evaluate(data: Labelled, queries: Sequence[int], with_sections: bool) -> None:
    """One block of rows: full and short text, every ranker."""
    for form, articles in (("full", data.articles), ("short", [short(a) for a in data.articles])):
        if with_sections:
            articles = [
                replace(a, section=str(c)) for a, c in zip(articles, data.coarse, strict=True)
            ]
        plain = TfidfVectorizer(stop_words="english").fit_transform(
            [baseline_text(a) for a in articles]
        )
        for name, ranker in RANKERS.items():
            if name in SEMANTIC and not data.name.startswith(SEMANTIC_SETS):
                continue
            start = time.perf_counter()
            picks = ranker(articles, queries)
            seconds = time.perf_counter() - start
            copies = near_duplicates(picks, queries, plain)
            print(
                f"{data.name[:26]:<27}{form:<6}{'yes' if with_sections else 'no':<9}{name:<9}"
                f"{precision(picks, queries, data.fine):>8.3f}"
                f"{ndcg(picks, queries, data.fine):>8.3f}"
                f"{precision(picks, queries, data.coarse):>8.3f}"
                f"{precision_new(picks, queries, data.fine, copies):>8.3f}"
                f"{near_duplicate_share(copies):>9.3f}{seconds:>8.1f}",
                flush=True,
            )


def unpack(data: Path) -> None:
    """Unpack the shared 20NG archive into ``data`` unless already there."""
    if not any(data.rglob("20news-bydate-test")):
        tar = Path(__file__).resolve().parents[2] / "shared/datasets/20news-bydate.tar.gz"
        if tar.is_file():
            data.mkdir(parents=True, exist_ok=True)
            with tarfile.open(tar) as archive:
                archive.extractall(data, filter="data")


def quality(data: Path, queries: int, generated_size: int, quick: bool = False) -> None:
    """Print the quality table: every set, form, section setting and ranker."""
    unpack(data)
    sets = [read_20ng(data)]
    if not quick:
        sets.append(read_20ng(data, "20news-bydate-train"))
    sets.append(generated(generated_size))
    print(
        f"{'set':<27}{'text':<6}{'sections':<9}{'ranker':<9}"
        f"{'P@4':>8}{'nDCG@4':>8}{'P@4 crs':>8}{'P@4 new':>8}{'near-dup':>9}{'s':>8}",
        flush=True,
    )
    for data_set in sets:
        rng = np.random.default_rng(7)
        size = min(queries, len(data_set.articles))
        chosen = sorted(rng.choice(len(data_set.articles), size=size, replace=False).tolist())
        for with_sections in (False, True):
            if with_sections and data_set.name.startswith("generated"):
                continue  # there the section is the label itself
            evaluate(data_set, chosen, with_sections)
    print("P@4 and nDCG@4 by fine label; 'P@4 crs' by coarse label (20NG hierarchies);")
    print("'P@4 new' by fine label, a near-copy of the story or of another pick a miss.")


def main() -> None:
    """Print the table for every set, form and ranker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder 20NG was unpacked in")
    parser.add_argument("--queries", type=int, default=1000, help="stories ranked per set")
    parser.add_argument("--generated", type=int, default=8000, help="size of the generated set")
    args = parser.parse_args()
    quality(args.data, args.queries, args.generated)


if __name__ == "__main__":
    main()
