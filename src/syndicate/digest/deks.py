"""The one-line dek of a "More from" pick: one sentence, at most ~140 characters.

The reference page's "More from" block gives each pick a one-line teaser ("As a
strategic consensus emerges in Europe, France is in the way."). :func:`one_line_dek`
makes one from what an article has: the first sentence of its dek, or of its body's
first paragraph when the dek is empty, cut at a word with an ellipsis when longer than
the limit. Pure functions: no I/O, no state.

Sentence ends are found with rules, not a model, so they are predictable:

* a sentence ends at ``.``, ``!``, ``?`` or an ellipsis, after any closing quotes or
  brackets, when whitespace and then a letter that is not lower case (or a digit, or an
  opening quote) follow; ``。！？`` end a sentence wherever they are;
* a full stop after a title or a short form that precedes a name or number ("Dr.",
  "Mr.", "Gen.", "St.", "Jan.", "No. 10", "vs.", "e.g.") does not end one, nor after a
  single capital ("George W. Bush") or a dotted capital acronym ("U.S.", "U.N."): those
  are far more often followed by a name ("U.S. China policy") than ending a sentence.
  When one does end the sentence, the next sentence is taken too and the cut shortens it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

DEK_LINE_MAX = 140
ELLIPSIS = "…"
# Titles and short forms that stand before a name, a place or a date: never a sentence
# end. Lower case, without the final dot. ("Inc.", "Ltd.", "etc." are left out: before
# a capital they usually do end a sentence.)
# fmt: off
_BEFORE_NAMES = frozenset({
    "mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt",
    "maj", "sgt", "capt", "cmdr", "adm", "gov", "sen", "rep", "rev", "fr", "hon", "pres",
    "supt", "insp", "det", "amb", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec", "vs", "v", "cf", "approx",
})
# fmt: on
# Short forms that stand before a number ("No. 10", "Vol. 3", "pp. 4-7").
_BEFORE_NUMBERS = frozenset(
    {"no", "nos", "vol", "vols", "fig", "figs", "p", "pp", "art", "ch", "sec", "op", "ca", "c"}
)
_ALWAYS_INSIDE = frozenset({"e.g", "i.e", "a.k.a"})
_CLOSERS = "\"'”’»)]"
_OPENERS = "\"'“‘«(["
_CJK_END = re.compile("[。！？]")
# A candidate end: terminal punctuation (an ASCII "..." counts as one), closers, then
# either whitespace or the end of the text.
_END = re.compile(r"(\.\.\.|[.!?…])([" + re.escape(_CLOSERS) + r"]*)(?=\s|$)")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_SPACE = re.compile(r"\s+")
# Body elements whose text is not the article's opening prose.
_SKIPPED = frozenset(
    {"figure", "figcaption", "table", "pre", "code", "h1", "h2", "h3", "h4", "h5", "h6"}
)
_BLOCKS = frozenset(
    {"p", "div", "li", "ul", "ol", "blockquote", "section", "article", "header", "hr"}
)


def one_line_dek(dek: str, body_html: str = "", limit: int = DEK_LINE_MAX) -> str:
    """The first sentence of ``dek`` (or of ``body_html``'s first paragraph when the dek
    is empty), on one line and at most ``limit`` characters (cut at a word, ending "…").

    Empty when both are empty. ``dek`` is plain text (as ingest cleans it); ``body_html``
    is the article's sanitised HTML.
    """
    text = _one_line(dek) or first_paragraph(body_html)
    return cut_at_word(first_sentence(text), limit)


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (module docstring), whitespace folded; all of it
    when no sentence end is found."""
    text = _one_line(text)
    cjk = _CJK_END.search(text)
    if cjk is not None:  # an earlier Latin end still wins: it is looked for below
        text = text[: cjk.end() + _closers_after(text, cjk.end())]
    for match in _END.finditer(text):
        end = match.end()
        rest = text[end:].lstrip()
        if not rest:
            return text[:end]
        if _starts_sentence(rest) and not _is_short_form(text, match, rest):
            return text[:end]
    return text


def cut_at_word(text: str, limit: int = DEK_LINE_MAX) -> str:
    """``text`` when it fits in ``limit`` characters; else cut at the last word that
    fits, trailing punctuation and opening quotes dropped, ending with "…".

    A single word longer than half the limit is cut inside rather than leaving almost
    nothing.
    """
    if limit < 2:
        raise ValueError(f"limit must be at least 2 characters, not {limit}")
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    if not text[len(cut)].isspace():  # the cut falls inside a word: back off to its start
        space = cut.rfind(" ")
        if space >= limit // 2:
            cut = cut[:space]
    return cut.rstrip(" ,;:.-–—" + _OPENERS) + ELLIPSIS


def first_paragraph(body_html: str) -> str:
    """The text of the first paragraph of ``body_html`` that has any, on one line.

    Figures and their captions, headings, tables and code are passed over: they are not
    the article's opening prose.
    """
    if not body_html:
        return ""
    reader = _FirstParagraph()
    reader.feed(body_html)
    reader.close()
    return reader.text()


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _closers_after(text: str, at: int) -> int:
    count = 0
    while at + count < len(text) and text[at + count] in _CLOSERS:
        count += 1
    return count


def _starts_sentence(rest: str) -> bool:
    """Whether ``rest`` (after a candidate end and its space) can open a sentence."""
    head = rest.lstrip(_OPENERS)
    if not head:
        return False
    first = head[0]
    # Caseless scripts (CJK, Arabic, Hebrew…) have no capitals: any letter may start.
    return first.isdigit() or (first.isalpha() and not first.islower())


def _is_short_form(text: str, match: re.Match[str], rest: str) -> bool:
    """Whether the full stop of ``match`` belongs to a short form, not a sentence end."""
    if match.group(1) != "." or match.group(2):
        return False
    word = _WORD_BEFORE.search(text, 0, match.start())
    if word is None:
        return False
    token = word.group(1).lstrip(".")
    lower = token.lower()
    if lower in _ALWAYS_INSIDE or lower in _BEFORE_NAMES:
        return True
    if lower in _BEFORE_NUMBERS:
        return rest[:1].isdigit()
    if len(token) == 1 and token.isupper():  # an initial: "George W. Bush"
        return True
    # A dotted acronym: "U.S", "U.K", "U.N" (but "a.m" / "p.m" do end sentences).
    letters = token.replace(".", "")
    return "." in token and letters.isalpha() and letters.isupper()


class _FirstParagraph(HTMLParser):
    """Collects the text of the first block with words in it, skipping non-prose."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._skip = 0
        self._parts: list[str] = []
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag in _BLOCKS:
            self._boundary()
        elif tag == "br":
            self.handle_data(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self._boundary()
        elif tag == "br":  # a line break inside a paragraph: a space between words
            self.handle_data(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self._boundary()

    def handle_data(self, data: str) -> None:
        if not self._skip and not self._done:
            self._parts.append(data)

    def _boundary(self) -> None:
        if not self._done and self.text():
            self._done = True

    def text(self) -> str:
        return _one_line("".join(self._parts))
