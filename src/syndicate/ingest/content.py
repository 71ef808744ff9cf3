"""Cleaning what sources read, and the rules for article identity.

* HTML is sanitised with nh3 against an allow-list (STANDARDS SE-3): scripts, styles,
  event handlers, ``javascript:``/``data:`` URLs, forms and frames are dropped; relative
  URLs are made absolute against the article's base URL.
* XML-illegal control characters are stripped everywhere (A7 ``SAXError``); typographic
  characters (’ “ ” … —) are kept as they are.
* A caption printed twice is collapsed; an author with an empty name keeps the bio, and
  the name is read from the bio when it starts with one ("Ana Ruiz is ...").
* Plain-text fields are capped (:data:`MAX_TITLE` and the other ``MAX_*`` lengths), cut
  at a word with "…", so one hostile item cannot push a digest over ``max_html_bytes``.
* Dates before 1970 are unknown, and dates more than a day ahead are clamped to the
  fetch time (:func:`plausible_dates`; RSS-4 ``ImplausibleDate``).
* Article ids are ``tag:`` URIs (RFC 4151) from the configured authority, the source name
  and the article's own key, never from a URL's host or scheme (AT-3, DD-3).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import nh3

from syndicate.ingest.canonical import url_key
from syndicate.ingest.signature import signature
from syndicate.models import Author, CleanEntry, Entry, Image

# Longest text kept per field, in characters (docs/sources.md, "Size caps"). Generous for
# real copy; a 100 KB title would otherwise fill a digest on its own and block the channel.
MAX_TITLE = 300
MAX_DEK = 600
MAX_AUTHOR_NAME = 200
MAX_AUTHOR_BIO = 1000
MAX_CAPTION = 500
MAX_CREDIT = 200
MAX_ALT = 500
MAX_SECTION = 100
MAX_TAG = 100
ELLIPSIS = "…"

# Dates outside these bounds are not believed (docs/sources.md, "Dates").
EARLIEST_YEAR = 1970
FUTURE_TOLERANCE = timedelta(days=1)  # clocks and time zones of upstream servers are wrong

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SPACE = re.compile(r"\s+")

ALLOWED_TAGS = frozenset(nh3.ALLOWED_TAGS - {"area", "map", "center", "strike", "tt"})
ALLOWED_ATTRIBUTES = {
    "a": {"href", "hreflang", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
    "ol": {"start"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Dropped with everything inside them, not just the tags (SE-3).
DROPPED_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "noscript"})


def strip_controls(text: str) -> str:
    """Remove characters XML 1.0 forbids (C0 controls but tab/LF/CR, U+FFFE/F, surrogates)."""
    return _XML_ILLEGAL.sub("", text)


def clean_text(text: str | None) -> str:
    """Plain text for titles, deks and names: no markup, no controls, single spaces."""
    if not text:
        return ""
    text = strip_controls(text)
    if "<" in text or "&" in text:
        text = html.unescape(
            nh3.clean(text, tags=set(), clean_content_tags=set(DROPPED_WITH_CONTENT))
        )
        text = strip_controls(text)
    return _SPACE.sub(" ", text).strip()


def cap(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word, ending with "…".

    When no space falls in the second half (one very long word), the cut is made inside
    the word rather than leaving almost nothing.
    """
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    if not text[len(cut)].isspace():  # the cut falls inside a word: back off to its start
        space = cut.rfind(" ")
        if space >= limit // 2:
            cut = cut[:space]
    return cut.rstrip(" \t\n,;:.-–—") + ELLIPSIS


@lru_cache(maxsize=256)
def _cleaner(base_url: str | None) -> nh3.Cleaner:
    """``None``: relative URLs are removed; ``""``: kept as they are."""
    if base_url is None:
        relative: Any = "deny"
    else:
        relative = ("rewrite_with_base", base_url) if base_url else "pass_through"
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        url_relative=relative,
    )


def sanitize_html(fragment: str, base_url: str = "") -> str:
    """Allow-listed HTML with absolute URLs, safe to put in a feed or an email."""
    if not fragment:
        return ""
    try:
        cleaner = _cleaner(base_url)
    except ValueError:
        # A base nh3 cannot parse (a feed's bogus xml:base, an invalid host): relative
        # links cannot be resolved, so they are dropped rather than left relative.
        cleaner = _cleaner(None)
    return cleaner.clean(strip_controls(fragment)).strip()


def absolute_url(url: str, base_url: str) -> str:
    """``url`` resolved against ``base_url``; "" unless it is a usable http(s) URL."""
    url = strip_controls(url or "").strip()
    if not url:
        return ""
    try:
        resolved = urljoin(base_url, url)
        parts = urlsplit(resolved)
        host = parts.hostname
    except ValueError:  # e.g. "http://[x": not a URL at all
        return ""
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in resolved):
        return ""
    return resolved


def collapse_repeat(text: str) -> str:
    """'A A' → 'A' when a caption or credit was printed twice in a row."""
    text = clean_text(text)
    words = text.split(" ")
    if len(words) % 2 == 0 and words[: len(words) // 2] == words[len(words) // 2 :]:
        return " ".join(words[: len(words) // 2])
    half = len(text) // 2
    if len(text) % 2 == 0 and text[:half] == text[half:]:
        return text[:half]
    return text


_NAME_IN_BIO = re.compile(
    r"^((?:[A-ZÀ-Þ][\w’'.-]*)(?:\s+(?:[A-ZÀ-Þ][\w’'.-]*|de|van|von|da|del|al)){1,4})"
    r"\s+(?:is|was|writes|covers|reports|edits)\b"
)


def clean_author(author: Author, base_url: str = "") -> Author | None:
    """A cleaned author; ``None`` when nothing is left. An empty name is read from the bio."""
    name = cap(clean_text(author.name), MAX_AUTHOR_NAME)
    bio = cap(clean_text(author.bio), MAX_AUTHOR_BIO)
    if not name and bio:
        match = _NAME_IN_BIO.match(bio)
        name = cap(match.group(1), MAX_AUTHOR_NAME) if match else ""
    if not name and not bio:
        return None
    return Author(name=name, bio=bio, url=absolute_url(author.url, base_url))


def clean_image(image: Image | None, base_url: str) -> Image | None:
    """A cleaned lead image with an absolute URL, or ``None`` if it has no usable URL."""
    if image is None:
        return None
    url = absolute_url(image.url, base_url)
    if not url:
        return None
    credit = cap(collapse_repeat(image.credit), MAX_CREDIT)
    caption = cap(collapse_repeat(image.caption), MAX_CAPTION)
    if caption == credit:
        caption = ""
    return Image(
        url=url,
        alt=cap(clean_text(image.alt), MAX_ALT),
        credit=credit,
        caption=caption,
        width=image.width if image.width and image.width > 0 else None,
        height=image.height if image.height and image.height > 0 else None,
    )


def normalise_key(key: str) -> str:
    """The identity part of a source key: an http(s) URL counts by its path and query only.

    So a guid or canonical URL that moves from http to https, or to a new host, keeps the
    article's id (STANDARDS DD-2, DD-3).
    """
    key = strip_controls(key).strip()
    try:
        parts = urlsplit(key)
    except ValueError:  # looks like a URL but is not one: an opaque key
        return key
    if parts.scheme in ("http", "https") and parts.netloc:
        path = parts.path or "/"
        return path + (f"?{parts.query}" if parts.query else "")
    return key


def article_id(authority: str, source: str, key: str) -> str:
    """The stable ``tag:`` URI of an article (RFC 4151): ``tag:<authority>:<source>/<key>``."""
    specific = quote(normalise_key(key), safe="/?:@!$&'()*+,;=-._~")
    return f"tag:{authority}:{source}/{specific.lstrip('/')}"


def content_hash(entry: CleanEntry) -> str:
    """SHA-256 over everything a reader sees except the URL and dates.

    The editor's "More from" pins and ban count when set: with ``related_in_content`` a
    feed item shows its picks, so changing them is an edit (and only an edit reaches the
    store). Unset, they are left out, so articles without them keep the hash they had.
    """
    fields: dict[str, object] = {
        "title": entry.title,
        "dek": entry.dek,
        "body_html": entry.body_html,
        "authors": [[a.name, a.bio, a.url] for a in entry.authors],
        "section": entry.section,
        "tags": list(entry.tags),
        "image": _image_list(entry.image),
        "featured": entry.featured,
    }
    if entry.related_pins:
        fields["related_pins"] = list(entry.related_pins)
    if entry.related_exclude:
        fields["related_exclude"] = True
    encoded = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _image_list(image: Image | None) -> list[object] | None:
    if image is None:
        return None
    return [image.url, image.alt, image.credit, image.caption, image.width, image.height]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 at +14:00, year 9999 at -05:00: no such UTC time
        return None


def plausible_dates(entry: Entry, now: datetime) -> tuple[Entry, str]:
    """``entry`` with dates a feed can carry, and a warning naming it (``""`` if none).

    A date before :data:`EARLIEST_YEAR` (or with no UTC equivalent) is unknown; a date
    more than :data:`FUTURE_TOLERANCE` after ``now`` (the fetch time) is clamped to it.
    Both become ``None``, which the store reads as "when first seen": the fetch time on
    the first poll, kept on later polls so a clamped date never creeps forward.
    """
    problems: list[str] = []
    published = _plausible(entry.published_at, now, "published", problems)
    updated = _plausible(entry.updated_at, now, "updated", problems)
    if not problems:
        return entry, ""
    fixed = replace(entry, published_at=published or updated, updated_at=updated)
    return fixed, f"{entry.origin or entry.key}: {'; '.join(problems)}"


def _plausible(
    value: datetime | None, now: datetime, name: str, problems: list[str]
) -> datetime | None:
    if value is None:
        return None
    utc = _utc(value)
    if utc is None:
        problems.append(f"{name} date {value.isoformat()} is out of range; treated as unknown")
    elif utc.year < EARLIEST_YEAR:
        problems.append(f"{name} date {utc:%Y-%m-%d} is before {EARLIEST_YEAR}; treated as unknown")
    elif utc > now + FUTURE_TOLERANCE:
        problems.append(
            f"{name} date {utc:%Y-%m-%d %H:%M} UTC is more than a day in the future; "
            "clamped to the fetch time"
        )
    else:
        return utc
    return None


def _tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for tag in tags:
        cleaned = cap(clean_text(tag), MAX_TAG)
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)


def clean_entry(
    entry: Entry, *, source: str, authority: str, site_url: str, default_section: str = ""
) -> CleanEntry:
    """Clean one entry and give it its id, content hash and story keys (the link's
    comparison key and the signature). Pure: no I/O, no clock."""
    base = absolute_url(entry.base_url, site_url) or site_url
    url = absolute_url(entry.url, base) or absolute_url(entry.url, site_url)
    authors = tuple(a for a in (clean_author(x, base) for x in entry.authors) if a is not None)
    draft = CleanEntry(
        id=article_id(authority, source, entry.key),
        source=source,
        url=url,
        title=cap(clean_text(entry.title), MAX_TITLE) or "(untitled)",
        dek=cap(clean_text(entry.dek), MAX_DEK),
        body_html=sanitize_html(entry.body_html, url or base),
        authors=authors,
        section=cap(clean_text(entry.section), MAX_SECTION) or default_section,
        tags=_tags(entry.tags),
        image=clean_image(entry.image, url or base),
        published_at=_utc(entry.published_at),
        updated_at=_utc(entry.updated_at),
        featured=entry.featured,
        content_hash="",
        related_pins=tuple(dict.fromkeys(p.strip() for p in entry.related_pins if p.strip())),
        related_exclude=entry.related_exclude,
    )
    canonical = absolute_url(entry.canonical_url, url or base) if entry.canonical_url else ""
    return replace(
        _with_hash(draft),
        url_key=url_key(url, canonical),
        signature=signature(draft.title, draft.dek, draft.body_html),
    )


def _with_hash(draft: CleanEntry) -> CleanEntry:
    return replace(draft, content_hash=content_hash(draft))
