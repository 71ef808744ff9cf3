"""The members of a related index as score columns, and a block's text signal over them.

:func:`~.before.pick_each_before` scores a block of feed items at a time over the
index's members (``related/before.py``). :class:`Columns` holds the members' vectors and
labels in publication order, so that "published before the item" is a prefix;
:class:`BlockText` computes what the text signal needs of *every* member (the plain
cosines, the feedback neighbours, the widened cosines, the BM25 scales) once per block,
and then the signal itself over a prefix, cell by cell as ``RelatedIndex._text`` computes
it for the item alone (``related/ranking.py``):

* the products are float32 (members × stories), a row's terms summed in the row's order
  whatever other stories ride along, over only the features the stories use (a term a
  story lacks adds +0.0: the sums start at +0.0 and no term is negative);
* the feedback neighbours are a *set* (the feedback matrix is built canonical, so its
  sums run in pool row order): the members' top ``depth`` cosines give the same set as
  the whole pool's row unless the ``depth``-th and next cosines tie (above 0); then
  which tied member ``argpartition`` keeps depends on the whole row it is given, so for
  those rows the whole pool's row (zeros outside the members) is rebuilt and
  partitioned exactly as the item alone partitions it (:func:`nearest_members`);
* a maximum is exact whatever the columns' order; non-members are never a neighbour or
  a scale, and the story's own column counts as 0, as for the item alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse

from syndicate.models import Article
from syndicate.related.ranking import RelatedIndex
from syndicate.related.terms import MAX_TERMS

FloatArray = npt.NDArray[np.float64]
Rows = npt.NDArray[np.int64]

CHUNK = 2048  # members' rows at a time in a float64 pass over every member
# Up to this many stories a product is one sparse matrix-vector product per story over
# every feature (scipy's one-vector kernel: one pass over the rows, ~0.7 ms at 1.35
# million terms); beyond it, the rows restricted to the stories' features first (two
# passes, then a product over fewer terms; 1.7–7 ms whatever the stories' count).
MATVEC_MAX = 3


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
        self.published = pool.published[self.rows]
        self.open = ~pool.excluded[self.rows]
        self.stories = pool.stories[self.rows]
        self.rank = pool.rank[self.rows]
        self.sections = pool.sections[self.rows]
        # The label matrices' transposes, (labels × columns): only ever read as their
        # first ``width`` columns (a prefix of the members), so when the members are the
        # pool's first rows in order (a site pool, articles stored as they were
        # published) the pool's own serve, as does a slice of its space (no copies).
        if np.array_equal(self.rows, np.arange(len(self.rows))):
            self.space = pool.space.prefix(len(self.rows))
            self.tags_t, self.authors_t = pool.tags_t, pool.authors_t
        else:
            self.space = pool.space.view(self.rows)
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


def member_products(
    columns: Columns, parts: Sequence[tuple[sparse.csr_matrix, bool]]
) -> npt.NDArray[np.float32]:
    """``space.matrix @ space.dense(vectors, presence=...)`` over the members' space for
    each of ``parts``, side by side (members × stories), in one pass over the rows.

    Every product sums the row's terms in the row's order, and a term the story lacks
    adds +0.0 (the sums start at +0.0 and no term is negative): whether the features no
    story has take part (a few stories: :data:`MATVEC_MAX`) or not changes no bit.
    """
    space = columns.space
    compact = [space.compact(vectors) for vectors, _ in parts]
    stories = sum(c.shape[0] for c in compact)
    if stories <= MATVEC_MAX:
        features = space.matrix.shape[1]
        out = np.empty((space.matrix.shape[0], stories), dtype=np.float32)
        column = 0
        for c, (_, presence) in zip(compact, parts, strict=True):
            for row in range(c.shape[0]):
                lo, hi = c.indptr[row], c.indptr[row + 1]
                dense = np.zeros(features, dtype=np.float32)
                dense[c.indices[lo:hi]] = 1.0 if presence else c.data[lo:hi]
                out[:, column] = space.matrix @ dense
                column += 1
        return out
    used = np.unique(np.concatenate([c.indices for c in compact]))
    dense = np.zeros((len(used), stories), dtype=np.float32)
    start = 0
    for c, (_, presence) in zip(compact, parts, strict=True):
        rows = start + np.repeat(np.arange(c.shape[0]), np.diff(c.indptr))
        dense[np.searchsorted(used, c.indices), rows] = 1.0 if presence else c.data
        start += c.shape[0]
    return np.asarray(space.matrix[:, used] @ dense, dtype=np.float32)


class BlockText:
    """The text signal of a block's stories (``RelatedIndex._text``): what needs every
    member (the plain cosines, the feedback neighbours, the widened cosines, the BM25
    scales) computed once, as (members × stories) float32 products; the signal itself
    per part of the block, over the members before it (:meth:`text`)."""

    def __init__(
        self,
        index: RelatedIndex,
        columns: Columns,
        block: Sequence[Article],
        vectors: sparse.csr_matrix,
    ) -> None:
        w, space = index.weights, columns.space
        own = np.array([columns.of(index, story.id) for story in block], dtype=np.int64)
        mine = np.flatnonzero(own >= 0)
        distinct = np.diff(vectors.indptr).astype(np.float64)
        self.share = w.query * np.clip(1.0 - distinct / MAX_TERMS, 0.0, 1.0)
        # The stories whose text blends in the BM25 score: its products ride along.
        self.queries = np.flatnonzero(self.share > 0)
        queries = [(vectors[self.queries], True)] if len(self.queries) else []
        products = member_products(columns, [(vectors, False), *queries])
        self.plain = products[:, : len(block)]
        self.plain[own[mine], mine] = 0.0  # never its own neighbour (nor its own pick)
        self.dots = products[:, len(block) :]
        self.norms = space.norms
        depth = min(w.feedback_depth, len(columns) - 1)
        if w.feedback > 0 and depth >= 1:
            rows, neighbours = nearest_members(index, columns, self.plain, depth)
            widened = index.widened_vectors(vectors, rows, neighbours, depth)
            self.cosine = member_products(columns, [(widened, False)])
        else:
            self.cosine = self.plain
        self.scale = np.zeros(len(block))
        if len(self.queries):
            self._scale(own)

    def _scale(self, own: Rows) -> None:
        """Each query story's ``share · best cosine / best BM25`` (bests over the
        members but the story: every value is ≥ 0, so a 0 in its own column is none)."""
        mine = np.flatnonzero(own >= 0)
        self.cosine[own[mine], mine] = 0.0
        asked = own[self.queries]
        self.dots[asked[asked >= 0], np.flatnonzero(asked >= 0)] = 0.0
        best_cosine = self.cosine.max(axis=0)[self.queries].astype(np.float64)
        best_bm25 = np.zeros(len(self.queries))
        for lo in range(0, len(self.dots), CHUNK):  # float64 products a cache's worth at a time
            part = np.multiply(
                self.dots[lo : lo + CHUNK], self.norms[lo : lo + CHUNK, None], dtype=np.float64
            )
            np.maximum(best_bm25, part.max(axis=0), out=best_bm25)
        share = self.share[self.queries]
        self.scale[self.queries] = np.divide(
            share * best_cosine, best_bm25, out=np.zeros_like(share), where=best_bm25 > 0
        )

    def text(self, lo: int, hi: int, width: int) -> FloatArray:
        """The signal of stories ``[lo, hi)`` over the first ``width`` members, as
        ``RelatedIndex._blended`` computes each cell (``cosine + scale · bm25``)."""
        cosine = self.cosine[:width, lo:hi].T
        asked = np.flatnonzero((self.queries >= lo) & (self.queries < hi))
        if len(asked) == hi - lo:  # (the usual case) every story's dots side by side
            dots = self.dots[:width, asked[0] : asked[0] + len(asked)]
            # bm25 · scale + cosine: the same products and sums (each commutes, to the bit),
            # members × stories as the products are, then turned.
            text = np.multiply(dots, self.norms[:width, None], dtype=np.float64)
            text *= self.scale[None, lo:hi]
            text += self.cosine[:width, lo:hi]
            return np.ascontiguousarray(text.T)
        text = np.array(cosine, dtype=np.float64, order="C")
        if not len(asked):
            return text
        bm25 = np.zeros((hi - lo, width))  # (a story of many words: scale 0, adds +0.0)
        dots = np.asarray(self.dots[:width, asked].T, dtype=np.float64)
        bm25[self.queries[asked] - lo] = dots * self.norms[None, :width]
        return np.asarray(text + self.scale[lo:hi, None] * bm25, dtype=np.float64)


def nearest_members(
    index: RelatedIndex, columns: Columns, plain: npt.NDArray[np.float32], depth: int
) -> tuple[Rows, Rows]:
    """Each story's ``depth`` nearest members with a positive cosine (``plain``:
    members × stories), as (story rows, pool rows). A tie at the last place is settled
    as the item alone settles it: by ``argpartition`` over the whole pool's row (float64,
    zeros outside the members)."""
    top, tied = _top(plain, depth)
    top = columns.rows[top]  # pool rows
    for row in np.flatnonzero(tied):
        whole = np.zeros((1, len(index.pool)))
        whole[0, columns.rows] = plain[:, row]
        top[row] = np.argpartition(-whole, depth - 1, axis=1)[0, :depth]
    places = columns.place[top]  # (a tie's partition may keep non-members: 0, dropped)
    near = plain[np.maximum(places, 0), np.arange(len(top))[:, None]]
    chosen = (places >= 0) & (near > 0)  # only neighbours sharing a word
    rows = np.repeat(np.arange(len(top)), depth)[chosen.ravel()]
    return rows, top.ravel()[chosen.ravel()]


def _top(plain: npt.NDArray[np.float32], depth: int) -> tuple[Rows, npt.NDArray[np.bool_]]:
    """Each story's ``depth`` largest members (``plain``: members × stories), and
    whether the ``depth``-th ties with the next (above 0: then which of them a partition
    keeps depends on the whole row). ``depth`` is below the number of members."""
    negated = np.negative(plain.T, order="C")  # rows contiguous for the partition
    top = np.argpartition(negated, depth, axis=1)[:, : depth + 1]
    values = np.take_along_axis(negated, top, axis=1)
    last, following = values[:, :depth].max(axis=1), values[:, depth]
    return top[:, :depth], (last == following) & (last < 0)
