"""An article's words as a term vector in a fixed feature space, and what ranking needs
to know about it besides.

A term vector never depends on the rest of the archive: words are hashed (CRC-32, the
same on every machine and process) into :data:`N_FEATURES` buckets, so it can be computed
once, at ingest, stored, and used by any later index. The title is a field worth
:data:`TITLE_WEIGHT` occurrences per word (it names the topic; the text is not
duplicated), the dek and the body one each. A long article keeps its
:data:`MAX_TERMS` heaviest terms, ties going to the word met first (news puts the story
in its first lines); ``length`` is the whole weighted count, for length normalisation.

Bump :data:`TERMS_VERSION` whenever any of this changes: stored vectors of an older
version are recomputed (``related/sync.py``).
"""

from __future__ import annotations

import html
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from syndicate.models import Article
from syndicate.related.stopwords import STOP_WORDS

N_FEATURES = 2**20  # collisions among a news archive's ~10^5 distinct words stay rare
TITLE_WEIGHT = 2.0
MAX_TERMS = 128
TERMS_VERSION = 1

_MARKUP = re.compile(r"<[^>]+>")
_WORD = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True, slots=True)
class Terms:
    """Hashed term ids (sorted, unique) with their weighted counts, and the length."""

    ids: npt.NDArray[np.uint32]
    counts: npt.NDArray[np.float32]
    length: float


@dataclass(frozen=True, slots=True)
class Candidate:
    """What ranking needs of a pool article besides its words: small enough to keep
    100,000 of them in memory (the full :class:`Article` is loaded only for a pick)."""

    id: str
    source: str
    section: str
    tags: tuple[str, ...]
    authors: tuple[str, ...]
    published_at: datetime
    story: str = ""
    related_exclude: bool = False

    @property
    def story_key(self) -> str:
        """The story cluster this article counts as: ``story``, else its own id."""
        return self.story or self.id

    @classmethod
    def of(cls, article: Article) -> Candidate:
        """The candidate record of ``article``."""
        return cls(
            id=article.id,
            source=article.source,
            section=article.section,
            tags=tuple(article.tags),
            authors=tuple(a.name for a in article.authors),
            published_at=article.published_at,
            story=article.story,
            related_exclude=article.related_exclude,
        )


def plain_text(html_text: str) -> str:
    """Markup removed and entities decoded."""
    return html.unescape(_MARKUP.sub(" ", html_text))


def words(text: str) -> list[str]:
    """Lower-cased words of two or more letters or digits, stop words left out."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def _bucket(word: str) -> int:
    return zlib.crc32(word.encode("utf-8")) & (N_FEATURES - 1)


def terms_of(fields: Iterable[tuple[str, float]], max_terms: int | None = None) -> Terms:
    """The term vector of weighted text fields, e.g. ``[(title, 2.0), (body, 1.0)]``,
    keeping the ``max_terms`` (default :data:`MAX_TERMS`) heaviest."""
    weight: dict[int, float] = {}
    first: dict[int, int] = {}  # a bucket's first word's rank among first occurrences
    rank = 0
    for text, field_weight in fields:
        # Each distinct word hashed once (news repeats its words), in order of first
        # occurrence, so ranks order the buckets as word positions would. A whole-number
        # weight times a count is the sum of that many weights exactly; any other weight
        # is added once per occurrence, as the sum is defined.
        whole = float(field_weight).is_integer()
        for word, count in Counter(words(text)).items():
            bucket = _bucket(word)
            if whole:
                weight[bucket] = weight.get(bucket, 0.0) + field_weight * count
            else:
                for _ in range(count):
                    weight[bucket] = weight.get(bucket, 0.0) + field_weight
            first.setdefault(bucket, rank)
            rank += 1
    length = float(sum(weight.values()))
    kept = sorted(weight, key=lambda b: (-weight[b], first[b]))[: max_terms or MAX_TERMS]
    kept.sort()
    return Terms(
        np.array(kept, dtype=np.uint32),
        np.array([weight[b] for b in kept], dtype=np.float32),
        length,
    )


def article_terms(article: Article, max_terms: int | None = None) -> Terms:
    """The term vector of an article: its title (weighted), dek and body text."""
    return terms_of(
        [
            (article.title, TITLE_WEIGHT),
            (article.dek, 1.0),
            (plain_text(article.body_html), 1.0),
        ],
        max_terms,
    )
