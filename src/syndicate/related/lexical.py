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
_BLOCK = 8192  # rows weighted at a time

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


class LexicalSpace:
    """The BM25 statistics of a pool, and its articles' normalised weight vectors.

    ``indptr``/``indices``/``counts`` are the pool's rows in CSR layout; ``matrix``
    shares ``indptr`` and ``indices`` with them (only the weights are new memory).
    """

    def __init__(
        self,
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.int32],
        counts: Counts,
        lengths: npt.NDArray[np.float64],
    ) -> None:
        count = len(indptr) - 1
        df = np.bincount(indices, minlength=N_FEATURES)
        self.idf = np.log1p((count - df + 0.5) / (df + 0.5)).astype(np.float32)
        self.mean_length = float(lengths.mean()) if count and lengths.mean() > 0 else 1.0
        data = np.empty(len(indices), dtype=np.float32)
        self.norms = np.ones(count, dtype=np.float32)  # row weights = unit weights · norm
        for start in range(0, count, _BLOCK):
            stop = min(start + _BLOCK, count)
            lo, hi = int(indptr[start]), int(indptr[stop])
            data[lo:hi], self.norms[start:stop] = self._weights(
                indptr[start : stop + 1] - lo, indices[lo:hi], counts[lo:hi], lengths[start:stop]
            )
        self.matrix = sparse.csr_matrix(
            (data, indices, indptr), shape=(count, N_FEATURES), copy=False
        )

    def _weights(
        self,
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.int32],
        counts: npt.NDArray[np.generic],
        lengths: npt.NDArray[np.float64],
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Unit BM25 weights of a block of rows (an empty row stays zero), and each row's
        norm (1 for an empty row)."""
        rows = np.repeat(np.arange(len(lengths)), np.diff(indptr))
        norm = K1 * (1 - B + B * np.asarray(lengths, dtype=np.float32) / self.mean_length)
        tf = counts.astype(np.float32)
        data = (tf * (K1 + 1) / (tf + norm[rows]) * self.idf[indices]).astype(np.float32)
        sizes = np.sqrt(np.bincount(rows, weights=data * data, minlength=len(lengths)))
        sizes[sizes == 0] = 1.0
        data /= sizes[rows].astype(np.float32)
        return data, sizes.astype(np.float32)

    def vectors(self, rows: Sequence[Terms]) -> sparse.csr_matrix:
        """Unit weight vectors of articles (e.g. stories) under this pool's statistics."""
        raw = term_matrix(rows)
        lengths = np.array([t.length for t in rows], dtype=np.float64)
        data, _ = self._weights(raw.indptr, raw.indices, small_counts(raw.data), lengths)
        return sparse.csr_matrix((data, raw.indices, raw.indptr), shape=raw.shape)

    def query_scores(self, vectors: sparse.csr_matrix) -> npt.NDArray[np.float64]:
        """(stories × pool) Okapi BM25 scores, each story's distinct terms the query.

        ``Σ_{t ∈ story} idf(t) · tf·(k1 + 1) / (tf + k1·(1 − b + b·length / mean))``
        over the row's terms: the row's unit weights (``matrix``) times its norm, summed
        over the story's terms. Unlike the cosine, a row is not divided by its norm, so
        an article matching more of the story's words is not discounted for also
        carrying other rare ones.
        """
        presence = sparse.csr_matrix(vectors, dtype=np.float32, copy=True)
        presence.data[:] = 1.0
        dots = np.asarray((self.matrix @ presence.T).T.toarray(), dtype=np.float64)
        return dots * self.norms[None, :]
