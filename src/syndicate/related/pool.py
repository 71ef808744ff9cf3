"""A candidate pool in the shape ranking reads: term vectors and labels as arrays.

Built either from full articles (:meth:`Pool.of_articles`, e.g. for a test or a one-off
ranking) or from stored term vectors (``related/cache.py``, which never loads an
article's text). Rows may come in any order (the cache appends new rows at the end
rather than copying the pool to re-sort it); :attr:`Pool.rank` is each row's place in
article id order, which is how every ranking tie is broken.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from scipy import sparse

from syndicate.models import Article
from syndicate.related.lexical import Counts, LexicalSpace, compact_ids, small_counts
from syndicate.related.terms import Candidate, Terms, article_terms

FloatArray = npt.NDArray[np.float64]
_T = TypeVar("_T", bound=np.generic)


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
        features = _union(mine, theirs)
        indices = np.empty(len(self.indices) + len(more.indices), dtype=np.int32)
        if features is self.features:  # no new feature: these ids stand (a refresh's case)
            indices[: len(self.indices)] = self.indices
        else:
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


def _union(mine: npt.NDArray[np.integer], theirs: npt.NDArray[np.integer]) -> npt.NDArray[np.int32]:
    """The sorted union of two sorted sets of ids: ``mine`` itself when ``theirs`` adds
    nothing, else ``mine`` with ``theirs``' new ids inserted (no sort of the whole)."""
    place = np.searchsorted(mine, theirs)
    found = place < len(mine)
    found[found] = mine[place[found]] == theirs[found]
    extra = theirs[~found]
    if not len(extra) and mine.dtype == np.int32:
        return mine  # type: ignore[return-value]
    return np.insert(mine, place[~found], extra).astype(np.int32, copy=False)


class TermRowsBuilder:
    """Collects hashed term vectors a row at a time straight into arrays of the expected
    size (given by the caller, e.g. from the table's totals), so a load holds one copy of
    the pool's terms, never blocks of them plus their join. Grows if more rows come."""

    def __init__(self, rows: int = 0, terms: int = 0) -> None:
        self._indptr = np.zeros(rows + 1, dtype=np.int64)
        self._indices = np.empty(terms, dtype=np.int32)
        self._counts = np.empty(terms, dtype=np.uint8)
        self._lengths = np.empty(rows, dtype=np.float64)
        self._rows = self._terms = self._flushed = 0
        self._ids = bytearray()  # the block not yet in the arrays: uint32 little-endian
        self._weights = bytearray()  # float32 little-endian

    def add(self, ids: bytes, counts: bytes, length: float) -> None:
        """One row: its term ids (``<u4``) and weighted counts (``<f4``) as stored."""
        self._ids += ids
        self._weights += counts
        if self._rows == len(self._lengths):
            self._lengths = _grown(self._lengths, self._rows + 1)
            self._indptr = _grown(self._indptr, self._rows + 2)
        self._terms += len(ids) // 4
        self._rows += 1
        self._indptr[self._rows] = self._terms
        self._lengths[self._rows - 1] = length
        if len(self._ids) >= 1 << 22:
            self._flush()

    def _flush(self) -> None:
        lo, hi = self._flushed, self._terms
        if hi > len(self._indices):
            self._indices = _grown(self._indices, hi)
            self._counts = _grown(self._counts, hi)
        self._indices[lo:hi] = np.frombuffer(self._ids, dtype="<u4")
        self._counts[lo:hi] = small_counts(np.frombuffer(self._weights, dtype="<f4"))
        self._ids, self._weights, self._flushed = bytearray(), bytearray(), hi

    def build(self) -> TermRows:
        """The rows added (the builder is spent)."""
        self._flush()
        n, t = self._rows, self._terms
        return TermRows(
            self._indptr[: n + 1], self._indices[:t], self._counts[:t], self._lengths[:n]
        )


def _grown(values: npt.NDArray[_T], size: int) -> npt.NDArray[_T]:
    """``values`` in an array of at least ``size`` (half as large again: few copies)."""
    out = np.empty(max(size, len(values) * 3 // 2 + 16), dtype=values.dtype)
    out[: len(values)] = values
    return out


def micros(moment: datetime) -> int:
    """Microseconds since the epoch (exact, unlike a float of seconds)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    """The moment ``value`` microseconds after the epoch (the inverse of :func:`micros`)."""
    return _EPOCH + timedelta(microseconds=value)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Facts:
    """What ranking reads of each row besides its words, as columns, not one object per
    row: ids, interned source and section names, case-folded tags and authors (flat,
    with row offsets), publication times, story clusters, exclusion flags, and when the
    row was stored (``stamps``, microseconds; the cache's change check)."""

    ids: list[str]
    sources: list[str]
    sections: list[str]
    tag_offsets: npt.NDArray[np.int64]
    tags: list[str]
    author_offsets: npt.NDArray[np.int64]
    authors: list[str]
    published: FloatArray
    stories: list[str]
    excluded: npt.NDArray[np.bool_]
    stamps: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.ids)

    def keep(self, rows: npt.NDArray[np.bool_]) -> Facts:
        """Only the rows where ``rows`` is true, in order."""
        flags = rows.tolist()

        def labels(
            offsets: npt.NDArray[np.int64], names: list[str]
        ) -> tuple[npt.NDArray[np.int64], list[str]]:
            sizes = np.diff(offsets)
            per_label = np.repeat(rows, sizes).tolist()
            kept = np.concatenate([[0], np.cumsum(sizes[rows])]).astype(np.int64)
            return kept, list(itertools.compress(names, per_label))

        tag_offsets, tags = labels(self.tag_offsets, self.tags)
        author_offsets, authors = labels(self.author_offsets, self.authors)
        return Facts(
            list(itertools.compress(self.ids, flags)),
            list(itertools.compress(self.sources, flags)),
            list(itertools.compress(self.sections, flags)),
            tag_offsets,
            tags,
            author_offsets,
            authors,
            self.published[rows],
            list(itertools.compress(self.stories, flags)),
            self.excluded[rows],
            self.stamps[rows],
        )

    def then(self, more: Facts) -> Facts:
        """These rows followed by ``more``."""
        return Facts(
            self.ids + more.ids,
            self.sources + more.sources,
            self.sections + more.sections,
            np.concatenate([self.tag_offsets, more.tag_offsets[1:] + self.tag_offsets[-1]]),
            self.tags + more.tags,
            np.concatenate(
                [self.author_offsets, more.author_offsets[1:] + self.author_offsets[-1]]
            ),
            self.authors + more.authors,
            np.concatenate([self.published, more.published]),
            self.stories + more.stories,
            np.concatenate([self.excluded, more.excluded]),
            np.concatenate([self.stamps, more.stamps]),
        )


class FactsBuilder:
    """Collects :class:`Facts` a row at a time (strings interned: a source, section,
    tag or author is one string however many rows carry it)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.sources: list[str] = []
        self.sections: list[str] = []
        self.tag_sizes: list[int] = []
        self.tags: list[str] = []
        self.author_sizes: list[int] = []
        self.authors: list[str] = []
        self.published: list[float] = []
        self.stories: list[str] = []
        self.excluded: list[bool] = []
        self.stamps: list[int] = []

    def add(
        self,
        id: str,
        source: str,
        section: str,
        tags: Iterable[str],
        authors: Iterable[str],
        published_at: datetime,
        story: str,
        related_exclude: bool,
        stamp: datetime | None = None,
    ) -> None:
        """One row."""
        intern = sys.intern
        self.ids.append(id)
        self.sources.append(intern(source))
        self.sections.append(intern(section))
        names = folded(tags)
        self.tag_sizes.append(len(names))
        self.tags.extend(intern(t) for t in names)
        names = folded(authors)
        self.author_sizes.append(len(names))
        self.authors.extend(intern(a) for a in names)
        self.published.append(published_at.timestamp())
        self.stories.append(intern(story) if story else "")
        self.excluded.append(related_exclude)
        self.stamps.append(micros(stamp) if stamp is not None else 0)

    def __len__(self) -> int:
        return len(self.ids)

    def build(self) -> Facts:
        """The rows added so far."""

        def offsets(sizes: list[int]) -> npt.NDArray[np.int64]:
            return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)

        return Facts(
            self.ids,
            self.sources,
            self.sections,
            offsets(self.tag_sizes),
            self.tags,
            offsets(self.author_sizes),
            self.authors,
            np.array(self.published, dtype=np.float64),
            self.stories,
            np.array(self.excluded, dtype=bool),
            np.array(self.stamps, dtype=np.int64),
        )


def _extended_rank(
    rank: npt.NDArray[np.int64], ordered: list[str], new_ids: Sequence[str]
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """The ranks (places in id order) of rows ranked ``rank`` (``ordered``: their ids
    in id order) followed by rows ``new_ids`` (ids none of them has), and the ids of all
    in id order."""
    fresh = sorted(new_ids)
    # Where each new id goes among the old ones: an old row moves up by one for each new
    # id placed at or before it; the j-th new id (in id order) lands j places after its.
    places = np.array([bisect.bisect_left(ordered, i) for i in fresh], dtype=np.int64)
    moved = rank + np.searchsorted(places, rank, side="right")
    at = {i: int(p) + j for j, (i, p) in enumerate(zip(fresh, places, strict=True))}
    added = np.fromiter((at[i] for i in new_ids), dtype=np.int64, count=len(new_ids))
    merged = list(ordered)
    for i in fresh:
        bisect.insort(merged, i)
    return np.concatenate([moved, added]), merged


def _extended_labels(
    vocab: dict[str, int],
    labels: sparse.csr_matrix,
    offsets: npt.NDArray[np.int64],
    names: list[str],
) -> tuple[dict[str, int], sparse.csr_matrix]:
    """:func:`_labels` of ``names`` whose first ones are ``labels``' rows (their vocabulary
    ``vocab``): the old codes renumbered in one array operation (a sorted vocabulary
    grows by insertion, so their order within a row is kept), the new ones looked up."""
    old = labels.indices
    added = names[len(old) :]
    if extra := set(added).difference(vocab):
        grown = {name: n for n, name in enumerate(sorted([*vocab, *extra]))}
        remap = np.fromiter((grown[name] for name in vocab), dtype=np.int64, count=len(vocab))
        kept = remap[old] if len(old) else np.zeros(0, np.int64)
    else:  # no new name (a refresh's common case): the old codes stand
        grown, kept = vocab, old
    codes = np.concatenate(
        [kept, np.fromiter(map(grown.__getitem__, added), dtype=np.int64, count=len(added))]
    ).astype(np.int32)
    data = np.ones(len(names), dtype=np.float32)
    shape = (len(offsets) - 1, max(len(grown), 1))
    return grown, sparse.csr_matrix((data, codes, offsets), shape=shape)


def _extended_stories(
    old: Pool, facts: Facts, position: dict[str, int]
) -> tuple[dict[str, int], npt.NDArray[np.int64]]:
    """:class:`Pool`'s story codes for ``facts`` whose first rows are ``old``'s: named
    clusters renumbered in the grown sorted list, rows of their own story at
    ``base + row`` with the new ``base``, and the old rows a new cluster is named after
    given its code."""
    named = sorted(set(old.story_code) | {s for s in facts.stories[len(old) :] if s})
    code = {k: n for n, k in enumerate(named)}
    base, old_base = len(named), len(old.story_code)
    remap = np.array([code[k] for k in old.story_code], dtype=np.int64)
    stories = old.stories.copy()
    own = stories >= old_base
    stories[~own] = remap[stories[~own]]
    stories[own] = base + np.flatnonzero(own)
    for key in code.keys() - old.story_code.keys():
        row = position.get(key)
        if row is not None and row < len(old) and not facts.stories[row]:
            stories[row] = code[key]  # a new cluster named after this article
    done = len(old)
    added = np.fromiter(
        (
            code[s] if s else code.get(i, base + done + n)
            for n, (i, s) in enumerate(zip(facts.ids[done:], facts.stories[done:], strict=True))
        ),
        dtype=np.int64,
        count=len(facts) - done,
    )
    return code, np.concatenate([stories, added])


def _labels(
    offsets: npt.NDArray[np.int64], names: list[str]
) -> tuple[dict[str, int], sparse.csr_matrix]:
    """The sorted vocabulary of ``names`` and the 0/1 (rows × vocab) matrix."""
    vocab = {name: n for n, name in enumerate(sorted(set(names)))}
    codes = np.fromiter(map(vocab.__getitem__, names), dtype=np.int32, count=len(names))
    data = np.ones(len(names), dtype=np.float32)
    shape = (len(offsets) - 1, max(len(vocab), 1))
    return vocab, sparse.csr_matrix((data, codes, offsets), shape=shape)


class Pool:
    """Candidates' BM25 vectors and labels as arrays (no object per article)."""

    space: LexicalSpace  # the rows' BM25 statistics and weights

    def __init__(self, facts: Facts, rows: TermRows) -> None:
        """``facts`` of rows in any order; ``rows`` their term vectors in the same order."""
        self.facts = facts
        self.ids = facts.ids
        self.position = dict(zip(self.ids, range(len(self.ids)), strict=True))
        order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
        self.rank = np.empty(len(order), dtype=np.int64)
        self.rank[order] = np.arange(len(order))
        # The ids in id order: where :meth:`extended` places new ones.
        self.ordered = [self.ids[n] for n in order]
        del order
        self._lexical(rows)
        by_name = self._section_names(facts)
        self.sections = np.fromiter(
            map(by_name.__getitem__, facts.sections), dtype=np.int64, count=len(facts)
        )
        self.tag_vocab, self.tags = _labels(facts.tag_offsets, facts.tags)
        self.author_vocab, self.authors = _labels(facts.author_offsets, facts.authors)
        self._label_statistics()
        self.published = facts.published
        # Named clusters get codes 0..C-1; an article of its own story gets C + its row,
        # unless some cluster is named after it (the story's first article).
        named = sorted(set(facts.stories) - {""})
        self.story_code = {k: n for n, k in enumerate(named)}
        base = len(named)
        self.stories = np.fromiter(
            map({**self.story_code, "": -1}.__getitem__, facts.stories),
            dtype=np.int64,
            count=len(facts),
        )
        own = self.stories < 0
        self.stories[own] = base + np.flatnonzero(own)
        for key, code in self.story_code.items():  # clusters named after an article
            row = self.position.get(key)
            if row is not None and not facts.stories[row]:
                self.stories[row] = code
        names = sorted(set(facts.sources))
        self.source_code = {s: n for n, s in enumerate(names)}
        self.sources = np.fromiter(
            map(self.source_code.__getitem__, facts.sources), dtype=np.int64, count=len(facts)
        )
        self.excluded = facts.excluded

    @classmethod
    def extended(cls, old: Pool, facts: Facts, rows: TermRows) -> Pool:
        """The pool of ``old``'s rows followed by new ones: ``facts`` and ``rows`` are
        the whole, ``old``'s rows first and unchanged, then the new rows (the cache's
        refresh after new articles). Equal to ``Pool(facts, rows)`` array for array
        (tests/test_related_pool.py), without its passes over every row in Python: the
        old rows' ranks and label codes are renumbered with array operations, only the
        new rows' are looked up. The statistics (idf, rarities, weights) are computed
        whole, as they depend on every row. ``old`` is left as it was (a ranking may
        still be reading it)."""
        done = len(old)
        new_ids = facts.ids[done:]
        pool = cls.__new__(cls)
        pool.facts = facts
        pool.ids = facts.ids
        pool.position = dict(old.position)
        pool.position.update((i, done + k) for k, i in enumerate(new_ids))
        pool.rank, pool.ordered = _extended_rank(old.rank, old.ordered, new_ids)
        pool._lexical(rows, old)
        by_name = pool._section_names(facts)
        remap = np.array([pool.section_code[s] for s in old.section_code] + [-2], np.int64)
        # Code -2 (no section) stays -2: it picks remap's last entry.
        kept = remap[np.where(old.sections >= 0, old.sections, len(remap) - 1)]
        pool.sections = np.concatenate(
            [kept, np.fromiter((by_name[s] for s in facts.sections[done:]), np.int64)]
        )
        pool.tag_vocab, pool.tags = _extended_labels(
            old.tag_vocab, old.tags, facts.tag_offsets, facts.tags
        )
        pool.author_vocab, pool.authors = _extended_labels(
            old.author_vocab, old.authors, facts.author_offsets, facts.authors
        )
        pool._label_statistics()
        pool.published = facts.published
        pool.story_code, pool.stories = _extended_stories(old, facts, pool.position)
        names = sorted(set(facts.sources))
        pool.source_code = {s: n for n, s in enumerate(names)}
        remap = np.array([pool.source_code[s] for s in old.source_code], np.int64)
        pool.sources = np.concatenate(
            [
                remap[old.sources] if len(old) else np.zeros(0, np.int64),
                np.fromiter((pool.source_code[s] for s in facts.sources[done:]), np.int64),
            ]
        )
        pool.excluded = facts.excluded
        return pool

    def _lexical(self, rows: TermRows, old: Pool | None = None) -> None:
        """The rows' term vectors and their BM25 weights (statistics over every row).
        ``old``: a pool whose rows come first in ``rows``, whose document frequencies
        are counted already."""
        self.rows = rows = rows.compacted()
        assert rows.features is not None
        counted = None
        if old is not None and old.rows.features is not None:
            if rows.features is old.rows.features:  # no new feature
                df = old.space.df.copy()
            else:
                df = np.zeros(len(rows.features), dtype=np.int64)
                df[np.searchsorted(rows.features, old.rows.features)] = old.space.df
            counted = df, int(old.rows.indptr[-1])
        self.space = LexicalSpace(
            rows.indptr, rows.indices, rows.counts, rows.lengths, rows.features, counted
        )
        self.matrix = self.space.matrix

    def _section_names(self, facts: Facts) -> dict[str, int]:
        """The sections' codes (case-folded names in order); each section as written →
        its code. An empty section is no section: it never earns the boost (code -2
        matches nothing)."""
        folded_sections = {s: s.casefold() for s in set(facts.sections)}
        names = sorted(set(folded_sections.values()) - {""})
        self.section_code = {s: n for n, s in enumerate(names)}
        return {s: self.section_code.get(f, -2) for s, f in folded_sections.items()}

    def _label_statistics(self) -> None:
        """What the label boosts weigh, from the rows' codes: a section shared by most
        of the pool says little, so its boost is scaled by the share of the pool
        *outside* it (1 − share); a tag by its rarity."""
        counts = np.bincount(self.sections[self.sections >= 0], minlength=len(self.section_code))
        self.section_weight = 1.0 - counts / max(len(self.facts), 1)
        self.tag_weight = rarity(self.tags)

    # Computed when first asked for (a pool refreshed for a feed build whose members
    # are not its first rows never reads them).
    @functools.cached_property
    def tags_t(self) -> sparse.csr_matrix:
        """The tag matrix's transpose (tags × rows), as a product with stories' tags
        wants it."""
        return self.tags.T.tocsr()

    @functools.cached_property
    def authors_t(self) -> sparse.csr_matrix:
        """The author matrix's transpose (authors × rows)."""
        return self.authors.T.tocsr()

    def view(self, rows: npt.NDArray[np.int64]) -> Pool:
        """Rows ``rows`` (ascending) as a pool of their own that scores each row exactly
        as this one does: this pool's statistics (idf, mean length, label rarities),
        cluster codes and id ranks, only fewer columns to compute (e.g. a channel's
        members among the whole site's rows). Its ``rows`` (term counts) stay this
        pool's: a view scores, it is never merged into.
        """
        keep = np.zeros(len(self), dtype=bool)
        keep[rows] = True
        view = Pool.__new__(Pool)
        view.facts = self.facts.keep(keep)
        view.ids = view.facts.ids
        view.position = {i: n for n, i in enumerate(view.ids)}
        view.rank = self.rank[rows]
        view.rows = self.rows
        view.space = self.space.view(rows)
        view.matrix = view.space.matrix
        view.section_code, view.section_weight = self.section_code, self.section_weight
        view.sections = self.sections[rows]
        view.tag_vocab, view.tag_weight = self.tag_vocab, self.tag_weight
        view.tags = self.tags[rows]
        view.author_vocab, view.authors = self.author_vocab, self.authors[rows]
        view.published = self.published[rows]
        view.story_code, view.stories = self.story_code, self.stories[rows]
        view.source_code, view.sources = self.source_code, self.sources[rows]
        view.excluded = self.excluded[rows]
        return view

    def cluster(self, key: str) -> int | None:
        """The code of story cluster ``key`` (a ``story_key``), ``None`` if no row has it."""
        if key in self.story_code:
            return self.story_code[key]
        row = self.position.get(key)
        if row is not None and not self.facts.stories[row]:
            return int(self.stories[row])
        return None

    def candidate(self, row: int) -> Candidate:
        """Row ``row`` as a :class:`Candidate` (labels case-folded)."""
        f = self.facts
        tags = f.tags[f.tag_offsets[row] : f.tag_offsets[row + 1]]
        authors = f.authors[f.author_offsets[row] : f.author_offsets[row + 1]]
        return Candidate(
            id=f.ids[row],
            source=f.sources[row],
            section=f.sections[row],
            tags=tuple(tags),
            authors=tuple(authors),
            published_at=datetime.fromtimestamp(float(f.published[row]), UTC),
            story=f.stories[row],
            related_exclude=bool(f.excluded[row]),
        )

    @classmethod
    def of_articles(cls, articles: Iterable[Article]) -> Pool:
        """The pool of ``articles`` (duplicated ids count once)."""
        unique = {a.id: a for a in articles}
        ordered = [unique[i] for i in sorted(unique)]
        facts = FactsBuilder()
        for a in ordered:
            facts.add(
                a.id,
                a.source,
                a.section,
                a.tags,
                [author.name for author in a.authors],
                a.published_at,
                a.story,
                a.related_exclude,
            )
        return cls(facts.build(), TermRows.of([article_terms(a) for a in ordered]))

    def __len__(self) -> int:
        return len(self.ids)
