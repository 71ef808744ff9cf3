"""Ranking of "More from <Publication>" picks: (stories, candidates, k) → articles.

No I/O: the caller gives the pool (articles, or a stored :class:`~.pool.Pool` from
``related/cache.py``) and the ids to exclude. The score of a candidate ``c`` for a story
``s`` is::

    (text(s, c) + section·rarity·[same, non-empty section]
     + tag·min(Σ rarity of shared tags, tag_cap) + author·[shared author]
     + semantic·cosine(embedding(s), embedding(c)))
    · decay(age(c))

``text`` is the cosine of BM25 weight vectors (``related/lexical.py``), the story's
vector first widened by its ``feedback_depth`` nearest neighbours in the pool (Rocchio
pseudo-relevance feedback: words the story's topic uses but the story happens not to
carry count too). For a story of few words, ``text`` also blends in the plain Okapi
BM25 score of the candidate (the story's distinct terms as the query), rescaled to the
story's best cosine and weighted by ``query · (1 − distinct terms / MAX_TERMS)``: a short
story is a poor vector but a fair query, and a long one needs the cosine alone. A
section or a tag counts by how rare it is in the pool: a section holding most of the
archive, or a tag like "usa" on two thirds of it, adds next to nothing. ``decay`` only
breaks near ties: an old article loses at most ``recency`` (2%) of its score, so age
reorders near-equal candidates but never outranks a clearly more relevant one (measured
on a set whose dates say nothing of topic, a 20% decay cost 2–5 points of precision).
For an edition, a candidate's relevance is its best score over the stories, the lead
weighted above the rest.

The picks are the k most relevant candidates, except that a candidate whose text cosine
with a story or with an earlier pick reaches ``near_duplicate`` is passed over: it is a
copy of something the reader already has. Diversity beyond that comes from story
clusters (one pick per cluster), not from a penalty: measured on labelled news text,
maximal marginal relevance traded 5–17 points of precision for it.

Determinism: every ordering breaks ties by article id (``Pool.rank``), so the same
input gives the same picks whatever order it came in, and a cached pool grown row by
row picks what a fresh one would.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from scipy import sparse

from syndicate.models import Article
from syndicate.related.pool import Pool, folded, label_matrix
from syndicate.related.terms import MAX_TERMS, Candidate, article_terms

FloatArray = npt.NDArray[np.float64]
Vectors = npt.NDArray[np.float32]
Embed = Callable[[Sequence[Article]], Vectors]
Loader = Callable[[Sequence[str]], Sequence[Article]]


@dataclass(frozen=True, slots=True)
class RelatedWeights:
    """How much each signal counts.

    Text cosines of related news sit mostly between 0.05 and 0.5, so a shared rare
    section (up to 0.15) or two shared rare tags (0.2) lift a related item above a
    merely similar one. ``semantic`` multiplies the cosine of sentence embeddings when
    they are given, the story's embedding first widened by ``semantic_feedback`` times
    the centre of its ``semantic_feedback_depth`` nearest members'. ``query`` is the
    share of the BM25 score blended into the text signal of a one-word story (less for
    longer ones, none for a story that fills its term budget). ``near_duplicate`` is the
    text cosine at which a candidate counts as a copy of a story or of another pick.
    ``bench/related.py`` measures each choice.
    """

    section: float = 0.15
    tag: float = 0.1
    tag_cap: int = 3
    author: float = 0.1
    semantic: float = 1.0
    semantic_feedback: float = 1.0
    semantic_feedback_depth: int = 10
    half_life_days: float = 365.0
    recency: float = 0.02
    feedback: float = 1.0
    feedback_depth: int = 10
    query: float = 0.5
    lead_weight: float = 1.0
    other_weight: float = 0.85
    near_duplicate: float = 0.6


@dataclass(frozen=True, slots=True)
class Signals:
    """The parts of a score, each a (stories × pool) matrix; see ``combined``."""

    text: FloatArray
    section: FloatArray
    tag: FloatArray
    author: FloatArray
    decay: FloatArray
    semantic: FloatArray

    def combined(self) -> FloatArray:
        """The score: the additive signals, times the age decay."""
        # In place, in the same order as the sum written out: one (stories × pool)
        # temporary instead of five.
        total = self.text + self.section
        total += self.tag
        total += self.author
        total += self.semantic
        total *= self.decay
        return total


def _authors(article: Article | Candidate) -> list[str]:
    names = article.authors if isinstance(article, Candidate) else [a.name for a in article.authors]
    return folded(names)


class RelatedIndex:
    """A candidate pool's vectors and labels, built once, asked many questions.

    ``RelatedIndex(articles)`` indexes the articles given. ``embeddings`` are unit
    vectors by article id (a pool article without one gets no semantic part); ``embed``
    computes unit vectors for stories that have none there. :meth:`over` wraps a stored
    pool (``related/cache.py``) instead, loading full articles only for the picks.
    """

    def __init__(
        self,
        pool: Sequence[Article],
        weights: RelatedWeights | None = None,
        *,
        embeddings: Mapping[str, Vectors] | None = None,
        embed: Embed | None = None,
    ) -> None:
        by_id = {a.id: a for a in pool}
        self._setup(Pool.of_articles(by_id.values()), weights, None, embeddings, embed)
        self._load: Loader = lambda ids: [by_id[i] for i in ids]

    @classmethod
    def over(
        cls,
        pool: Pool,
        load: Loader,
        weights: RelatedWeights | None = None,
        *,
        members: npt.NDArray[np.bool_] | None = None,
        embeddings: Mapping[str, Vectors] | None = None,
        embed: Embed | None = None,
    ) -> RelatedIndex:
        """An index over a prepared ``pool``, of which only ``members`` may be picked.

        ``load`` gives the full articles of the picked ids, in the order asked.
        """
        index = cls.__new__(cls)
        index._setup(pool, weights, members, embeddings, embed)
        index._load = load
        return index

    def _setup(
        self,
        pool: Pool,
        weights: RelatedWeights | None,
        members: npt.NDArray[np.bool_] | None,
        embeddings: Mapping[str, Vectors] | None,
        embed: Embed | None,
    ) -> None:
        self.weights = weights or RelatedWeights()
        self.pool = pool
        self.members = np.ones(len(pool), dtype=bool) if members is None else members
        self._embeddings = embeddings
        self._embed = embed
        self._pool_embeddings: Vectors | None = None

    def load(self, ids: Sequence[str]) -> list[Article]:
        """The full articles of pool ``ids``, in that order (one store read for a cached
        pool)."""
        return list(self._load(ids))

    def story_vectors(self, stories: Sequence[Article]) -> sparse.csr_matrix:
        """The stories' unit text vectors (before feedback) over the pool's compact
        features, as near-copy checks use (``pool.matrix`` rows are in that space)."""
        return self.pool.space.compact(self._vectors(stories))

    def near_copy(self, place: int, stories: sparse.csr_matrix, picked: Sequence[int]) -> bool:
        """Whether pool row ``place`` is a near-copy (text cosine ≥ ``near_duplicate``) of
        one of ``stories`` (unit vectors over the compact features: :meth:`story_vectors`)
        or of the rows ``picked``."""
        limit, matrix = self.weights.near_duplicate, self.pool.matrix
        vector = matrix[place]
        if stories.shape[0] and (vector @ stories.T).max() >= limit:
            return True
        return bool(picked) and (vector @ matrix[list(picked)].T).max() >= limit

    def member_ids(self) -> list[str]:
        """The ids of the articles that may be picked (the pool's members)."""
        ids = self.pool.facts.ids
        return [ids[n] for n in np.flatnonzero(self.members)]

    @property
    def candidates(self) -> list[Candidate]:
        """The pool's rows, in column order of :meth:`signals`, made on demand (the pool
        keeps columns, not an object per article)."""
        return [self.pool.candidate(n) for n in range(len(self.pool))]

    @property
    def articles(self) -> list[Candidate]:
        """An alias of :attr:`candidates`: each row carries the fields ranking reads,
        not the text."""
        return self.candidates

    # --- signals ---------------------------------------------------------------------------

    def _vectors(self, stories: Sequence[Article]) -> sparse.csr_matrix:
        return self.pool.space.vectors([article_terms(s) for s in stories])

    def _text(
        self,
        stories: Sequence[Article],
        vectors: sparse.csr_matrix,
        cosine: FloatArray | None = None,
    ) -> FloatArray:
        """Cosine with each story's vector, widened by its nearest pool members, blended
        with the plain BM25 score for stories of few words. ``cosine``: the stories'
        plain cosines with the pool (``space.cosines(vectors)``) when the caller has them
        (read, never changed)."""
        cosine = self.pool.space.cosines(vectors) if cosine is None else cosine
        w = self.weights
        # Who may count as a neighbour or set a story's scale: members, never the story.
        others = np.broadcast_to(self.members, cosine.shape).copy()
        for row, story in enumerate(stories):
            if story.id in self.pool.position:
                others[row, self.pool.position[story.id]] = False
        depth = min(w.feedback_depth, int(self.members.sum()) - 1)
        if w.feedback > 0 and depth >= 1:
            cosine = self._widened(stories, vectors, np.where(others, cosine, 0.0), depth)
        return self._blended(cosine, vectors, others)

    def _widened(
        self, stories: Sequence[Article], vectors: sparse.csr_matrix, near: FloatArray, depth: int
    ) -> FloatArray:
        """Cosine with each story's vector plus ``feedback`` times its ``depth`` nearest
        neighbours' (``near``: cosines with the story's own column and non-members 0)."""
        top = np.argpartition(-near, depth - 1, axis=1)[:, :depth]
        chosen = np.take_along_axis(near, top, axis=1) > 0  # only neighbours sharing a word
        rows = np.repeat(np.arange(len(stories)), depth)[chosen.ravel()]
        neighbours = top.ravel()[chosen.ravel()]
        del top, chosen  # (stories × depth) arrays no longer needed
        return self.pool.space.cosines(self.widened_vectors(vectors, rows, neighbours, depth))

    def widened_vectors(
        self,
        vectors: sparse.csr_matrix,
        rows: npt.NDArray[np.int64],
        neighbours: npt.NDArray[np.int64],
        depth: int,
    ) -> sparse.csr_matrix:
        """The stories' ``vectors`` plus ``feedback / depth`` times each of their
        ``neighbours`` (pool rows; story ``rows[n]`` has neighbour ``neighbours[n]``),
        renormalised, over the hashed features. The sums run in the neighbours' row
        order whatever order they come in (the feedback matrix is built canonical), so
        only which neighbours a story has decides the result."""
        w = self.weights
        space = self.pool.space
        count = vectors.shape[0]
        # Only the neighbours' rows take part: a product with the whole pool would have
        # scipy copy the pool's term ids to wider integers (100 MB at 100,000 articles).
        near_rows = np.unique(neighbours)
        feedback = sparse.csr_matrix(
            (
                np.full(len(rows), w.feedback / depth),
                (rows, np.searchsorted(near_rows, neighbours)),
            ),
            shape=(count, len(near_rows)),
        )
        fed = feedback @ self.pool.matrix[near_rows]
        fed_ids = space.features[fed.indices]
        # The sums below run over the columns the stories and their neighbours use, not
        # all 2^20 (scipy's sparse sum and product set up arrays as wide as the matrix);
        # the columns keep their order, so every sum runs in the same order.
        columns = np.union1d(vectors.indices, fed_ids)

        def narrow(m: sparse.csr_matrix, ids: npt.NDArray[np.int32]) -> sparse.csr_matrix:
            places = np.searchsorted(columns, ids).astype(np.int32)
            return sparse.csr_matrix((m.data, places, m.indptr), shape=(m.shape[0], len(columns)))

        widened = sparse.csr_matrix(narrow(vectors, vectors.indices) + narrow(fed, fed_ids))
        sizes = np.sqrt(np.asarray(widened.multiply(widened).sum(axis=1)).ravel())
        sizes[sizes == 0] = 1.0
        widened = sparse.csr_matrix(sparse.diags(1 / sizes) @ widened)
        return sparse.csr_matrix(
            (widened.data, columns[widened.indices], widened.indptr),
            shape=(count, vectors.shape[1]),
        )

    def _blended(
        self, cosine: FloatArray, vectors: sparse.csr_matrix, others: npt.NDArray[np.bool_]
    ) -> FloatArray:
        """``cosine + share · best cosine · bm25 / best bm25`` per story (bests over
        ``others``), ``share = query · (1 − distinct terms / MAX_TERMS)``, at least 0.

        A story of few words is a poor vector but a fair query: the cosine discounts
        an article for every other rare word it carries, the BM25 score does not. A
        story that fills its term budget is long enough for the cosine alone (summed
        over many weak matches, the BM25 score of a long query is a poor ranker).
        Rescaled to the story's best cosine, the blend keeps the text signal on the
        scale the section, tag and author weights are set against.
        """
        distinct = np.diff(vectors.indptr).astype(np.float64)
        share = self.weights.query * np.clip(1.0 - distinct / MAX_TERMS, 0.0, 1.0)
        if not share.any():
            return cosine
        bm25 = self.pool.space.query_scores(vectors)
        best_cosine = np.where(others, cosine, 0.0).max(axis=1)
        best_bm25 = np.where(others, bm25, 0.0).max(axis=1)
        scale = np.divide(
            share * best_cosine, best_bm25, out=np.zeros_like(share), where=best_bm25 > 0
        )
        return np.asarray(cosine + scale[:, None] * bm25, dtype=np.float64)

    def _semantic(self, stories: Sequence[Article]) -> FloatArray:
        shape = (len(stories), len(self.pool))
        if not self._embeddings or self.weights.semantic == 0:
            return np.zeros(shape)
        if self._pool_embeddings is None:
            dims = len(next(iter(self._embeddings.values())))
            matrix = np.zeros((len(self.pool), dims), dtype=np.float32)
            for n, article_id in enumerate(self.pool.ids):
                if article_id in self._embeddings:
                    matrix[n] = self._embeddings[article_id]
            self._pool_embeddings = matrix
        story_vectors = np.zeros((len(stories), self._pool_embeddings.shape[1]), np.float32)
        missing = [n for n, s in enumerate(stories) if s.id not in self._embeddings]
        for n, s in enumerate(stories):
            if s.id in self._embeddings:
                story_vectors[n] = self._embeddings[s.id]
        if missing and self._embed is not None:
            story_vectors[missing] = self._embed([stories[n] for n in missing])
        similarity = (story_vectors @ self._pool_embeddings.T).astype(np.float64)
        depth = min(self.weights.semantic_feedback_depth, int(self.members.sum()) - 1)
        if self.weights.semantic_feedback > 0 and depth >= 1:
            similarity = self._semantic_widened(stories, story_vectors, similarity, depth)
        return self.weights.semantic * similarity

    def _semantic_widened(
        self,
        stories: Sequence[Article],
        story_vectors: npt.NDArray[np.float32],
        similarity: FloatArray,
        depth: int,
    ) -> FloatArray:
        """Cosines with each story's embedding plus ``semantic_feedback`` times the mean
        of its ``depth`` nearest members' (never the story itself), renormalised.

        The embedding twin of the text signal's feedback: a story of a title and a few
        words is a noisy point, its nearest neighbours' centre a steadier one.
        """
        assert self._pool_embeddings is not None
        pool_vectors = self._pool_embeddings
        # Neighbours: members with a vector, never the story, only the close side (a
        # small pool's far members would pull the story off its topic).
        has_vector = np.abs(pool_vectors).sum(axis=1) > 0
        allowed = np.broadcast_to(self.members & has_vector, similarity.shape).copy()
        for row, story in enumerate(stories):
            if story.id in self.pool.position:
                allowed[row, self.pool.position[story.id]] = False
        near = np.where(allowed, similarity, 0.0)
        top = np.argpartition(-near, depth - 1, axis=1)[:, :depth]
        chosen = np.take_along_axis(near, top, axis=1) > 0
        counts = chosen.sum(axis=1, keepdims=True)
        summed = np.einsum("sd,sdv->sv", chosen.astype(np.float64), pool_vectors[top])
        centre = np.divide(summed, counts, out=np.zeros_like(summed), where=counts > 0)
        widened = story_vectors + self.weights.semantic_feedback * centre
        sizes = np.linalg.norm(widened, axis=1, keepdims=True)
        sizes[sizes == 0] = 1.0
        return np.asarray((widened / sizes) @ pool_vectors.T, dtype=np.float64)

    def signals(self, stories: Sequence[Article], reference: datetime | None = None) -> Signals:
        """Each signal's (stories × pool) matrix, before they are combined.

        The contract :func:`explain` and the CLI build on: ``text`` (lexical
        similarity), ``section``, ``tag``, ``author``, ``semantic`` (each already
        multiplied by its weight) and ``decay`` (the age multiplier, 1 for a new
        article). Columns follow :attr:`candidates`.
        """
        return self._signals(stories, reference, None)

    def _signals(
        self,
        stories: Sequence[Article],
        reference: datetime | None,
        vectors: sparse.csr_matrix | None,
        *,
        each: bool = False,
        cosine: FloatArray | None = None,
    ) -> Signals:
        """:meth:`signals`, reusing the stories' ``vectors`` when the caller has them.

        ``each``: every row as if its story were asked alone (``reference`` unused): its
        age decay counted from the story's own date, its semantic part computed alone (a
        batched float32 product may differ from a single row's in the last bit).
        ``cosine``: the stories' plain cosines with the pool, if the caller has them.
        """
        w, pool = self.weights, self.pool
        n = len(pool)
        if not stories or not n:
            empty = np.zeros((len(stories), n))
            return Signals(empty, empty, empty, empty, np.ones((len(stories), n)), empty)
        vectors = self._vectors(stories) if vectors is None else vectors
        text = self._text(stories, vectors, cosine)
        codes = np.array([pool.section_code.get(s.section.casefold(), -1) for s in stories])
        same = codes[:, None] == pool.sections[None, :]
        informative = np.append(pool.section_weight, 0.0)  # code -1 (unknown) → nothing
        # Each weight applied where the signal is built, in place: the same products,
        # without a second (stories × pool) array per signal.
        section = np.where(same, w.section * informative[codes][:, None], 0.0)
        del same
        story_tags = label_matrix([folded(s.tags) for s in stories], pool.tag_vocab)
        shared_tags = (story_tags.multiply(pool.tag_weight[None, :]) @ pool.tags_t).toarray()
        story_authors = label_matrix([_authors(s) for s in stories], pool.author_vocab)
        shared_authors = (story_authors @ pool.authors_t).toarray() > 0
        author = np.where(shared_authors, w.author * 1.0, 0.0)
        del shared_authors
        tag = np.minimum(shared_tags, w.tag_cap, out=shared_tags)
        tag *= w.tag
        if each:
            decay = np.stack([self._decay(s.published_at) for s in stories])
        else:
            ref = reference or max(s.published_at for s in stories)
            decay = np.asarray(np.broadcast_to(self._decay(ref), text.shape))
        if each and self._embeddings and w.semantic != 0:
            semantic = np.vstack([self._semantic([s]) for s in stories])
        else:
            semantic = self._semantic(stories)
        return Signals(
            text=text, section=section, tag=tag, author=author, decay=decay, semantic=semantic
        )

    def _decay(self, reference: datetime) -> FloatArray:
        """Each pool row's age multiplier, ages counted back from ``reference``."""
        return decay(self.weights, reference.timestamp(), self.pool.published)

    def scores(self, stories: Sequence[Article], reference: datetime | None = None) -> FloatArray:
        """A (stories × pool) matrix of boosted, age-decayed scores."""
        return self.signals(stories, reference).combined()

    # --- picks -----------------------------------------------------------------------------

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
        vectors = self._vectors(stories)
        scores = self._signals(stories, reference, vectors).combined()
        weights = np.full(len(stories), self.weights.other_weight)
        weights[0] = self.weights.lead_weight
        scores *= weights[:, None]  # in place: the scores are this call's own
        relevance = scores.max(axis=0)
        pins = [pin for s in stories for pin in s.related_pins]
        chosen = self._diversify(relevance, set(exclude), stories, k, vectors, pins)
        return self._articles(chosen)

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
        vectors = self._vectors(stories)
        scores = self._signals(stories, reference, vectors).combined()
        banned = set(exclude)
        chosen = {
            s.id: self._diversify(scores[n], banned, stories, k, vectors[n], list(s.related_pins))
            for n, s in enumerate(stories)
        }
        return {sid: self._articles(ids) for sid, ids in chosen.items()}

    def pick_each_before(
        self, items: Sequence[Article], k: int = 4
    ) -> dict[str, tuple[Article, ...]]:
        """For each item, its k picks among the members published strictly before it.

        The same picks, in the same order, as asking :meth:`pick_per_story` for each
        item alone with every member not older than it excluded, in a few batched passes
        instead (``related/before.py`` says how and why it is the same).
        """
        from syndicate.related.before import pick_each_before  # the one caller: feeds

        return pick_each_before(self, items, k)

    def _articles(self, positions: Sequence[int]) -> tuple[Article, ...]:
        return tuple(self._load([self.pool.ids[p] for p in positions]))

    def refusal(
        self, candidate: Article | Candidate, stories: Sequence[Article], banned: set[str]
    ) -> str:
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

    def _allowed(self, banned: set[str], stories: Sequence[Article]) -> npt.NDArray[np.bool_]:
        pool = self.pool
        allowed: npt.NDArray[np.bool_] = self.members & ~pool.excluded
        clusters = [c for s in stories if (c := pool.cluster(s.story_key)) is not None]
        if clusters:
            allowed &= ~np.isin(pool.stories, clusters)
        for article_id in banned | {s.id for s in stories}:
            if article_id in pool.position:
                allowed[pool.position[article_id]] = False
        return allowed

    def _diversify(
        self,
        relevance: FloatArray,
        banned: set[str],
        stories: Sequence[Article],
        k: int,
        vectors: sparse.csr_matrix,
        pins: Sequence[str] = (),
    ) -> list[int]:
        """Pins first, then the most relevant allowed candidates, one per story cluster,
        passing over near-copies."""
        allowed = self._allowed(banned, stories)
        position = self.pool.position
        pinned = [position[p] for p in dict.fromkeys(pins) if p in position]
        vectors = self.pool.space.compact(vectors)
        picked: list[int] = []
        taken: set[int] = set()
        ranked = _ranked(relevance, allowed, k, self.pool.rank)
        # A chain, not a list: the ranking is walked only as far as the picks need.
        for place in itertools.chain((p for p in pinned if allowed[p]), ranked):
            cluster = int(self.pool.stories[place])
            if place in picked or cluster in taken:
                continue
            # A copy of a story, or of an earlier pick, tells the reader nothing new.
            if place not in pinned and self.near_copy(place, vectors, picked):
                continue
            picked.append(place)
            taken.add(cluster)
            if len(picked) == k:
                break
        return picked


def decay(
    weights: RelatedWeights, reference: float | FloatArray, published: FloatArray
) -> FloatArray:
    """The age multiplier of articles ``published`` (timestamps) counted back from the
    ``reference`` timestamp (a scalar, or a column: one row per reference)."""
    age_days = np.maximum(0.0, (reference - published) / 86400.0)
    return np.asarray(
        1.0 - weights.recency + weights.recency * 0.5 ** (age_days / weights.half_life_days)
    )


def ranking_head(k: int) -> int:
    """How many of the most relevant candidates ``_ranked`` sorts first, for ``k`` picks."""
    return 16 * k + 48


def _ranked(
    relevance: FloatArray, allowed: npt.NDArray[np.bool_], k: int, rank: npt.NDArray[np.int64]
) -> Iterable[int]:
    """Allowed positions, most relevant first, ties in id order (``rank``).

    The best few are sorted first (a pool of 100,000 is rarely walked past its top 64);
    the rest only if the walk gets that far.
    """
    candidates = np.flatnonzero(allowed)
    values = relevance[candidates]
    head = min(len(candidates), ranking_head(k))
    if head and head < len(candidates):
        # Everything tied with the head's last value comes in too, so ties stay in id order.
        threshold = np.partition(values, len(values) - head)[len(values) - head]
        first = values >= threshold
    else:
        first = np.ones(len(candidates), dtype=bool)
    for part in (first, ~first):
        chosen, scores = candidates[part], values[part]
        for place in chosen[np.lexsort((rank[chosen], -scores))]:
            yield int(place)


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
