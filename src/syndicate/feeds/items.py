"""What a feed item shows, worked out once for every format: the format-independent helpers.

:mod:`syndicate.feeds.render` (RSS, Atom) and :mod:`syndicate.feeds.jsonfeed` both build
their items from these, so an article reads the same in every format: text cleaned of
XML-illegal characters, dates in UTC to the second, the dek or a body excerpt as the
summary, the section and tags as categories.
"""

from __future__ import annotations

import html
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from syndicate.ingest import strip_controls
from syndicate.models import Article, Author

if TYPE_CHECKING:
    from syndicate.feeds.render import FeedDocument, RelatedLink

# The 'updated' of a document with no items: a fixed instant, never the build time (HT-4).
EMPTY_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)
EXCERPT_CHARS = 300


def text(value: str | None) -> str:
    """Plain text safe for any XML or JSON document: XML-illegal characters removed."""
    return strip_controls(value or "")


@lru_cache(maxsize=512)  # one document (items <= 500) across its formats
def clean_article(article: Article) -> Article:
    """``article`` with every text field XML-safe and trimmed.

    Cached, because each document is rendered in up to three formats and every helper
    below starts here; renderers never look at an article that has not been through it.
    """
    if _already_clean(article):
        return article
    image = article.image
    if image is not None:
        image = replace(
            image,
            url=text(image.url).strip(),
            alt=text(image.alt).strip(),
            credit=text(image.credit).strip(),
            caption=text(image.caption).strip(),
        )
    authors = tuple(
        Author(text(a.name).strip(), text(a.bio).strip(), text(a.url).strip())
        for a in article.authors
    )
    return replace(
        article,
        id=text(article.id),
        url=text(article.url).strip(),
        title=text(article.title).strip() or "(untitled)",
        dek=text(article.dek).strip(),
        body_html=text(article.body_html).strip(),
        authors=authors,
        section=text(article.section).strip(),
        tags=tuple(text(tag).strip() for tag in article.tags),
        image=image if image is not None and image.url else None,
    )


# The characters strip_controls removes, as UTF-8: C0 controls but tab, LF and CR (any
# byte below 0x20 is one of them or those three), U+FFFE and U+FFFF; surrogates cannot
# be encoded at all.
_C0 = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))
_NONCHARS = ("\ufffe".encode(), "\uffff".encode())


def _already_clean(article: Article) -> bool:
    """Whether :func:`clean_article` would change nothing, as for what the store holds
    (ingest cleans). Byte scans of all the text at once, several times faster than
    strip_controls' regex over each field."""
    image = article.image
    if not article.title or (image is not None and not image.url):
        return False
    values = [article.id, article.url, article.title, article.dek, article.body_html]
    values += [article.section, *article.tags]
    values += [v for a in article.authors for v in (a.name, a.bio, a.url)]
    if image is not None:
        values += [image.url, image.alt, image.credit, image.caption]
    try:
        joined = "\n".join(values)
        data = joined.encode("utf-8")
    except (TypeError, UnicodeEncodeError):  # a None (made ""), a lone surrogate (dropped)
        return False
    if len(data.translate(None, _C0)) != len(data):
        return False
    # Both nonchars start with EF BF (U+FFC0-U+FFFF), rare: one search for both.
    if b"\xef\xbf" in data and any(n in data for n in _NONCHARS):
        return False
    # No value starts or ends in whitespace (the id is not trimmed: no harm in asking):
    # stripping them all takes nothing off (counted without a Python loop).
    return sum(map(len, map(str.strip, values))) == len(joined) - len(values) + 1


def utc(value: datetime) -> datetime:
    """``value`` in UTC, whole seconds (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def rfc3339(value: datetime) -> str:
    """An RFC 3339 date-time with an uppercase ``T`` and a numeric offset (AT-4)."""
    return utc(value).isoformat()


def document_updated(doc: FeedDocument) -> datetime:
    """The document's last change: its newest item's ``updated_at`` (HT-4)."""
    return max((utc(a.updated_at) for a in doc.articles), default=EMPTY_UPDATED)


# Block-level tags separate words; inline ones (a, em, ...) do not.
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|hr|li|ul|ol|h[1-6]|blockquote|pre|table|tr|td|th|section|figure|figcaption)"
    r"\b[^>]*>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def summary_text(article: Article) -> str:
    """The dek; for an article without one, the start of its body as plain text."""
    return _summary_text(clean_article(article))


def _summary_text(article: Article) -> str:
    """:func:`summary_text` of a cleaned ``article``."""
    if article.dek:
        return article.dek
    stripped = _TAG.sub("", _BLOCK_TAG.sub(" ", article.body_html))
    plain = _SPACE.sub(" ", html.unescape(stripped)).strip()
    if len(plain) <= EXCERPT_CHARS:
        return plain
    cut = plain[:EXCERPT_CHARS].rsplit(" ", 1)[0]
    return cut + "…"


def summary_html(article: Article) -> str:
    """The summary as an HTML fragment (RSS ``description`` is HTML, RSS-3)."""
    return html.escape(summary_text(article), quote=False)


def related_html(publisher: str, links: Sequence[RelatedLink]) -> str:
    """The "More from <publisher>" list appended to an item's content."""
    items = "".join(
        f'<li><a href="{html.escape(text(link.url))}">{html.escape(text(link.title))}</a></li>'
        for link in links
        if link.url
    )
    if not items:
        return ""
    heading = html.escape(f"More from {text(publisher)}")
    return f"<section><h2>{heading}</h2><ul>{items}</ul></section>"


def content_html(doc: FeedDocument, article: Article) -> str:
    """The item's HTML content: the body (or, when empty, the summary) and related links."""
    article = clean_article(article)
    summary = summary_html(article) if doc.summary_only or not article.body_html else ""
    return _content(doc, article, summary)


def _content(doc: FeedDocument, article: Article, summary: str) -> str:
    """:func:`content_html` of a cleaned ``article`` whose summary HTML is known."""
    if doc.summary_only:
        return f"<p>{summary}</p>"
    body = article.body_html or f"<p>{summary}</p>"
    return body + related_html(doc.publisher, doc.related.get(article.id, ()))


@dataclass(frozen=True, slots=True)
class ItemFields:
    """What every format shows of one item, worked out once for all of them.

    ``article`` is cleaned (:func:`clean_article`); the rest are :func:`summary_text`,
    :func:`summary_html`, :func:`content_html` and :func:`categories` of it;
    ``published`` and ``updated`` its dates through :func:`utc`.
    """

    article: Article
    summary_text: str
    summary_html: str
    content_html: str
    categories: list[str]
    published: datetime
    updated: datetime


def item_fields(doc: FeedDocument, article: Article) -> ItemFields:
    """``article``'s :class:`ItemFields` in ``doc`` (its item settings and related links)."""
    article = clean_article(article)
    plain = _summary_text(article)
    summary = html.escape(plain, quote=False)
    content = _content(doc, article, summary)
    published, updated = utc(article.published_at), utc(article.updated_at)
    return ItemFields(article, plain, summary, content, _categories(article), published, updated)


def categories(article: Article) -> list[str]:
    """The section, then the tags; each once (case-insensitively), empty ones dropped."""
    return _categories(clean_article(article))


def _categories(article: Article) -> list[str]:
    """:func:`categories` of a cleaned ``article``."""
    seen: dict[str, str] = {}
    for value in (article.section, *article.tags):
        if value:
            seen.setdefault(value.casefold(), value)
    return list(seen.values())


def image_type(url: str) -> str | None:
    """The image's media type guessed from its URL's extension, if it is an image type."""
    guessed, _ = mimetypes.guess_type(url.split("?", 1)[0], strict=False)
    return guessed if guessed and guessed.startswith("image/") else None
