"""Lexical similarity over stored term vectors: BM25 weights, compared by cosine.

A pool's statistics (document frequencies, mean length) come from its term vectors
alone, so they are recomputed in one vectorised pass whenever the pool changes, and the
vectors themselves never are. A term's weight in an article is Okapi BM25's::

    idf(t) · tf·(k1 + 1) / (tf + k1·(1 − b + b·length / mean length))

(saturating repeated words, and discounting long texts), and two articles' similarity
is the cosine of their weight vectors: symmetric, in [0, 1], and measured on labelled
news text above both plain TF-IDF cosine and BM25 ranking (``bench/related.py``).
:meth:`LexicalSpace.query_scores` gives the plain Okapi BM25 score too (the story's
distinct terms as the query), from the same weights and each row's kept norm: ranking
blends it in for stories of few words (``related/ranking.py``).

Memory: a pool keeps, per stored term, its id (4 bytes), its count (1 byte: counts are
whole numbers, and BM25 has saturated long before 255) and its weight (4 bytes); the
weights are computed a block of rows at a time, so the pass never holds a temporary the
size of the whole pool; per row, the norm its weights were divided by (4 bytes).

Speed: the pool's term ids are *compact*: the rank of the hashed feature among the
features the pool uses (:attr:`LexicalSpace.features`, sorted, so a row's order is the
same in both numberings). Scoring multiplies the pool's rows by a dense (used features ×
stories) matrix, one pass over the stored terms with no per-term lookup, instead of a
sparse-by-sparse product against the 2^20-column feature space; the sums run over each
row's terms in the same order as before, so the scores are the same to the bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse

from syndicate.related.terms import N_FEATURES, Terms

K1 = 2.0
B = 0.75
MAX_COUNT = 255  # counts are kept as uint8
_BLOCK = 2048  # rows weighted at a time (the pass's temporaries stay ~10 MB)

Counts = npt.NDArray[np.uint8]


def term_matrix(rows: Sequence[Terms]) -> sparse.csr_matrix:
    """The raw (articles × N_FEATURES) matrix of weighted counts."""
    sizes = np.fromiter((len(t.ids) for t in rows), dtype=np.int64, count=len(rows))
    indptr = np.concatenate([[0], np.cumsum(sizes)])
    if rows:
        indices = np.concatenate([t.ids for t in rows]).astype(np.int32)
        data = np.concatenate([t.counts for t in rows]).astype(np.float32)
    else:
        indices, data = np.zeros(0, np.int32), np.zeros(0, np.float32)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), N_FEATURES))


def small_counts(values: npt.ArrayLike) -> Counts:
    """Weighted counts as the pool keeps them: whole numbers, at most MAX_COUNT."""
    return np.clip(np.rint(np.asarray(values, dtype=np.float32)), 0, MAX_COUNT).astype(np.uint8)


def compact_ids(
    indices: npt.NDArray[np.int32], features: npt.NDArray[np.int32] | None = None
) -> npt.NDArray[np.int32]:
    """The sorted hashed features ``indices`` use; ``indices`` (hashed, or positions in
    ``features`` when given) become positions in the result, in place, a block at a time
    (so the pass holds no temporary the size of the pool)."""
    if features is not None:  # back to hashed ids first: the used set may have shrunk
        for lo in range(0, len(indices), _TERM_BLOCK):
            part = indices[lo : lo + _TERM_BLOCK]
            np.take(features, part, out=part)
    used = np.zeros(N_FEATURES, dtype=bool)
    for lo in range(0, len(indices), _TERM_BLOCK):
        used[indices[lo : lo + _TERM_BLOCK]] = True
    position = (np.cumsum(used, dtype=np.int32) - 1).astype(np.int32)
    for lo in range(0, len(indices), _TERM_BLOCK):
        part = indices[lo : lo + _TERM_BLOCK]
        np.take(position, part, out=part)
    return np.flatnonzero(used).astype(np.int32)


_TERM_BLOCK = 1 << 20  # term ids renumbered at a time


class LexicalSpace:
    """The BM25 statistics of a pool, and its articles' normalised weight vectors.

    ``indptr``/``indices``/``counts`` are the pool's rows in CSR layout, ``indices``
    positions in ``features`` (the sorted hashed ids the pool uses); ``matrix`` shares
    ``indptr`` and ``indices`` with them (only the weights are new memory), one column
    per used feature.
    """

    def __init__(
        self,
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.int32],
        counts: Counts,
        lengths: npt.NDArray[np.float64],
        features: npt.NDArray[np.int32],
        counted: tuple[npt.NDArray[np.int64], int] | None = None,
    ) -> None:
        """``counted``: the document frequencies of the first entries (how many rows
        of ``indices[:n]`` have each feature, and ``n``), as an earlier space of those
        rows counted them (:meth:`Pool.extended`); only the rest are counted here."""
        count = len(indptr) - 1
        self.features = features
        # The idf of the used features, and (last) that of a feature no row has, which
        # every other hashed feature gets: no float64 temporaries over all 2^20.
        df = np.zeros(len(features) + 1, dtype=np.int64)
        start = 0
        if counted is not None:
            df[:-1], start = counted
        for lo in range(start, len(indices), _TERM_BLOCK):  # bincount copies its input as int64
            df[:-1] += np.bincount(indices[lo : lo + _TERM_BLOCK], minlength=len(features))
        self.df = df[:-1]  # document frequencies of the used features
        idf = np.log1p((count - df + 0.5) / (df + 0.5)).astype(np.float32)
        self.idf = np.full(N_FEATURES, idf[-1], dtype=np.float32)
        used_idf = idf[:-1]
        self.idf[features] = used_idf
        del idf
        self.mean_length = float(lengths.mean()) if count and lengths.mean() > 0 else 1.0
        data = np.empty(len(indices), dtype=np.float32)
        self.norms = np.ones(count, dtype=np.float32)  # row weights = unit weights · norm
        for start in range(0, count, _BLOCK):
            stop = min(start + _BLOCK, count)
            lo, hi = int(indptr[start]), int(indptr[stop])
            data[lo:hi], self.norms[start:stop] = self._weights(
                indptr[start : stop + 1] - lo,
                indices[lo:hi],
                counts[lo:hi],
                lengths[start:stop],
                used_idf,
            )
        self.matrix = sparse.csr_matrix(
            (data, indices, indptr), shape=(count, max(len(features), 1)), copy=False
        )

    def view(self, rows: npt.NDArray[np.int64]) -> LexicalSpace:
        """This space with only the pool rows ``rows``: the same statistics and weights,
        so each product with a row gives what it gives here, to the bit."""
        view = LexicalSpace.__new__(LexicalSpace)
        view.features, view.idf, view.mean_length = self.features, self.idf, self.mean_length
        view.df = self.df  # the statistics' (of every row)
        view.norms = self.norms[rows]
        view.matrix = sparse.csr_matrix(self.matrix[rows])  # rows keep their term order
        return view

    def prefix(self, rows: int) -> LexicalSpace:
        """:meth:`view` of the first ``rows`` rows, sharing this space's arrays (a
        slice, nothing copied)."""
        view = LexicalSpace.__new__(LexicalSpace)
        view.features, view.idf, view.mean_length = self.features, self.idf, self.mean_length
        view.df = self.df  # the statistics' (of every row)
        view.norms = self.norms[:rows]
        m = self.matrix
        end = int(m.indptr[rows])
        view.matrix = sparse.csr_matrix(
            (m.data[:end], m.indices[:end], m.indptr[: rows + 1]),
            shape=(rows, m.shape[1]),
            copy=False,
        )
        return view

    def _weights(
        self,
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.int32],
        counts: npt.NDArray[np.generic],
        lengths: npt.NDArray[np.float64],
        idf: npt.NDArray[np.float32],
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Unit BM25 weights of a block of rows (an empty row stays zero), and each row's
        norm (1 for an empty row); ``idf`` is indexed as ``indices`` are."""
        rows = np.repeat(np.arange(len(lengths)), np.diff(indptr))
        norm = K1 * (1 - B + B * np.asarray(lengths, dtype=np.float32) / self.mean_length)
        tf = counts.astype(np.float32)
        data = (tf * (K1 + 1) / (tf + norm[rows]) * idf[indices]).astype(np.float32)
        sizes = np.sqrt(np.bincount(rows, weights=data * data, minlength=len(lengths)))
        sizes[sizes == 0] = 1.0
        data /= sizes[rows].astype(np.float32)
        return data, sizes.astype(np.float32)

    def vectors(self, rows: Sequence[Terms]) -> sparse.csr_matrix:
        """Unit weight vectors of articles (e.g. stories) under this pool's statistics,
        over all hashed features (a story's words the pool lacks count in its norm)."""
        raw = term_matrix(rows)
        lengths = np.array([t.length for t in rows], dtype=np.float64)
        data, _ = self._weights(raw.indptr, raw.indices, small_counts(raw.data), lengths, self.idf)
        return sparse.csr_matrix((data, raw.indices, raw.indptr), shape=raw.shape)

    def compact(self, vectors: sparse.csr_matrix) -> sparse.csr_matrix:
        """``vectors`` (hashed features) over the pool's used features: a feature the
        pool lacks is dropped (its product with every row is zero anyway)."""
        place = np.searchsorted(self.features, vectors.indices)
        found = place < len(self.features)
        found[found] = self.features[place[found]] == vectors.indices[found]
        rows = np.repeat(np.arange(vectors.shape[0]), np.diff(vectors.indptr))[found]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=vectors.shape[0]))])
        return sparse.csr_matrix(
            (vectors.data[found], place[found].astype(np.int32), indptr),
            shape=(vectors.shape[0], self.matrix.shape[1]),
        )

    def cosines(self, vectors: sparse.csr_matrix) -> npt.NDArray[np.float64]:
        """(stories × pool) dot products of the unit ``vectors`` (hashed features) with
        the pool's rows: the rows times a dense (used features × stories) matrix."""
        return np.asarray((self.matrix @ self.dense(vectors)).T, dtype=np.float64)

    def query_scores(self, vectors: sparse.csr_matrix) -> npt.NDArray[np.float64]:
        """(stories × pool) Okapi BM25 scores, each story's distinct terms the query.

        ``Σ_{t ∈ story} idf(t) · tf·(k1 + 1) / (tf + k1·(1 − b + b·length / mean))``
        over the row's terms: the row's unit weights (``matrix``) times its norm, summed
        over the story's terms. Unlike the cosine, a row is not divided by its norm, so
        an article matching more of the story's words is not discounted for also
        carrying other rare ones.
        """
        presence = self.dense(vectors, presence=True)
        dots = np.asarray((self.matrix @ presence).T, dtype=np.float64)
        return dots * self.norms[None, :]

    def dense(
        self, vectors: sparse.csr_matrix, *, presence: bool = False
    ) -> npt.NDArray[np.float32]:
        """``vectors`` (hashed features) as the dense (used features × stories) float32
        matrix the pool's rows are multiplied by: their weights (:meth:`cosines`), or 1
        where a story has the feature (``presence``: :meth:`query_scores`). Each column
        of a product with ``matrix`` is summed over the row's terms in the row's order,
        whatever other columns the dense matrix has."""
        compact = self.compact(vectors)
        dense = np.zeros((self.matrix.shape[1], vectors.shape[0]), dtype=np.float32)
        rows = np.repeat(np.arange(vectors.shape[0]), np.diff(compact.indptr))
        dense[compact.indices, rows] = 1.0 if presence else compact.data
        return dense
