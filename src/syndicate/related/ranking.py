"""Pure ranking of "More from <Publication>" picks: (stories, candidates, k) → articles.

No I/O: the caller loads the candidate pool and the ids to exclude. The score of a
candidate ``c`` for a story ``s`` is::

    (cosine(tfidf(s), tfidf(c)) + section·[same, non-empty section]
     + tag·min(Σ idf-weighted shared tags, tag_cap) + author·[shared author]
     + semantic·cosine(embedding(s), embedding(c)))
    · 0.5 ** (age(c) / half_life)

with TF-IDF over title (counted twice: it carries the topic), dek and body text, and
the embedding term only when the index is given sentence embeddings
(``[related] semantic``, :mod:`syndicate.related.semantic`), and ``age`` measured from the
reference time (the edition's slot, or the newest story). A
shared tag counts by how rare it is (1 for a tag on one article in the pool, near 0 for a
tag on most of them), so a tag like "usa" on two thirds of the archive adds nothing. For
an edition the relevance of a candidate is its best score over the stories, the lead
weighted above the rest.

The picks are the k most relevant candidates, except that a candidate whose TF-IDF
cosine with a story or with an earlier pick reaches ``near_duplicate`` is passed over:
it is a copy of something the reader already has. An earlier version penalised picks
for resembling each other at all (maximal marginal relevance); measured on labelled
news text (``bench/related_quality.py``) that traded 5–17 points of precision for
diversity, swapping relevant picks for off-topic ones that shared one rare word.

Determinism: the pool is de-duplicated and sorted by id before the index is built and
every sort breaks ties by id, so the same input gives the same picks whatever order it
came in.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from scipy import sparse

from syndicate.models import Article

FloatArray = npt.NDArray[np.float64]
Embed = Callable[[Sequence[Article]], npt.NDArray[np.float32]]

_TAG_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class RelatedWeights:
    """How much each signal counts.

    Cosine similarities of short news texts sit mostly between 0.02 and 0.4, so a shared
    section (0.15) or two shared rare tags (0.2) outweigh a merely newer, unrelated item.
    ``near_duplicate`` is the TF-IDF cosine at which a candidate counts as a copy of a
    story or of another pick (``bench/related_quality.py`` measures both choices).
    ``semantic`` weighs the sentence-embedding cosine when the index has embeddings:
    1.0 measured best beside the defaults (``bench/semantic_ranker.py``, docs/related.md).
    """

    section: float = 0.15
    tag: float = 0.1
    tag_cap: int = 3
    author: float = 0.1
    half_life_days: float = 365.0
    lead_weight: float = 1.0
    other_weight: float = 0.85
    near_duplicate: float = 0.8
    semantic: float = 1.0


@dataclass(frozen=True, slots=True)
class Signals:
    """The parts of a score, each a (stories × pool) matrix; see ``combined``."""

    text: FloatArray
    section: FloatArray
    tag: FloatArray
    author: FloatArray
    decay: FloatArray
    semantic: FloatArray | None = None  # weight × embedding cosine, when there are any

    def combined(self) -> FloatArray:
        """The score: the additive signals, times the age decay."""
        total = self.text + self.section + self.tag + self.author
        if self.semantic is not None:
            total = total + self.semantic
        return np.asarray(total * self.decay)


def article_text(article: Article) -> str:
    """The words ranked: title twice, dek, and the body without markup."""
    body = html.unescape(_TAG_RE.sub(" ", article.body_html))
    return _SPACE_RE.sub(" ", f"{article.title}. {article.title}. {article.dek}. {body}").strip()


def _folded(values: Iterable[str]) -> list[str]:
    return sorted({v.casefold() for v in values if v.strip()})


def _label_matrix(labels: list[list[str]], vocab: dict[str, int]) -> sparse.csr_matrix:
    rows, cols = [], []
    for row, names in enumerate(labels):
        for name in names:
            if name in vocab:
                rows.append(row)
                cols.append(vocab[name])
    data = np.ones(len(rows), dtype=np.float32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(labels), max(len(vocab), 1)))


class RelatedIndex:
    """TF-IDF vectors and section/tag/author labels of a candidate pool, built once.

    Build one per run and ask it for an edition's picks and for per-story picks; each
    question costs one sparse product over the pool, not a rebuild.

    With ``embeddings`` (unit rows by article id, e.g. stored ones) or ``embed`` (a
    model: articles → unit rows), the score gains ``semantic × cosine`` of the
    sentence embeddings. ``embed`` fills in the pool's articles and stories that
    ``embeddings`` lacks; without it they have no semantic signal (0).
    """

    def __init__(
        self,
        pool: Sequence[Article],
        weights: RelatedWeights | None = None,
        *,
        embeddings: Mapping[str, npt.NDArray[np.float32]] | None = None,
        embed: Embed | None = None,
    ) -> None:
        self.weights = weights or RelatedWeights()
        unique = {a.id: a for a in pool}
        self.articles: list[Article] = [unique[i] for i in sorted(unique)]
        self._position = {a.id: n for n, a in enumerate(self.articles)}
        self._embeddings = embeddings
        self._embed = embed
        self._dense = (
            self._embedded(self.articles) if embeddings is not None or embed is not None else None
        )
        # min_df=2 on big pools drops one-off tokens (typos, numbers): a smaller vocabulary
        # and less memory, with no effect on which items rank high.
        # Imported here: scikit-learn takes most of a second to import, and every CLI
        # command that merely might compose an edition would pay for it.
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._vectorizer = TfidfVectorizer(
            stop_words="english",
            sublinear_tf=True,
            min_df=2 if len(self.articles) >= 1000 else 1,
            dtype=np.float32,
        )
        self.matrix = self._fit([article_text(a) for a in self.articles])
        # An empty section is no section: it must not earn every unlabelled pair the boost.
        sections = sorted({a.section.casefold() for a in self.articles} - {""})
        self._section_code = {s: n for n, s in enumerate(sections)}
        self._sections = np.array(
            [self._section_code.get(a.section.casefold(), -2) for a in self.articles],
            dtype=np.int64,
        )
        self._tag_vocab = _vocab(_folded(a.tags) for a in self.articles)
        self._tags = _label_matrix([_folded(a.tags) for a in self.articles], self._tag_vocab)
        self._tag_weight = _rarity(self._tags)
        self._author_vocab = _vocab(_authors(a) for a in self.articles)
        self._authors = _label_matrix([_authors(a) for a in self.articles], self._author_vocab)
        self._published = np.array([a.published_at.timestamp() for a in self.articles])

    def _fit(self, texts: list[str]) -> sparse.csr_matrix:
        if not texts:
            return sparse.csr_matrix((0, 1), dtype=np.float32)
        try:
            return sparse.csr_matrix(self._vectorizer.fit_transform(texts))
        except ValueError:  # empty vocabulary: every text was empty or stop words
            return sparse.csr_matrix((len(texts), 1), dtype=np.float32)

    def _vectors(self, stories: Sequence[Article]) -> sparse.csr_matrix:
        if not hasattr(self._vectorizer, "vocabulary_"):
            return sparse.csr_matrix((len(stories), self.matrix.shape[1]), dtype=np.float32)
        return sparse.csr_matrix(self._vectorizer.transform([article_text(s) for s in stories]))

    def _embedded(self, articles: Sequence[Article]) -> npt.NDArray[np.float32] | None:
        """Unit rows for ``articles``: stored ones, the rest from ``embed`` (or zeros)."""
        known = self._embeddings or {}
        missing = [a for a in articles if a.id not in known]
        made = self._embed(missing) if missing and self._embed is not None else None
        width = next((len(v) for v in known.values()), None)
        if made is not None and len(made):
            width = made.shape[1]
        if width is None:
            return None
        rows = np.zeros((len(articles), width), dtype=np.float32)
        fresh = {a.id: n for n, a in enumerate(missing)}
        for n, article in enumerate(articles):
            if article.id in known:
                rows[n] = known[article.id]
            elif made is not None:
                rows[n] = made[fresh[article.id]]
        return rows

    def signals(self, stories: Sequence[Article], reference: datetime | None = None) -> Signals:
        """Each signal's (stories × pool) matrix, before they are combined.

        The contract :func:`explain` and the CLI build on: ``text`` (lexical
        similarity), ``section``, ``tag``, ``author`` (each already multiplied by its
        weight) and ``decay`` (the age multiplier, 1 for a new article).
        """
        w = self.weights
        n = len(self.articles)
        if not stories or not n:
            empty = np.zeros((len(stories), n))
            return Signals(empty, empty, empty, empty, np.ones((len(stories), n)))
        cosine = (self._vectors(stories) @ self.matrix.T).toarray().astype(np.float64)
        codes = np.array([self._section_code.get(s.section.casefold(), -1) for s in stories])
        same_section = (codes[:, None] == self._sections[None, :]).astype(np.float64)
        story_tags = _label_matrix([_folded(s.tags) for s in stories], self._tag_vocab)
        shared_tags = (story_tags.multiply(self._tag_weight[None, :]) @ self._tags.T).toarray()
        story_authors = _label_matrix([_authors(s) for s in stories], self._author_vocab)
        shared_authors = (story_authors @ self._authors.T).toarray() > 0
        ref = reference or max(s.published_at for s in stories)
        age_days = np.maximum(0.0, (ref.timestamp() - self._published) / 86400.0)
        decay = np.broadcast_to(0.5 ** (age_days / w.half_life_days), cosine.shape)
        semantic = None
        if self._dense is not None:
            known = {a.id: self._dense[n] for a, n in self._position_of(stories)}
            others = [s for s in stories if s.id not in known]
            rows = self._embedded(others) if others else None
            blank = np.zeros(self._dense.shape[1], dtype=np.float32)
            made = {s.id: rows[n] for n, s in enumerate(others)} if rows is not None else {}
            vectors = np.stack([known.get(s.id, made.get(s.id, blank)) for s in stories])
            semantic = w.semantic * (vectors @ self._dense.T).astype(np.float64)
        return Signals(
            text=cosine,
            section=w.section * same_section,
            tag=w.tag * np.minimum(shared_tags, w.tag_cap),
            author=w.author * shared_authors.astype(np.float64),
            decay=np.asarray(decay),
            semantic=semantic,
        )

    def _position_of(self, stories: Sequence[Article]) -> list[tuple[Article, int]]:
        return [(s, self._position[s.id]) for s in stories if s.id in self._position]

    def scores(self, stories: Sequence[Article], reference: datetime | None = None) -> FloatArray:
        """A (stories × pool) matrix of boosted, age-decayed scores."""
        return self.signals(stories, reference).combined()

    def pick(
        self,
        stories: Sequence[Article],
        k: int = 4,
        *,
        exclude: Iterable[str] = (),
        reference: datetime | None = None,
    ) -> tuple[Article, ...]:
        """k items related to the edition as a whole (lead first in weight).

        Never a story of the edition or a member of a story's cluster, never an id in
        ``exclude`` (e.g. the items of the channel's last editions) nor an article marked
        ``related_exclude``, never two members of one cluster, never a near-copy of a
        story or of another pick. The stories' pinned picks (lead first) come first.
        """
        if not stories or k <= 0:
            return ()
        scores = self.scores(stories, reference)
        weights = np.full(len(stories), self.weights.other_weight)
        weights[0] = self.weights.lead_weight
        relevance = (scores * weights[:, None]).max(axis=0)
        pins = [pin for s in stories for pin in s.related_pins]
        return self._diversify(relevance, set(exclude), stories, k, self._vectors(stories), pins)

    def pick_per_story(
        self,
        stories: Sequence[Article],
        k: int = 4,
        *,
        exclude: Iterable[str] = (),
        reference: datetime | None = None,
    ) -> dict[str, tuple[Article, ...]]:
        """For each story, k items related to it alone (never a story of the same set)."""
        if not stories or k <= 0:
            return {s.id: () for s in stories}
        scores = self.scores(stories, reference)
        banned = set(exclude)
        vectors = self._vectors(stories)
        return {
            s.id: self._diversify(scores[n], banned, stories, k, vectors[n], list(s.related_pins))
            for n, s in enumerate(stories)
        }

    def refusal(self, candidate: Article, stories: Sequence[Article], banned: set[str]) -> str:
        """Why ``candidate`` may never be a pick for ``stories`` ("" when it may).

        ``story`` (it is one), ``cluster`` (same story as one), ``excluded`` (marked
        ``related_exclude``) or ``ban`` (in the caller's exclusions, e.g. already sent).
        """
        if candidate.id in {s.id for s in stories}:
            return "story"
        if candidate.story_key in {s.story_key for s in stories}:
            return "cluster"
        if candidate.related_exclude:
            return "excluded"
        if candidate.id in banned:
            return "ban"
        return ""

    def _diversify(
        self,
        relevance: FloatArray,
        banned: set[str],
        stories: Sequence[Article],
        k: int,
        vectors: sparse.csr_matrix,
        pins: Sequence[str] = (),
    ) -> tuple[Article, ...]:
        """Pins first, then the most relevant allowed candidates, one per story cluster,
        passing over near-copies."""
        story_ids = {s.id for s in stories}
        clusters = {s.story_key for s in stories}
        allowed = np.array(
            [
                not (a.related_exclude or a.id in banned or a.id in story_ids)
                and a.story_key not in clusters
                for a in self.articles
            ],
            dtype=bool,
        )
        candidates = np.flatnonzero(allowed)
        # Highest relevance first, ties in id order (the pool is sorted by id and the sort
        # is stable).
        order = candidates[np.argsort(-relevance[candidates], kind="stable")]
        pinned = [self._position[p] for p in dict.fromkeys(pins) if p in self._position]
        limit = self.weights.near_duplicate
        picked: list[int] = []
        taken: set[str] = set()
        for position in [*(p for p in pinned if allowed[p]), *order]:
            position = int(position)
            article = self.articles[position]
            if position in picked or article.story_key in taken:
                continue
            if position not in pinned:
                vector = self.matrix[position]
                # A copy of a story, or of an earlier pick, tells the reader nothing new.
                if vectors.shape[0] and (vector @ vectors.T).max() >= limit:
                    continue
                if picked and (vector @ self.matrix[picked].T).max() >= limit:
                    continue
            picked.append(position)
            taken.add(article.story_key)
            if len(picked) == k:
                break
        return tuple(self.articles[p] for p in picked)


def _rarity(labels: sparse.csr_matrix) -> FloatArray:
    """Each label's weight by how few articles carry it: 1 when one does, → 0 when all do."""
    rows = labels.shape[0]
    if rows < 2:
        return np.ones(labels.shape[1])
    counts = np.asarray((labels > 0).sum(axis=0)).ravel().astype(np.float64)
    return np.asarray(np.log(rows / np.maximum(counts, 1.0)) / np.log(rows))


def _vocab(groups: Iterable[list[str]]) -> dict[str, int]:
    names = sorted({name for group in groups for name in group})
    return {name: n for n, name in enumerate(names)}


def _authors(article: Article) -> list[str]:
    return _folded(a.name for a in article.authors)


def pick_related(
    stories: Sequence[Article],
    candidates: Sequence[Article],
    k: int = 4,
    *,
    exclude_ids: Iterable[str] = (),
    reference: datetime | None = None,
    weights: RelatedWeights | None = None,
) -> tuple[Article, ...]:
    """The edition's k "More from" picks from ``candidates`` (index built once here)."""
    return RelatedIndex(candidates, weights).pick(
        stories, k, exclude=exclude_ids, reference=reference
    )


def pick_related_per_story(
    stories: Sequence[Article],
    candidates: Sequence[Article],
    k: int = 4,
    *,
    exclude_ids: Iterable[str] = (),
    reference: datetime | None = None,
    weights: RelatedWeights | None = None,
) -> dict[str, tuple[Article, ...]]:
    """k picks per story, keyed by story id, from one index over ``candidates``."""
    return RelatedIndex(candidates, weights).pick_per_story(
        stories, k, exclude=exclude_ids, reference=reference
    )
