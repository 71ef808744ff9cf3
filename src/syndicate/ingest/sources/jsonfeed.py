"""JSON Feed 1.0 / 1.1 parsing (STANDARDS A3), and the entry helpers both feed parsers share.

feedparser 6.0 does not read JSON Feed, so it is parsed here with :mod:`json`. Items map
to :class:`~syndicate.models.Entry` the same way RSS and Atom items do in
:mod:`syndicate.ingest.sources.feed`: the item ``id`` is the key (falling back to the link,
then to a hash of title and content, as readers do, DD-1), the full content is the body,
and the summary becomes the dek only when it says something the body does not. An item
that cannot become an entry, for whatever reason, is a warning and is skipped (STYLE 4).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from syndicate.errors import ContentError
from syndicate.ingest.content import clean_text, normalise_key
from syndicate.models import Author, Entry, Image

VERSION_PREFIX = "https://jsonfeed.org/version/"
_BOM = b"\xef\xbb\xbf"
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WHITESPACE = re.compile(r"\s+")


class SkippedItem(Exception):
    """One feed item cannot become an entry; the message says why (a warning, not an error)."""


@dataclass(frozen=True, slots=True)
class ParsedItems:
    """Entries read from a feed document, and warnings for what was skipped or odd."""

    entries: list[Entry]
    warnings: list[str]


# --- helpers shared with syndicate.ingest.sources.feed ------------------------------------------


def text_to_html(text: str) -> str:
    """Plain text as escaped HTML: blank lines split paragraphs, newlines become ``<br>``."""
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(text.strip()) if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def distinct_dek(summary_html: str, body_html: str) -> str:
    """The summary as plain text, or ``""`` when it only repeats the start of the body.

    Feeds often put the first sentences of the article (sometimes cut with "…") in the
    summary; printed above the body, that reads twice.
    """
    dek = clean_text(summary_html)
    squeezed = _WHITESPACE.sub("", dek).rstrip(".…")
    if not squeezed or _WHITESPACE.sub("", clean_text(body_html)).startswith(squeezed):
        return ""
    return dek


def fallback_key(title: str, body: str) -> str:
    """The key of an item with neither id nor link: a hash of its title and content."""
    digest = hashlib.sha1(f"{title}\n{body}".encode("utf-8", "replace")).hexdigest()
    return f"sha1:{digest}"


def utc_from_rfc3339(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from an RFC 3339 string; ``None`` if unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:  # RFC 3339 requires an offset; assume UTC when it is missing
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # Overflow: 0001-01-01T00:00+14:00 has no UTC time
        return None


def join_url(base: str, url: str) -> str:
    """``url`` resolved against ``base``; ``""`` when it cannot be parsed (``http://[x``)."""
    try:
        return urljoin(base, url.strip())
    except ValueError:
        return ""


def is_http_url(url: str) -> bool:
    """True for a parsable absolute http(s) URL."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def unique_entries(entries: list[Entry], warnings: list[str]) -> list[Entry]:
    """``entries`` without repeated keys (the first wins); each repeat adds a warning.

    Ids come from normalised keys, so two keys that differ only by scheme or host are
    the same article; the same id twice in one document is the same entry (AT-4).
    """
    seen: set[str] = set()
    unique = []
    for entry in entries:
        try:
            key = normalise_key(entry.key)
        except ValueError:  # a key that looks like a URL but does not parse: opaque
            key = entry.key
        if key in seen:
            warnings.append(f"{entry.origin}: duplicate id {entry.key!r}; kept the first")
            continue
        seen.add(key)
        unique.append(entry)
    return unique


# --- JSON Feed ---------------------------------------------------------------------------


def is_json_feed(body: bytes, content_type: str) -> bool:
    """True when the document should be read as JSON Feed rather than XML.

    The first byte decides when it is telling (servers often label feeds wrongly);
    otherwise a JSON content type (``application/feed+json``, JF-3) does.
    """
    head = body.removeprefix(_BOM).lstrip()[:1]
    if head in (b"{", b"<"):
        return head == b"{"
    return content_type.split(";")[0].strip().lower().endswith("json")


def parse_json_feed(body: bytes, base_url: str) -> ParsedItems:
    """Read a JSON Feed document; :class:`ContentError` when it is not one at all."""
    try:
        doc = json.loads(body.removeprefix(_BOM).decode("utf-8"))
    except (ValueError, RecursionError) as err:  # RecursionError: absurdly deep nesting
        raise ContentError(f"not valid JSON: {err}") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ContentError("JSON, but not a JSON Feed: no 'items' list")
    warnings: list[str] = []
    version = doc.get("version")
    if not (isinstance(version, str) and version.startswith(VERSION_PREFIX)):
        warnings.append(f"{base_url}: unknown JSON Feed version {version!r}; read as 1.1")
    feed_authors = _authors(doc)
    entries: list[Entry] = []
    for index, item in enumerate(doc["items"], start=1):
        origin = f"{base_url} item {index}"
        try:
            if not isinstance(item, dict):
                raise SkippedItem("not a JSON object")
            entries.append(_entry(item, feed_authors, base_url, origin, warnings))
        except SkippedItem as err:
            warnings.append(f"{origin}: skipped: {err}")
        except Exception as err:  # one item we cannot read must not cost the others
            warnings.append(f"{origin}: skipped: cannot read it ({type(err).__name__}: {err})")
    return ParsedItems(entries, warnings)


def _entry(
    item: dict[str, Any],
    feed_authors: tuple[Author, ...],
    base_url: str,
    origin: str,
    warnings: list[str],
) -> Entry:
    title = _text(item.get("title"))
    url = _text(item.get("url"))
    url = url if join_url(base_url, url) else ""  # unparsable ("http://[x"): no link at all
    summary = _text(item.get("summary"))
    content_html = _text(item.get("content_html"))
    content_text = _text(item.get("content_text"))
    body = content_html or text_to_html(content_text)
    if not (title or body or url or summary):
        raise SkippedItem("no title, content or link")
    dates = {}
    for name in ("date_published", "date_modified"):
        dates[name] = utc_from_rfc3339(item.get(name))
        if item.get(name) is not None and dates[name] is None:
            raw = str(item.get(name))[:80]
            warnings.append(f"{origin}: unreadable {name} {raw!r}; treated as unknown")
    raw_image = _text(item.get("image")) or _text(item.get("banner_image"))
    image = join_url(base_url, raw_image) if raw_image else ""
    return Entry(
        key=_item_id(item.get("id")) or url or fallback_key(title, body or summary),
        url=url,
        title=title,
        body_html=body or text_to_html(summary),
        dek=distinct_dek(html.escape(summary), body) if body else "",
        published_at=dates["date_published"] or dates["date_modified"],
        updated_at=dates["date_modified"],
        authors=_authors(item) or feed_authors,
        tags=tuple(t for t in _list(item.get("tags")) if isinstance(t, str)),
        image=Image(url=image) if image else None,
        base_url=base_url,
        origin=origin,
    )


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _item_id(value: object) -> str:
    # JSON Feed 1.0 tells readers to coerce a numeric id to a string.
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return str(value)
    return _text(value)


def _authors(obj: dict[str, Any]) -> tuple[Author, ...]:
    # 1.1 has an 'authors' list; 1.0 had a single 'author' object.
    raw = obj.get("authors")
    if not isinstance(raw, list):
        raw = [obj["author"]] if isinstance(obj.get("author"), dict) else []
    authors = []
    for author in raw:
        if isinstance(author, dict) and _text(author.get("name")):
            authors.append(Author(name=_text(author["name"]), url=_text(author.get("url"))))
    return tuple(authors)
