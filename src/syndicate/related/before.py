"""Feed items' picks from the articles before each item, chosen in batched passes.

A feed item's "More from" picks come from the pool members published strictly before
it (``feeds/picks.py``). Asking :meth:`~.ranking.RelatedIndex.pick_per_story` once per
item, every later member excluded, scores the item against the whole pool anyway and
pays the per-call set-up (the exclusion set, the allowed mask, one store read, scipy's
per-product overhead for every near-copy check) item by item: quadratic in the
archive, two thirds of a cold feed build. Here the items are scored a block at a time
(one set of products per block, blocks small enough that no (items × rows) matrix
grows past ~8 MB) and each item's picks are walked
from its own row. What is left grows with items × members, as the definition asks:
an item's feedback neighbours and scale are chosen among all members, later ones too.

Why the picks are the same, to the bit:

* a row of the batched signals is the row the item alone gets: every product and sum
  runs per row in the same order (``lexical.py``, ``ranking.py``: the text signal,
  its feedback and BM25 blend), the age decay is counted from the item's own date
  (``_signals(each=True)``) and the semantic part is computed per item;
* when members are at most half the pool (``related_pool = "channel"``), non-members'
  columns are left out (:meth:`~.pool.Pool.view` keeps the whole pool's statistics):
  they are never a neighbour, a scale or a pick. Only which of several
  *tied* feedback neighbours ``argpartition`` keeps depends on the columns it is
  given, so an item whose neighbours tie at the last place is scored over the whole
  pool, as alone (``_tied``);
* the exclusions only ever changed which candidates are allowed, never the scores:
  "published before the item" is a comparison of the same timestamps the per-item
  path compared;
* the walk is :meth:`~.ranking.RelatedIndex._diversify`'s, and its near-copy checks
  compute the same float32 sums: a story's cosine with a pool row is the row's entries
  times the story's weights summed in the row's order (as ``space.cosines`` and the
  sparse product both do), and two rows' cosine is summed in the candidate row's order
  (as scipy's sparse product does), here with ``cumsum`` (sequential, unlike ``sum``).

``tests/test_related_before.py`` compares both paths pick by pick.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from syndicate.models import Article
from syndicate.related.ranking import RelatedIndex, _ranked

# The cells of one block's (items × members) matrices: ~8 MB of float64 each, whatever
# the archive's size (104 items over 10,000 members, 256 over 4,096 or fewer).
BLOCK_CELLS = 1 << 20
MAX_BLOCK = 256
# Members at most this share of the pool: score a view of their columns only.
VIEW_SHARE = 0.5


def block_size(pool_size: int) -> int:
    """How many items are scored together over a pool of ``pool_size`` rows."""
    return max(1, min(MAX_BLOCK, BLOCK_CELLS // max(pool_size, 1)))


class RowCosines:
    """Cosines of pool rows with each other, as ``RelatedIndex.near_copy`` computes them
    (float32, summed in the first row's order), remembered for one batch of items:
    neighbouring items walk much the same candidates (a few pairs per item)."""

    def __init__(self, index: RelatedIndex) -> None:
        matrix = index.pool.matrix
        self._indptr = matrix.indptr
        self._indices = matrix.indices
        self._data = matrix.data
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
        _, mine, theirs = np.intersect1d(ids, other_ids, assume_unique=True, return_indices=True)
        if not len(mine):
            return np.float32(0.0)
        order = np.argsort(mine, kind="stable")  # the row's own entry order
        products = values[mine[order]] * other_values[theirs[order]]
        return np.float32(np.cumsum(products, dtype=np.float32)[-1])


def pick_each_before(
    index: RelatedIndex, items: Sequence[Article], k: int
) -> dict[str, tuple[Article, ...]]:
    """For each of ``items``, its ``k`` picks among ``index``'s members published
    strictly before it: what ``index.pick_per_story([item], k, exclude=<the members
    not older than item>)`` gives, item by item (see the module's docstring)."""
    if k <= 0 or not items:
        return {item.id: () for item in items}
    members = np.flatnonzero(index.members)
    if len(members) <= VIEW_SHARE * len(index.pool):
        # Only members are ever neighbours, scales or picks: their columns are all a
        # row needs (with related_pool = "channel", a channel's share of the work).
        scoring = RelatedIndex.over(
            index.pool.view(members), index.load, index.weights, members=np.ones(len(members), bool)
        )
        columns: npt.NDArray[np.int64] | None = members
    else:  # (the site's pool: nearly every row is a member, a view would save little)
        scoring, columns = index, None
    cosines = RowCosines(scoring)
    chosen: dict[str, tuple[Article, ...]] = {}
    ids = scoring.pool.ids
    size = block_size(len(scoring.pool))
    for start in range(0, len(items), size):
        block = items[start : start + size]
        places = _pick_block(index, scoring, columns, block, k, cosines)
        wanted = list(dict.fromkeys(ids[p] for rows in places for p in rows))
        loaded = {a.id: a for a in index.load(wanted)}  # one store read per block
        for item, rows in zip(block, places, strict=True):
            chosen[item.id] = tuple(loaded[i] for i in (ids[p] for p in rows) if i in loaded)
    return chosen


def _pick_block(
    index: RelatedIndex,
    scoring: RelatedIndex,
    columns: npt.NDArray[np.int64] | None,
    block: Sequence[Article],
    k: int,
    cosines: RowCosines,
) -> list[list[int]]:
    """The rows of ``scoring`` (``index`` itself, or the view of its rows ``columns``)
    each item of ``block`` picks."""
    pool = scoring.pool
    # The index's own internals, on purpose: this is its per-story path, batched.
    vectors = index._vectors(block)
    # The story's plain cosine with every row: where the text signal starts from, and
    # (float32, as the near-copy check sums it) the story's side of that check.
    story_cosines = pool.space.cosines(vectors)
    signals = scoring._signals(block, None, vectors, each=True, cosine=story_cosines)
    if columns is not None and index._embeddings and index.weights.semantic != 0:
        semantic = np.vstack([index._semantic([s]) for s in block])[:, columns]
        signals = replace(signals, semantic=semantic)
    scores = signals.combined()
    del signals
    if columns is not None:
        for row in _tied(scoring, block, story_cosines):
            alone = index._signals([block[row]], None, vectors[row], each=True).combined()
            scores[row] = alone[0, columns]
    # (_tied may have zeroed a story's own column: never its own pick, never checked.)
    story_cosines32 = story_cosines.astype(np.float32)
    del story_cosines
    open_rows = scoring.members & ~pool.excluded
    picks = []
    for row, item in enumerate(block):
        allowed = open_rows & (pool.published < item.published_at.timestamp())
        cluster = pool.cluster(item.story_key)
        if cluster is not None:
            allowed &= pool.stories != cluster
        if item.id in pool.position:
            allowed[pool.position[item.id]] = False
        picks.append(_walk(scoring, scores[row], allowed, item, k, story_cosines32[row], cosines))
    return picks


def _tied(
    view: RelatedIndex, block: Sequence[Article], cosines: npt.NDArray[np.float64]
) -> list[int]:
    """The rows whose feedback neighbours are not one set: a tie of positive cosines
    at the last place. Which tied member ``argpartition`` keeps depends on the whole
    row it is given, so those rows are scored over the whole pool as the item alone
    would be. Each story's own column of ``cosines`` is set to 0 (in place: no copy)."""
    depth = min(view.weights.feedback_depth, len(view.pool) - 1)
    near = cosines
    for row, story in enumerate(block):
        if story.id in view.pool.position:
            near[row, view.pool.position[story.id]] = 0.0
    if view.weights.feedback <= 0 or depth < 1:
        return []
    # The depth-th and (depth+1)-th largest cosines of each row.
    ordered = -np.partition(-near, [depth - 1, depth], axis=1)
    last, next_one = ordered[:, depth - 1], ordered[:, depth]
    return [int(row) for row in np.flatnonzero((last == next_one) & (last > 0))]


def _walk(
    index: RelatedIndex,
    relevance: npt.NDArray[np.float64],
    allowed: npt.NDArray[np.bool_],
    item: Article,
    k: int,
    story_cosines: npt.NDArray[np.float32],
    cosines: RowCosines,
) -> list[int]:
    """``RelatedIndex._diversify`` for one item: pins first, then the most relevant
    allowed rows, one per story cluster, passing over near-copies."""
    pool, limit = index.pool, index.weights.near_duplicate
    pinned = [pool.position[p] for p in dict.fromkeys(item.related_pins) if p in pool.position]
    picked: list[int] = []
    taken: set[int] = set()
    ranked = _ranked(relevance, allowed, k, pool.rank)
    for place in itertools.chain((p for p in pinned if allowed[p]), ranked):
        cluster = int(pool.stories[place])
        if place in picked or cluster in taken:
            continue
        if place not in pinned and (
            story_cosines[place] >= limit
            or (picked and max(cosines(place, p) for p in picked) >= limit)
        ):
            continue
        picked.append(place)
        taken.add(cluster)
        if len(picked) == k:
            break
    return picked
