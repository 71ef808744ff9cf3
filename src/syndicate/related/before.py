"""Feed items' picks from the articles before each item, chosen in batched passes.

A feed item's "More from" picks come from the pool members published strictly before
it (``feeds/picks.py``). Asking :meth:`~.ranking.RelatedIndex.pick_per_story` once per
item, every later member excluded, scores the item against the whole pool anyway and
pays the per-call set-up item by item: quadratic in the archive. Here the items are
scored a block at a time, oldest first, over the index's members only, as columns in
publication order (``related/columns.py``), and each item's picks are walked from its
own row. The work still grows with items × members, as the definition asks: an item's
feedback neighbours and BM25 scale are chosen among *all* members, later ones too, so
a block's three sparse products (plain cosine and BM25 score side by side, then the
widened cosine), one partition and two maxima per item cover every member. The rest
covers only a *prefix*: the members published before the newest item of a part of the
block, where every candidate of its items lies (on average half of them):

* the blended text signal, section, tags, author and semantic part, summed; the tag and
  author products once per distinct label set of a part;
* the age decay only where a score may reach the ranking's head (:func:`_ranked_decayed`);
* the ranking and the walk.

Why the picks are the same, to the bit:

* every cell is computed by the same operations on the same operands as the item alone
  gets: products and sums run per row in the same order (``lexical.py``, the label
  products summed in the story's order, so a product's row depends only on the story's
  labels), the age decay is counted from the item's own date, the semantic part is
  computed per item; a cell's value does not depend on which other columns are
  computed, or in which order; ``related/columns.py`` says why the text signal's cells
  and maxima are the item alone's;
* "published before the item" is a comparison of the same timestamps the per-item
  path compares (a prefix of the columns, which are sorted by them); the ranking breaks
  ties by the pool's id rank as ``_ranked`` always does, and the decay it leaves out
  could not have brought a column into the ranking's head (the decay lies in
  [1 − recency, 1] and no sum is negative; otherwise every decay is counted);
* the walk is :meth:`~.ranking.RelatedIndex._diversify`'s, and its near-copy checks
  compute the same float32 sums: a story's cosine with a pool row is the row's entries
  times the story's weights summed in the row's order (as ``space.cosines`` and the
  sparse product both do), and two rows' cosine is summed in the candidate row's order
  (as scipy's sparse product does), here with ``cumsum`` (sequential, unlike ``sum``).

``tests/test_related_before.py`` compares both paths pick by pick,
``tests/test_related_before_parts.py`` each shortcut (and every score, to the bit).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse

from syndicate.models import Article
from syndicate.related.columns import BlockText, Columns
from syndicate.related.pool import folded, label_matrix
from syndicate.related.ranking import RelatedIndex, _authors, _ranked, decay, ranking_head

FloatArray = npt.NDArray[np.float64]
Rows = npt.NDArray[np.int64]

# A block's products with every member: (members × items) float32 matrices of at most
# ~16 MB each; its scores are computed over the members before its items, a part of at
# most ~8 MB of float64 at a time (the older the items, the more of them in a part).
PRODUCT_CELLS = 1 << 22
BLOCK_CELLS = 1 << 20
MAX_BLOCK = 256
# The relative slack of a bound on a score, far above float64 rounding.
MARGIN = 1e-9


def block_size(columns: int, cells: int = PRODUCT_CELLS) -> int:
    """How many items are scored together over ``columns`` members."""
    return max(1, min(MAX_BLOCK, cells // max(columns, 1)))


class RowCosines:
    """Cosines of pool rows with each other, as ``RelatedIndex.near_copy`` computes them
    (float32, summed in the first row's order), remembered for one batch of items:
    neighbouring items walk much the same candidates (a few pairs per item)."""

    def __init__(self, index: RelatedIndex) -> None:
        matrix = index.pool.matrix
        self._indptr = matrix.indptr
        self._indices = matrix.indices
        self._data = matrix.data
        self._sorted = bool(matrix.has_sorted_indices)
        self._known: dict[tuple[int, int], np.float32] = {}

    def _row(self, row: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        lo, hi = int(self._indptr[row]), int(self._indptr[row + 1])
        return self._indices[lo:hi], self._data[lo:hi]

    def __call__(self, row: int, other: int) -> np.float32:
        """``matrix[row] @ matrix[other].T`` as scipy sums it."""
        known = self._known.get((row, other))
        if known is None:
            known = self._known[(row, other)] = self._dot(row, other)
        return known

    def _dot(self, row: int, other: int) -> np.float32:
        ids, values = self._row(row)
        other_ids, other_values = self._row(other)
        if self._sorted:  # (a pool's rows are) each row's features ascending
            theirs = np.minimum(np.searchsorted(other_ids, ids), max(len(other_ids) - 1, 0))
            shared = other_ids[theirs] == ids if len(other_ids) else np.zeros(len(ids), bool)
            products = values[shared] * other_values[theirs[shared]]  # in the row's order
        else:
            _, mine, theirs = np.intersect1d(
                ids, other_ids, assume_unique=True, return_indices=True
            )
            order = np.argsort(mine, kind="stable")  # the row's own entry order
            products = values[mine[order]] * other_values[theirs[order]]
        if not len(products):
            return np.float32(0.0)
        return np.float32(np.cumsum(products, dtype=np.float32)[-1])


def pick_each_before(
    index: RelatedIndex, items: Sequence[Article], k: int
) -> dict[str, tuple[Article, ...]]:
    """For each of ``items``, its ``k`` picks among ``index``'s members published
    strictly before it: what ``index.pick_per_story([item], k, exclude=<the members
    not older than item>)`` gives, item by item (see the module's docstring)."""
    if k <= 0 or not items or not index.members.any():
        return {item.id: () for item in items}
    columns = Columns(index)
    cosines = RowCosines(index)
    # Oldest first, so a block's prefix is its items' (the caller's order is kept).
    order = sorted(range(len(items)), key=lambda n: items[n].published_at.timestamp())
    places: list[list[int]] = [[] for _ in items]
    size = block_size(len(columns))
    for start in range(0, len(order), size):
        part = order[start : start + size]
        block = [items[n] for n in part]
        for n, rows in zip(part, _pick_block(index, columns, block, k, cosines), strict=True):
            places[n] = rows
    ids = index.pool.ids
    chosen: dict[str, tuple[Article, ...]] = {}
    for start in range(0, len(order), size):
        part = order[start : start + size]
        wanted = list(dict.fromkeys(ids[p] for n in part for p in places[n]))
        loaded = {a.id: a for a in index.load(wanted)}  # one store read per block
        for n in part:
            picks = tuple(loaded[i] for i in (ids[p] for p in places[n]) if i in loaded)
            chosen[items[n].id] = picks
    return {item.id: chosen[item.id] for item in items}


def _pick_block(
    index: RelatedIndex,
    columns: Columns,
    block: Sequence[Article],
    k: int,
    cosines: RowCosines,
) -> list[list[int]]:
    """The pool rows each item of ``block`` (oldest first) picks."""
    # The index's own internals, on purpose: this is its per-story path, batched.
    text = BlockText(index, columns, block, index._vectors(block))
    picks = []
    for lo, hi, width in _parts(columns, block):
        scores = _scores(index, columns, block[lo:hi], text.text(lo, hi, width), width)
        # The story's plain cosine (float32), its side of the near-copy check.
        plain = text.plain[:width, lo:hi].T
        for row, item in enumerate(block[lo:hi]):
            walked = _walk(index, columns, scores[row], item, k, plain[row], cosines)
            picks.append([int(columns.rows[place]) for place in walked])
    return picks


def _parts(columns: Columns, block: Sequence[Article]) -> Iterator[tuple[int, int, int]]:
    """``block`` (oldest first) in parts ``[lo, hi)`` of at most ``BLOCK_CELLS`` cells
    over the ``width`` members published before the part's newest item."""
    widths = [columns.before(story.published_at.timestamp()) for story in block]
    lo = 0
    while lo < len(block):
        hi, width = lo + 1, widths[lo]
        while hi < len(block) and hi - lo < MAX_BLOCK:
            wider = max(width, widths[hi])
            if (hi + 1 - lo) * max(wider, 1) > BLOCK_CELLS:
                break
            hi, width = hi + 1, wider
        yield lo, hi, width
        lo = hi


def _scores(
    index: RelatedIndex,
    columns: Columns,
    block: Sequence[Article],
    text: FloatArray,
    width: int,
) -> FloatArray:
    """The (items × first ``width`` columns) scores: ``Signals.combined``, the text
    signal given."""
    w, pool = index.weights, index.pool
    codes = np.array([pool.section_code.get(s.section.casefold(), -1) for s in block])
    same = codes[:, None] == columns.sections[None, :width]
    informative = np.append(pool.section_weight, 0.0)  # code -1 (unknown) → nothing
    # Each label's boost added where it applies (elsewhere the sum adds +0.0: no change).
    total = text
    np.add(total, w.section * informative[codes][:, None], out=total, where=same)
    del same
    story_tags = label_matrix([folded(s.tags) for s in block], pool.tag_vocab)
    tag, which = _label_products(
        story_tags.multiply(pool.tag_weight[None, :]).tocsr(), columns.tags_t[:, :width]
    )
    tag = np.minimum(tag, w.tag_cap, out=tag)
    tag *= w.tag
    total += tag[which]
    del tag
    story_authors = label_matrix([_authors(s) for s in block], pool.author_vocab)
    shared, which = _label_products(story_authors, columns.authors_t[:, :width])
    np.add(total, w.author * 1.0, out=total, where=(shared > 0)[which])
    del shared
    if index._embeddings and w.semantic != 0:
        semantic = np.vstack([index._semantic([s]) for s in block])
        total += semantic[:, columns.rows[:width]]
    # (Without embeddings the semantic part is +0.0: adding it changes no score.)
    return total


def _label_products(
    labels: sparse.csr_matrix, columns_t: sparse.csr_matrix
) -> tuple[FloatArray, Rows]:
    """``(labels @ columns_t).toarray()`` as its distinct rows and, for each row of
    ``labels``, which of them is its own: a row of the product depends only on that row
    of ``labels`` (its entries, in their order), and a block's stories share a few sets
    of tags and authors."""
    distinct: dict[tuple[bytes, bytes], int] = {}
    which = np.empty(labels.shape[0], dtype=np.int64)
    for row in range(labels.shape[0]):
        lo, hi = labels.indptr[row], labels.indptr[row + 1]
        key = (labels.indices[lo:hi].tobytes(), labels.data[lo:hi].tobytes())
        which[row] = distinct.setdefault(key, len(distinct))
    firsts = np.unique(which, return_index=True)[1]
    return (labels[firsts] @ columns_t).toarray(), which


def _walk(
    index: RelatedIndex,
    columns: Columns,
    summed: FloatArray,
    item: Article,
    k: int,
    story_cosines: npt.NDArray[np.float32],
    cosines: RowCosines,
) -> list[int]:
    """``RelatedIndex._diversify`` for one item over its columns (those before it):
    pins first, then the most relevant allowed columns, one per story cluster, passing
    over near-copies. ``summed``: the item's scores before the age decay."""
    limit = index.weights.near_duplicate
    allowed = _allowed(index, columns, item)
    width = len(allowed)
    pinned = [columns.of(index, p) for p in dict.fromkeys(item.related_pins)]
    pinned = [p for p in pinned if p >= 0]
    picked: list[int] = []
    taken: set[int] = set()
    ranked = _ranked_decayed(index, columns, summed[:width], allowed, k, item)
    rows = columns.rows
    for place in itertools.chain((p for p in pinned if p < width and allowed[p]), ranked):
        story = int(columns.stories[place])
        if place in picked or story in taken:
            continue
        if place not in pinned and (
            story_cosines[place] >= limit
            or (picked and max(cosines(int(rows[place]), int(rows[p])) for p in picked) >= limit)
        ):
            continue
        picked.append(place)
        taken.add(story)
        if len(picked) == k:
            break
    return picked


def _allowed(index: RelatedIndex, columns: Columns, item: Article) -> npt.NDArray[np.bool_]:
    """Which of the columns before ``item`` it may pick (``RelatedIndex._allowed``)."""
    width = columns.before(item.published_at.timestamp())
    allowed = columns.open[:width].copy()
    cluster = index.pool.cluster(item.story_key)
    if cluster is not None:
        allowed &= columns.stories[:width] != cluster
    own = columns.of(index, item.id)
    if 0 <= own < width:
        allowed[own] = False
    return allowed


def _ranked_decayed(
    index: RelatedIndex,
    columns: Columns,
    summed: FloatArray,
    allowed: npt.NDArray[np.bool_],
    k: int,
    item: Article,
) -> Iterator[int]:
    """``_ranked`` over the scores ``summed · decay`` (``Signals.combined``), the decay
    counted only where a score may reach the ranking's head.

    The decay lies in [1 − recency, 1] and no sum is negative, so a column whose sum is
    below (1 − recency) times the head's last sum (less a margin for rounding) scores
    below the head's last score: not in the head, never sorted before its end. Its
    exact score is computed only if the walk goes past the head (all of them then).
    """
    w, rank = index.weights, columns.rank
    moment = item.published_at.timestamp()
    candidates = np.flatnonzero(allowed)
    values = summed[candidates]
    head = min(len(candidates), ranking_head(k))
    if 0 < head < len(candidates) and 0.0 <= w.recency <= 1.0 and w.half_life_days > 0:
        floor = np.partition(values, len(values) - head)[len(values) - head]
        near = np.flatnonzero(values >= floor * (1.0 - w.recency) * (1.0 - MARGIN))
        if len(near) < len(values) // 2 and values.min() >= 0.0:
            kept = candidates[near]
            scores = values[near] * decay(w, moment, columns.published[kept])
            threshold = np.partition(scores, len(scores) - head)[len(scores) - head]
            first = scores >= threshold
            chosen = kept[first]
            yield from (int(p) for p in chosen[np.lexsort((rank[chosen], -scores[first]))])
            exact = values * decay(w, moment, columns.published[candidates])
            rest = exact < threshold
            chosen = candidates[rest]
            yield from (int(p) for p in chosen[np.lexsort((rank[chosen], -exact[rest]))])
            return
    relevance = summed * decay(w, moment, columns.published[: len(summed)])
    yield from _ranked(relevance, allowed, k, rank[: len(summed)])
