"""Lexical similarity over stored term vectors: BM25 weights, compared by cosine.

A pool's statistics (document frequencies, mean length) come from its term vectors
alone, so they are recomputed in one vectorised pass whenever the pool changes, and the
vectors themselves never are. A term's weight in an article is Okapi BM25's::

    idf(t) · tf·(k1 + 1) / (tf + k1·(1 − b + b·length / mean length))

(saturating repeated words, and discounting long texts), and two articles' similarity
is the cosine of their weight vectors: symmetric, in [0, 1], and measured on labelled
news text above both plain TF-IDF cosine and BM25 ranking (``bench/related.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse

from syndicate.related.terms import N_FEATURES, Terms

K1 = 2.0
B = 0.75


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


class LexicalSpace:
    """The BM25 statistics of a pool, and its articles' normalised weight vectors."""

    def __init__(self, raw: sparse.csr_matrix, lengths: npt.NDArray[np.float64]) -> None:
        count = raw.shape[0]
        df = np.bincount(raw.indices, minlength=N_FEATURES)
        self.idf = np.log1p((count - df + 0.5) / (df + 0.5)).astype(np.float32)
        self.mean_length = float(lengths.mean()) if count and lengths.mean() > 0 else 1.0
        self.matrix = self.weigh(raw, lengths)

    def weigh(self, raw: sparse.csr_matrix, lengths: npt.NDArray[np.float64]) -> sparse.csr_matrix:
        """Rows of raw counts → unit BM25 weight vectors (an empty row stays zero).

        The result shares ``raw``'s index arrays: only the weights are new memory.
        """
        rows = np.repeat(np.arange(raw.shape[0]), np.diff(raw.indptr))
        norm = K1 * (1 - B + B * np.asarray(lengths, dtype=np.float32) / self.mean_length)
        tf = raw.data.astype(np.float32)
        data = (tf * (K1 + 1) / (tf + norm[rows]) * self.idf[raw.indices]).astype(np.float32)
        sizes = np.sqrt(np.bincount(rows, weights=data * data, minlength=raw.shape[0]))
        sizes[sizes == 0] = 1.0
        data /= sizes[rows].astype(np.float32)
        return sparse.csr_matrix((data, raw.indices, raw.indptr), shape=raw.shape, copy=False)

    def vectors(self, rows: Sequence[Terms]) -> sparse.csr_matrix:
        """Unit weight vectors of articles (e.g. stories) under this pool's statistics."""
        return self.weigh(term_matrix(rows), np.array([t.length for t in rows]))
