"""The similarity signature of an article: the words of its title and lead, hashed.

Two outlets' copies of one story rarely share a sentence (the headline is rewritten, the
lead reworded) but they share the story's names, places and numbers. So the signature
is the *set* of an article's content words — title plus the first :data:`LEAD_WORDS`
words of the body (the dek when there is no body) — case-folded, without stop words,
with a plural "s" dropped, each hashed to 32 bits. Two signatures are compared by their
Jaccard similarity (shared words / all words), computed exactly.

Why a stored word set and not a MinHash or SimHash: a story's title and lead give about
40 such words, so the sorted set is ~160 bytes, smaller than a 64-permutation MinHash,
and it gives the exact Jaccard, where a 64-permutation MinHash is off by ±0.06 around
0.4 — the very range where reworded copies of a story sit (``bench/dedup.py``). Finding
candidates needs no archive scan either way: copies of one story arrive within days of
each other, so candidates are the articles published within the story window, read by
the published-time index, and matched through an inverted index of their words
(:mod:`syndicate.ingest.stories`).
"""

from __future__ import annotations

import html
import re
import zlib
from array import array

LEAD_WORDS = 60  # words of body (or dek) after the title
MIN_FEATURES = 8  # fewer distinct words than this: too little text to judge a copy

_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"\w+(?:[.,]\d\w*)*")  # "4.75bn" and "1,200" stay one word

# Function words and the words of news reporting itself ("said", "told"): they say
# nothing about which story it is.
_STOP_WORDS = """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves said says say told new one"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


def lead_text(title: str, dek: str, body_html: str, words: int = LEAD_WORDS) -> str:
    """The text a signature is made of: the title and the lead's first ``words`` words."""
    body = html.unescape(_TAG.sub(" ", body_html)).split()
    lead = body if body else dek.split()
    return f"{title} {' '.join(lead[:words])}"


def words(text: str) -> list[str]:
    """The content words of ``text``: case-folded, no stop words, a plural "s" dropped."""
    found = []
    for word in _WORD.findall(text.casefold()):
        if word in STOP_WORDS or (len(word) < 2 and not word.isdigit()):
            continue
        if len(word) > 3 and word[-1] == "s" and word[-2] != "s":
            word = word[:-1]
        found.append(word)
    return found


def _hash(word: str) -> int:
    # Stable across processes and machines (Python's hash() is not), and fast: CRC-32 is
    # no cryptographic hash, but distinct words only need to land on distinct numbers,
    # which two of an article's ~40 words fail to do about once in 10^7 articles.
    return zlib.crc32(word.encode("utf-8"))


def signature(title: str, dek: str, body_html: str) -> bytes:
    """The stored signature: the sorted 32-bit hashes of the lead's words, little-endian.

    Empty when the text has fewer than :data:`MIN_FEATURES` distinct words.
    """
    distinct = set(words(lead_text(title, dek, body_html)))
    if len(distinct) < MIN_FEATURES:
        return b""
    packed = array("I", sorted({_hash(w) for w in distinct}))
    if packed.itemsize != 4:  # pragma: no cover - every platform we run on has 4-byte "I"
        raise RuntimeError("unsigned int is not 32 bits here")
    return packed.tobytes() if _LITTLE else _swapped(packed)


_LITTLE = array("I", [1]).tobytes()[0] == 1


def _swapped(packed: array[int]) -> bytes:  # pragma: no cover - big-endian hosts only
    packed.byteswap()
    return packed.tobytes()


def features(stored: bytes) -> frozenset[int]:
    """The word hashes of a stored signature."""
    if not stored:
        return frozenset()
    packed = array("I")
    packed.frombytes(stored[: len(stored) - len(stored) % 4])
    if not _LITTLE:  # pragma: no cover - big-endian hosts only
        packed.byteswap()
    return frozenset(packed)


def similarity(one: frozenset[int], other: frozenset[int]) -> float:
    """Jaccard similarity of two signatures' words: 0 (none shared) to 1 (the same)."""
    if not one or not other:
        return 0.0
    shared = len(one & other)
    return shared / (len(one) + len(other) - shared)
