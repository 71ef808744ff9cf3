"""A candidate pool in the shape ranking reads: term vectors and labels as arrays.

Built either from full articles (:meth:`Pool.of_articles`, e.g. for a test or a one-off
ranking) or from stored term vectors (``related/cache.py``, which never loads an
article's text). Rows may come in any order (the cache appends new rows at the end
rather than copying the pool to re-sort it); :attr:`Pool.rank` is each row's place in
article id order, which is how every ranking tie is broken.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from syndicate.models import Article
from syndicate.related.lexical import Counts, LexicalSpace, compact_ids, small_counts
from syndicate.related.terms import Candidate, Terms, article_terms

FloatArray = npt.NDArray[np.float64]


def folded(values: Iterable[str]) -> list[str]:
    """Distinct case-folded non-blank values, sorted."""
    return sorted({v.casefold() for v in values if v.strip()})


def label_matrix(labels: Sequence[Sequence[str]], vocab: dict[str, int]) -> sparse.csr_matrix:
    """A 0/1 (rows × vocab) matrix; labels outside ``vocab`` are left out."""
    rows, cols = [], []
    for row, names in enumerate(labels):
        for name in names:
            if name in vocab:
                rows.append(row)
                cols.append(vocab[name])
    data = np.ones(len(rows), dtype=np.float32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(labels), max(len(vocab), 1)))


def rarity(labels: sparse.csr_matrix) -> FloatArray:
    """Each label's weight by how few articles carry it: 1 when one does, → 0 when all do."""
    rows = labels.shape[0]
    if rows < 2:
        return np.ones(labels.shape[1])
    counts = np.asarray((labels > 0).sum(axis=0)).ravel().astype(np.float64)
    return np.asarray(np.log(rows / np.maximum(counts, 1.0)) / np.log(rows))


def _vocab(groups: Iterable[Sequence[str]]) -> dict[str, int]:
    names = sorted({name for group in groups for name in group})
    return {name: n for n, name in enumerate(names)}


@dataclass(frozen=True, slots=True)
class TermRows:
    """Term vectors of a pool's rows in CSR layout: ids, whole counts, total lengths.

    ``indices`` are hashed feature ids when ``features`` is ``None``, else positions in
    ``features`` (the sorted hashed ids in use: see ``related/lexical.py``).
    """

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    counts: Counts
    lengths: FloatArray
    features: npt.NDArray[np.int32] | None = None

    @classmethod
    def of(cls, terms: Sequence[Terms]) -> TermRows:
        """The rows of ``terms``, in order."""
        sizes = np.fromiter((len(t.ids) for t in terms), dtype=np.int64, count=len(terms))
        empty = np.zeros(0, np.uint32)
        return cls(
            np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            np.concatenate([empty, *(t.ids for t in terms)]).astype(np.int32),
            small_counts(np.concatenate([np.zeros(0, np.float32), *(t.counts for t in terms)])),
            np.array([t.length for t in terms], dtype=np.float64),
        )

    @classmethod
    def join(cls, parts: Sequence[TermRows]) -> TermRows:
        """The rows of hashed ``parts``, in order, copied once."""
        assert all(p.features is None for p in parts)
        if len(parts) == 1:
            return parts[0]
        ends = np.cumsum([0] + [int(p.indptr[-1]) for p in parts[:-1]])
        return TermRows(
            np.concatenate(
                [parts[0].indptr[:1], *(p.indptr[1:] + e for p, e in zip(parts, ends, strict=True))]
            ),
            np.concatenate([p.indices for p in parts]),
            np.concatenate([p.counts for p in parts]),
            np.concatenate([p.lengths for p in parts]),
        )

    def __len__(self) -> int:
        return len(self.lengths)

    def compacted(self) -> TermRows:
        """These rows with compact ids. The ids are renumbered in place: use the result
        only, not ``self``."""
        if self.features is not None:
            return self
        features = compact_ids(self.indices)
        return TermRows(self.indptr, self.indices, self.counts, self.lengths, features)

    def keep(self, rows: npt.NDArray[np.bool_]) -> TermRows:
        """Only the rows where ``rows`` is true, in order."""
        sizes = np.diff(self.indptr)
        per_term = np.repeat(rows, sizes)
        return TermRows(
            np.concatenate([[0], np.cumsum(sizes[rows])]).astype(np.int64),
            self.indices[per_term],
            self.counts[per_term],
            self.lengths[rows],
            self.features,
        )

    def then(self, more: TermRows) -> TermRows:
        """These rows followed by ``more``, numbered by the union of their features."""
        mine = self.features if self.features is not None else np.unique(self.indices)
        theirs = more.features if more.features is not None else np.unique(more.indices)
        features = np.union1d(mine, theirs).astype(np.int32)
        indices = np.empty(len(self.indices) + len(more.indices), dtype=np.int32)
        self._renumber(features, indices[: len(self.indices)])
        more._renumber(features, indices[len(self.indices) :])
        return TermRows(
            np.concatenate([self.indptr, more.indptr[1:] + self.indptr[-1]]),
            indices,
            np.concatenate([self.counts, more.counts]),
            np.concatenate([self.lengths, more.lengths]),
            features,
        )

    def _renumber(self, features: npt.NDArray[np.int32], out: npt.NDArray[np.int32]) -> None:
        """Write this block's ids as positions in ``features`` (a superset) to ``out``."""
        if self.features is None:
            out[:] = np.searchsorted(features, self.indices)
            return
        moved = np.searchsorted(features, self.features).astype(np.int32)
        for lo in range(0, len(self.indices), 1 << 20):
            np.take(moved, self.indices[lo : lo + (1 << 20)], out=out[lo : lo + (1 << 20)])


class Pool:
    """Candidates, their BM25 vectors, and their labels as arrays."""

    def __init__(self, candidates: Sequence[Candidate], rows: TermRows) -> None:
        """``candidates`` in any order; ``rows`` their term vectors in the same order."""
        self.candidates = list(candidates)
        self.position = {c.id: n for n, c in enumerate(self.candidates)}
        order = sorted(range(len(self.candidates)), key=lambda n: self.candidates[n].id)
        self.rank = np.empty(len(order), dtype=np.int64)
        self.rank[order] = np.arange(len(order))
        self.rows = rows = rows.compacted()
        assert rows.features is not None
        self.space = LexicalSpace(
            rows.indptr, rows.indices, rows.counts, rows.lengths, rows.features
        )
        self.matrix = self.space.matrix
        sections = [c.section.casefold() for c in self.candidates]
        names = sorted(set(sections) - {""})
        self.section_code = {s: n for n, s in enumerate(names)}
        # An empty section is no section: it never earns the boost (code -2 matches nothing).
        self.sections = np.array([self.section_code.get(s, -2) for s in sections], dtype=np.int64)
        # A section shared by most of the pool says little: the boost is scaled by the
        # share of the pool *outside* the section (1 − share).
        counts = np.bincount(self.sections[self.sections >= 0], minlength=len(names))
        self.section_weight = 1.0 - counts / max(len(self.candidates), 1)
        tags = [folded(c.tags) for c in self.candidates]
        self.tag_vocab = _vocab(tags)
        self.tags = label_matrix(tags, self.tag_vocab)
        self.tag_weight = rarity(self.tags)
        authors = [folded(c.authors) for c in self.candidates]
        self.author_vocab = _vocab(authors)
        self.authors = label_matrix(authors, self.author_vocab)
        self.published = np.array([c.published_at.timestamp() for c in self.candidates])
        keys = sorted({c.story_key for c in self.candidates})
        self.story_code = {k: n for n, k in enumerate(keys)}
        self.stories = np.array(
            [self.story_code[c.story_key] for c in self.candidates], dtype=np.int64
        )
        names = sorted({c.source for c in self.candidates})
        self.source_code = {s: n for n, s in enumerate(names)}
        self.sources = np.array([self.source_code[c.source] for c in self.candidates], np.int64)
        self.excluded = np.array([c.related_exclude for c in self.candidates], dtype=bool)

    @classmethod
    def of_articles(cls, articles: Iterable[Article]) -> Pool:
        """The pool of ``articles`` (duplicated ids count once)."""
        unique = {a.id: a for a in articles}
        ordered = [unique[i] for i in sorted(unique)]
        return cls(
            [Candidate.of(a) for a in ordered], TermRows.of([article_terms(a) for a in ordered])
        )

    def __len__(self) -> int:
        return len(self.candidates)
