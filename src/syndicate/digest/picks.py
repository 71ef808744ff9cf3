"""The "More from" block of a compiled edition, spliced per reader.

An edition is composed with more candidate picks than a reader sees (``related_k`` plus
spares) and compiled once with every candidate's block in it. Each reader is shown the
first ``related_k`` candidates, in rank order, that they have not received in the last
``related_memory_days`` (:func:`Layout.choose`); a reader with fewer unseen candidates
sees fewer, and one with none sees no block at all. The HTML and text parts are split
once per edition (:class:`Layout`); a reader's copy is their pieces joined, with no
template, MJML or CSS work per reader.

Templates mark the block with structural markers through the ``picks`` helper
(:class:`PickMarks`); after sealing they are these placeholders:

=========================  ===============================================================
``%%syn:more_from_K%%``    the block starts (its heading); at most ``K`` picks are shown
``%%syn:row%%``            a row of the grid starts (optional: the HTML's rows of two)
``%%syn:pick_N%%``         candidate ``N`` (its rank among the edition's related ids)
                           starts; its content runs to the next marker
``%%syn:row_end%%``        the row's closing markup starts; it runs to the next marker
``%%syn:more_from_end%%``  the block ends
=========================  ===============================================================

With rows, a reader's picks are laid out again in rows of the size of the template's
first row (a grid of two keeps its pairs, and an odd count ends with a half row), each
in the markup of the template's row at that place. A choice of picks is a bit mask over
candidate ranks (bit ``N`` set: candidate ``N`` shown); that is what the outbox records
per delivery.

A part without the block (an old edition, a template without markers) shows what it
holds to everyone.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from syndicate.digest.errors import TemplateError

# Bit masks are stored in a 64-bit signed column: ranks 0..62.
MAX_CANDIDATES = 63
BLOCK, BLOCK_END, ROW, ROW_END = "more_from", "more_from_end", "row", "row_end"
_STRUCTURAL = re.compile(r"(?:more_from_[0-9]+|more_from_end|row|row_end|pick_[0-9]+)")

Token = int | str  # an index into Layout.pieces, or a recipient placeholder's key


def is_structural(key: str) -> bool:
    """True for the keys of the block's markers (module docstring)."""
    return _STRUCTURAL.fullmatch(key) is not None


class _TokenMaker(Protocol):
    def token(self, key: str) -> str: ...


class PickMarks:
    """What templates print around the "More from" block (``picks`` in the context).

    ``begin`` before the block's heading, ``end`` after its last item; ``item(x)`` at
    the start of each candidate's content (``x`` a related item or its position in
    ``related``); ``row``/``row_end`` around a row of a grid (in the HTML part: before
    the row's ``mj-section``, and inside it after its last column).
    """

    def __init__(self, markers: _TokenMaker, shown: int, candidates: Sequence[str]) -> None:
        self._markers = markers
        self._shown = shown
        self._rank = {article_id: n for n, article_id in enumerate(candidates)}

    @property
    def begin(self) -> str:
        """The block starts; it shows at most ``related_k`` picks."""
        return self._markers.token(f"{BLOCK}_{self._shown}")

    @property
    def end(self) -> str:
        """The block ends."""
        return self._markers.token(BLOCK_END)

    @property
    def row(self) -> str:
        """A row of the grid starts."""
        return self._markers.token(ROW)

    @property
    def row_end(self) -> str:
        """The row's closing markup starts."""
        return self._markers.token(ROW_END)

    def item(self, which: object) -> str:
        """Candidate ``which`` (a related item, or its position in ``related``) starts."""
        rank = which if isinstance(which, int) else self._rank.get(getattr(which, "id", ""))
        if rank is None or not 0 <= rank < MAX_CANDIDATES:
            raise ValueError(f"picks.item(): {which!r} is not one of the related items")
        return self._markers.token(f"pick_{rank}")


@dataclass
class _Row:
    open: list[Token] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    close: list[Token] = field(default_factory=list)


class Layout:
    """A compiled part split at its markers: the literal ``pieces`` and how to join them
    for a choice of picks (:meth:`sequence`).

    ``source`` is the stored form, placeholders as ``%%syn:key%%`` and escaped percent
    signs as ``%%syn:percent%%`` (restored into the pieces here). Value keys are kept as
    keys; :class:`TemplateError` naming ``origin`` if the block's markers are out of order.
    """

    def __init__(self, source: str, origin: str) -> None:
        # Imported here: personalise imports this module for its Layout.
        from syndicate.digest.personalise import ESCAPES, MARKER

        self.origin = origin
        self.pieces: list[str] = []
        self.shown = 0  # K of the block; 0 without a block
        self.has_block = False
        self.order: list[int] = []  # candidate ranks in the part's order
        self._items: dict[int, list[Token]] = {}
        self._rows: list[_Row] = []
        self._before: list[Token] = []
        self._head: list[Token] = []
        self._after: list[Token] = []
        self._run = self._before
        self._state = "out"
        parts = MARKER.split(source)
        self._literal(parts[0])
        for index in range(1, len(parts), 2):
            key, after = parts[index], parts[index + 1]
            if key in ESCAPES:
                self.pieces[-1] += ESCAPES[key]
            elif is_structural(key):
                self._mark(key)
            else:
                self._run.append(key)
                self._literal("")
            if after:
                self.pieces[-1] += after
        if self._state not in ("out", "after"):
            self._fail(f'the "More from" block is not closed (no {_show(BLOCK_END)})')

    def _literal(self, text: str) -> None:
        self._run.append(len(self.pieces))
        self.pieces.append(text)

    def _fail(self, why: str) -> None:
        raise TemplateError(why, template=self.origin)

    def _mark(self, key: str) -> None:
        state = self._state
        if key.startswith(f"{BLOCK}_") and key != BLOCK_END:
            if state != "out":
                self._fail(f'a second {_show(key)}: one "More from" block per part')
            self.has_block, self.shown = True, int(key.rsplit("_", 1)[1])
            self._switch("head", self._head)
        elif key.startswith("pick_"):
            rank = int(key[5:])
            if state not in ("head", "row", "item") or (state == "head" and self._rows):
                self._fail(f'{_show(key)} outside the "More from" block or its rows')
            if rank in self._items or rank >= MAX_CANDIDATES:
                self._fail(f"{_show(key)} twice, or a rank over {MAX_CANDIDATES - 1}")
            self.order.append(rank)
            if self._rows:
                self._rows[-1].items.append(rank)
            self._items[rank] = []
            self._switch("item", self._items[rank])
        elif key == ROW:
            if state not in ("head", "row_end") or (state == "head" and self.order):
                self._fail(f'{_show(key)} outside the "More from" block')
            self._rows.append(_Row())
            self._switch("row", self._rows[-1].open)
        elif key == ROW_END:
            if state != "item" or not self._rows:
                self._fail(f"{_show(key)} without a {_show(ROW)} and an item before it")
            self._switch("row_end", self._rows[-1].close)
        else:  # BLOCK_END
            if state not in ("head", "item", "row_end") or (state == "item" and self._rows):
                self._fail(f"{_show(key)} without its block (or inside a row)")
            self._switch("after", self._after)

    def _switch(self, state: str, run: list[Token]) -> None:
        self._state, self._run = state, run
        self._literal("")

    @property
    def default(self) -> int:
        """The choice of a reader who received none of the candidates: the first ``K``."""
        return to_mask(self.order[: self.shown])

    def largest(self) -> int:
        """The choice giving the largest copy: the ``K`` candidates with the most markup
        (what a size limit must hold for)."""

        def size(rank: int) -> int:
            return sum(len(self.pieces[t]) for t in self._items[rank] if isinstance(t, int))

        return to_mask(sorted(self.order, key=size, reverse=True)[: self.shown])

    def choose(self, candidates: Sequence[str], received: Container[str]) -> int:
        """The picks shown to a reader who received ``received``: the first ``K``
        candidates (in the part's order) whose id is not in it, as a mask.

        ``candidates`` are the edition's related ids by rank. Without a block every
        candidate is shown (that is what such a part holds).
        """
        if not self.has_block:
            return to_mask(range(min(len(candidates), MAX_CANDIDATES)))
        mask, count = 0, 0
        for rank in self.order:
            if count == self.shown:
                break
            if rank < len(candidates) and candidates[rank] not in received:
                mask |= 1 << rank
                count += 1
        return mask

    def sequence(self, mask: int) -> list[Token]:
        """The tokens of the copy showing the picks in ``mask`` (at most ``K`` of them,
        in the part's order); an empty choice leaves the whole block out."""
        if not self.has_block:
            return list(self._before)
        chosen = [rank for rank in self.order if mask >> rank & 1][: self.shown]
        if not chosen:
            return [*self._before, *self._after]
        out = [*self._before, *self._head]
        if not self._rows:
            for rank in chosen:
                out += self._items[rank]
        else:
            size = max(1, len(self._rows[0].items))
            for number, start in enumerate(range(0, len(chosen), size)):
                row = self._rows[min(number, len(self._rows) - 1)]
                out += row.open
                for rank in chosen[start : start + size]:
                    out += self._items[rank]
                out += row.close
        out += self._after
        return out

    def text(self, mask: int) -> str:
        """The part showing ``mask``'s picks, recipient placeholders left in."""
        return "".join(
            self.pieces[t] if isinstance(t, int) else f"%%syn:{t}%%" for t in self.sequence(mask)
        )

    def value_keys(self) -> set[str]:
        """Every recipient placeholder key the part holds."""
        runs = [self._before, self._head, self._after, *self._items.values()]
        runs += [r.open for r in self._rows] + [r.close for r in self._rows]
        return {t for run in runs for t in run if isinstance(t, str)}


def to_mask(ranks: Iterable[int]) -> int:
    """The bit mask of candidate ``ranks``."""
    mask = 0
    for rank in ranks:
        mask |= 1 << rank
    return mask


def ranks(mask: int) -> list[int]:
    """The candidate ranks set in ``mask``, lowest first."""
    return [n for n in range(mask.bit_length()) if mask >> n & 1]


def same_picks(html: Layout, text: Layout) -> None:
    """Raise :class:`TemplateError` unless both parts mark the same candidates in the same
    order with the same ``K`` (so a reader's text part lists what their HTML shows)."""
    if (html.has_block, html.shown, html.order) != (text.has_block, text.shown, text.order):
        raise TemplateError(
            f'the HTML part marks "More from" picks {html.order} (showing {html.shown}) but '
            f"the text part marks {text.order} (showing {text.shown}): mark the same items "
            "in both templates with picks.begin, picks.item(item) and picks.end",
            template=f"{html.origin} / {text.origin}",
        )


def _show(key: str) -> str:
    return f"%%syn:{key}%%"
