"""Feed items' picks from the articles before each item, chosen in batched passes.

A feed item's "More from" picks come from the pool members published strictly before
it (``feeds/picks.py``). Asking :meth:`~.ranking.RelatedIndex.pick_per_story` once per
item, every later member excluded, scores the item against the whole pool anyway and
pays the per-call set-up item by item: quadratic in the archive. Here the items are
scored a block at a time (one set of products per block) over the members only, their
columns in publication order (:class:`Columns`), and each item's picks are walked from
its own row.

What an item needs of the whole row, and what only of the members before it:

* its feedback neighbours and the scale of its BM25 blend are chosen among *all*
  members, later ones too: the plain cosine, the widened cosine and the BM25 score are
  computed over every member (three sparse products per block, and a partition and two
  maxima per row);
* everything else (the blended text signal, section, tags, author, semantic part, age
  decay, their combination, the ranking and the walk) only over the block's *prefix*:
  the members published before the block's newest item (on average half the members,
  where every candidate an item may pick lies).

Why the picks are the same, to the bit:

* every cell is computed by the same operations on the same operands as the item alone
  gets: products and sums run per row in the same order (``lexical.py``, the label
  products summed in the story's order), the age decay is counted from the item's own
  date, the semantic part is computed per item; a cell's value does not depend on which
  other columns are computed, or in which order;
* non-members are never a neighbour, a scale or a pick, so leaving their columns out
  changes no maximum; the story's own column is set to 0 where the item alone gets 0
  (never a neighbour or a scale, never its own pick);
* the feedback neighbours are a *set* (the feedback matrix is built canonical, so its
  sums run in pool row order): the members' top ``depth`` cosines give the same set as
  the whole pool's row unless the ``depth``-th and next cosines tie (above 0); then
  which tied member ``argpartition`` keeps depends on the whole row it is given, so
  for those rows the whole pool's row (zeros outside the members) is rebuilt and
  partitioned exactly as the item alone partitions it (``_neighbours``);
* "published before the item" is a comparison of the same timestamps the per-item
  path compares (a prefix of the columns, which are sorted by them); the ranking breaks
  ties by the pool's id rank as ``_ranked`` always does;
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

import numpy as np
import numpy.typing as npt
from scipy import sparse

from syndicate.models import Article
from syndicate.related.pool import folded, label_matrix
from syndicate.related.ranking import RelatedIndex, _authors, _ranked, decay
from syndicate.related.terms import MAX_TERMS

FloatArray = npt.NDArray[np.float64]
Rows = npt.NDArray[np.int64]

# The cells of one block's (items × members) matrices: ~8 MB of float64 each, whatever
# the archive's size (104 items over 10,000 members, 256 over 4,096 or fewer).
BLOCK_CELLS = 1 << 20
MAX_BLOCK = 256


def block_size(columns: int) -> int:
    """How many items are scored together over ``columns`` members."""
    return max(1, min(MAX_BLOCK, BLOCK_CELLS // max(columns, 1)))


class Columns:
    """An index's members as score columns, in publication order (ties in row order):
    "published before the item" is a prefix. Each column is its pool row's vector and
    labels (:meth:`~.lexical.LexicalSpace.view` keeps the whole pool's statistics)."""

    def __init__(self, index: RelatedIndex) -> None:
        pool = index.pool
        members = np.flatnonzero(index.members)
        self.rows: Rows = members[np.argsort(pool.published[members], kind="stable")]
        self.place = np.full(len(pool), -1, dtype=np.int64)  # pool row → column (-1: none)
        self.place[self.rows] = np.arange(len(self.rows))
        self.space = pool.space.view(self.rows)
        self.published = pool.published[self.rows]
        self.open = ~pool.excluded[self.rows]
        self.stories = pool.stories[self.rows]
        self.rank = pool.rank[self.rows]
        self.sections = pool.sections[self.rows]
        self.tags_t = pool.tags[self.rows].T.tocsr()
        self.authors_t = pool.authors[self.rows].T.tocsr()

    def __len__(self) -> int:
        return len(self.rows)

    def before(self, moment: float) -> int:
        """How many columns were published strictly before the timestamp ``moment``."""
        return int(np.searchsorted(self.published, moment, side="left"))

    def of(self, index: RelatedIndex, article_id: str) -> int:
        """The column of pool article ``article_id`` (-1: not a member, or not in the pool)."""
        row = index.pool.position.get(article_id)
        return -1 if row is None else int(self.place[row])


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
    """The pool rows each item of ``block`` picks."""
    # The index's own internals, on purpose: this is its per-story path, batched.
    vectors = index._vectors(block)
    own = [columns.of(index, story.id) for story in block]
    # The story's plain cosine with every member: where the text signal starts from, and
    # (float32, as the near-copy check sums it) the story's side of that check.
    plain = columns.space.cosines(vectors)
    for row, place in enumerate(own):
        if place >= 0:
            plain[row, place] = 0.0  # never its own neighbour (nor its own pick)
    width = max(columns.before(story.published_at.timestamp()) for story in block)
    scores = _scores(index, columns, block, vectors, plain, own, width)
    plain32 = plain[:, :width].astype(np.float32)
    del plain
    picks = []
    for row, item in enumerate(block):
        walked = _walk(index, columns, scores[row], item, k, plain32[row], cosines)
        picks.append([int(columns.rows[place]) for place in walked])
    return picks


def _scores(
    index: RelatedIndex,
    columns: Columns,
    block: Sequence[Article],
    vectors: sparse.csr_matrix,
    plain: FloatArray,
    own: list[int],
    width: int,
) -> FloatArray:
    """The block's (items × first ``width`` columns) scores: ``Signals.combined``."""
    w, pool = index.weights, index.pool
    text = _text(index, columns, vectors, plain, own, width)
    codes = np.array([pool.section_code.get(s.section.casefold(), -1) for s in block])
    same = codes[:, None] == columns.sections[None, :width]
    informative = np.append(pool.section_weight, 0.0)  # code -1 (unknown) → nothing
    total = text + np.where(same, w.section * informative[codes][:, None], 0.0)
    del text, same
    story_tags = label_matrix([folded(s.tags) for s in block], pool.tag_vocab)
    weighted = story_tags.multiply(pool.tag_weight[None, :])
    tag = (weighted @ columns.tags_t[:, :width]).toarray()
    tag = np.minimum(tag, w.tag_cap, out=tag)
    tag *= w.tag
    total += tag
    del tag
    story_authors = label_matrix([_authors(s) for s in block], pool.author_vocab)
    shared_authors = (story_authors @ columns.authors_t[:, :width]).toarray() > 0
    total += np.where(shared_authors, w.author * 1.0, 0.0)
    del shared_authors
    if index._embeddings and w.semantic != 0:
        semantic = np.vstack([index._semantic([s]) for s in block])
        total += semantic[:, columns.rows[:width]]
    # (Without embeddings the semantic part is +0.0: adding it changes no score.)
    moments = np.array([[s.published_at.timestamp()] for s in block])
    total *= decay(w, moments, columns.published[None, :width])
    return total


def _text(
    index: RelatedIndex,
    columns: Columns,
    vectors: sparse.csr_matrix,
    plain: FloatArray,
    own: list[int],
    width: int,
) -> FloatArray:
    """``RelatedIndex._text`` over the first ``width`` columns: the widened cosine,
    blended with BM25 for stories of few words; neighbours and scales among all members
    (``plain``: cosines with every member, each story's own column 0)."""
    w = index.weights
    depth = min(w.feedback_depth, len(columns) - 1)
    if w.feedback > 0 and depth >= 1:
        rows, neighbours = _neighbours(index, columns, plain, depth)
        widened = index.widened_vectors(vectors, rows, neighbours, depth)
        cosine = columns.space.cosines(widened)
    else:
        cosine = plain
    distinct = np.diff(vectors.indptr).astype(np.float64)
    share = w.query * np.clip(1.0 - distinct / MAX_TERMS, 0.0, 1.0)
    if not share.any():
        return np.array(cosine[:, :width], dtype=np.float64)
    bm25 = columns.space.query_scores(vectors)
    for row, place in enumerate(own):
        if place >= 0:  # a story never sets its own scale (all values are ≥ 0)
            cosine[row, place] = bm25[row, place] = 0.0
    best_cosine = cosine.max(axis=1)
    best_bm25 = bm25.max(axis=1)
    scale = np.divide(share * best_cosine, best_bm25, out=np.zeros_like(share), where=best_bm25 > 0)
    return np.asarray(cosine[:, :width] + scale[:, None] * bm25[:, :width], dtype=np.float64)


def _neighbours(
    index: RelatedIndex, columns: Columns, plain: FloatArray, depth: int
) -> tuple[Rows, Rows]:
    """Each story's ``depth`` nearest members with a positive cosine, as (story rows,
    pool rows). A tie at the last place is settled as the item alone settles it: by
    ``argpartition`` over the whole pool's row, zeros outside the members."""
    top, tied = _top(plain, depth)
    top = columns.rows[top]  # pool rows
    for row in np.flatnonzero(tied):
        whole = np.zeros((1, len(index.pool)))
        whole[0, columns.rows] = plain[row]
        top[row] = np.argpartition(-whole, depth - 1, axis=1)[0, :depth]
    places = columns.place[top]  # (a tie's partition may keep non-members: 0, dropped)
    near = np.take_along_axis(plain, np.maximum(places, 0), axis=1)
    chosen = (places >= 0) & (near > 0)  # only neighbours sharing a word
    rows = np.repeat(np.arange(len(plain)), depth)[chosen.ravel()]
    return rows, top.ravel()[chosen.ravel()]


def _top(plain: FloatArray, depth: int) -> tuple[Rows, npt.NDArray[np.bool_]]:
    """Each row's ``depth`` largest columns, and whether the ``depth``-th ties with the
    next (above 0: then which of them a partition keeps depends on the whole row).
    ``depth`` is below the row's length."""
    top = np.argpartition(-plain, [depth - 1, depth], axis=1)
    last = np.take_along_axis(plain, top[:, depth - 1 : depth + 1], axis=1)
    return top[:, :depth], (last[:, 0] == last[:, 1]) & (last[:, 0] > 0)


def _walk(
    index: RelatedIndex,
    columns: Columns,
    relevance: FloatArray,
    item: Article,
    k: int,
    story_cosines: npt.NDArray[np.float32],
    cosines: RowCosines,
) -> list[int]:
    """``RelatedIndex._diversify`` for one item over its columns (those before it):
    pins first, then the most relevant allowed columns, one per story cluster, passing
    over near-copies."""
    limit = index.weights.near_duplicate
    width = columns.before(item.published_at.timestamp())
    allowed = columns.open[:width].copy()
    cluster = index.pool.cluster(item.story_key)
    if cluster is not None:
        allowed &= columns.stories[:width] != cluster
    own = columns.of(index, item.id)
    if 0 <= own < width:
        allowed[own] = False
    pinned = [columns.of(index, p) for p in dict.fromkeys(item.related_pins)]
    pinned = [p for p in pinned if p >= 0]
    picked: list[int] = []
    taken: set[int] = set()
    ranked = _ranked(relevance[:width], allowed, k, columns.rank[:width])
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
