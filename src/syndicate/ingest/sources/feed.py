"""The ``feed`` source: an RSS 0.9x / 1.0 / 2.0, Atom or JSON Feed URL.

Options: ``url`` (required). The feed is fetched with :class:`HttpFetcher` (SE-5) and
the source's stored validators, so an unchanged feed costs one 304 (HT-6). RSS and Atom
are parsed by feedparser from the fetched bytes — never from a URL or string, which
feedparser would try to open as a local path (SE-4); JSON Feed by
:mod:`syndicate.ingest.sources.jsonfeed`.

Tolerance (STYLE 4): an ill-formed feed that still yields entries gives those entries
plus a warning naming the problem; a document that is no feed at all is a
:class:`ContentError`; an item that cannot become an entry (for whatever reason) is a
warning and is skipped. A numeric character reference to a character XML forbids
(``&#xD800;``, ``&#0;``, ``&#x110000;``) is dropped before parsing: it costs that
character, not the feed. A date that cannot be read is unknown, with a warning.

An item's ``<link rel="canonical">`` (Atom) or ``<feedburner:origLink>`` is kept as its
canonical URL: story clusters compare it instead of the link, which stays public as is.
Entries come back raw: cleaning happens in :func:`syndicate.ingest.content.clean_entry`.
"""

from __future__ import annotations

import io
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from xml.sax import SAXParseException

import feedparser
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, field_validator

from syndicate.errors import ContentError
from syndicate.ingest.sources.base import Source
from syndicate.ingest.sources.http import AddressPolicy, HttpFetcher
from syndicate.ingest.sources.jsonfeed import (
    ParsedItems,
    SkippedItem,
    distinct_dek,
    fallback_key,
    is_http_url,
    is_json_feed,
    join_url,
    parse_json_feed,
    text_to_html,
    unique_entries,
)
from syndicate.models import Author, Entry, FetchResult, Image, SourceState

ACCEPT = (
    "application/feed+json, application/atom+xml, application/rss+xml, application/rdf+xml, "
    "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
MRSS = "http://search.yahoo.com/mrss/"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));")
# feedparser reads "10000-01-01" as 1 December 2010: an ISO date whose year has five
# digits or more is not read at all. (Compact "20250301T1000Z" has no hyphen: kept.)
_LONG_YEAR = re.compile(r"^\s*[+-]?\d{5,}-")


class FeedOptions(BaseModel):
    """Keys of a ``kind = "feed"`` source."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="The feed's http(s) URL.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("an absolute http(s) URL")
        return value.strip()


class FeedSource(Source):
    """Articles from one RSS, Atom or JSON Feed URL."""

    Options = FeedOptions
    options: FeedOptions

    def fetch(self, state: SourceState) -> FetchResult:
        """Fetch the feed conditionally and read its entries.

        Returns ``not_modified`` on 304; otherwise the entries, warnings for items
        skipped, and the response's validators and max-age. A document that is not a
        feed sets ``error``. Raises :class:`FetchError` / :class:`HTTPStatusError` when
        the feed cannot be fetched (``read`` turns them into ``error``).
        """
        policy = AddressPolicy.from_config(self.config.allow_private, self.config.allow_networks)
        with HttpFetcher(self.context.fetch, policy) as fetcher:
            response = fetcher.get(
                self.options.url, etag=state.etag, last_modified=state.last_modified, accept=ACCEPT
            )
        if response.status == 304:
            result = FetchResult(not_modified=True)
        else:
            content_type = response.headers.get("Content-Type", "")
            result = parse_feed(response.body, url=response.url, content_type=content_type)
        result.etag = response.headers.get("ETag")
        result.last_modified = response.headers.get("Last-Modified")
        result.max_age = response.max_age
        return result


def parse_feed(body: bytes, *, url: str, content_type: str = "") -> FetchResult:
    """Entries (or an error) from a feed document's bytes; ``url`` is where it was served.

    Pure apart from parsing: no I/O. Never raises for bad input.
    """
    try:
        if is_json_feed(body, content_type):
            parsed = parse_json_feed(body, url)
        else:
            parsed = parse_xml_feed(body, url=url, content_type=content_type)
    except ContentError as err:
        err.url = err.url or url
        return FetchResult(error=err)
    warnings = list(parsed.warnings)
    return FetchResult(entries=unique_entries(parsed.entries, warnings), warnings=warnings)


def parse_xml_feed(body: bytes, *, url: str, content_type: str = "") -> ParsedItems:
    """Read RSS or Atom with feedparser; :class:`ContentError` when it is not a feed."""
    # Without a Content-Type, read the document as XML does: by its own declaration.
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    body = drop_bad_char_refs(body)
    try:
        # A stream, never bytes or str: feedparser would try str as a URL or a path (SE-4).
        parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    except Exception as err:
        # feedparser lets some errors out on hostile bytes (e.g. ValueError for a NUL in
        # the declared encoding): the document could not be understood, not a bug here.
        raise ContentError(f"not a feed: the parser gave up ({type(err).__name__}: {err})") from err
    version = parsed.get("version") or ""
    problem = _problem(parsed)
    items = parsed.get("entries") or []
    if not items:
        if not version or (problem and not _has_metadata(parsed.get("feed") or {})):
            raise ContentError(_not_a_feed(body, problem))
        return ParsedItems([], [f"{url}: {problem}"] if problem else [])
    warnings = [f"{url}: {problem}; read {len(items)} entries leniently"] if problem else []
    inherited = _authors(parsed["feed"].get("authors")) if version.startswith("atom") else ()
    alts = media_alts(body)
    entries = []
    for index, item in enumerate(items, start=1):
        origin = f"{url} item {index}"
        try:
            entries.append(_entry(item, url, origin, inherited, alts, warnings))
        except SkippedItem as err:
            warnings.append(f"{origin}: skipped: {err}")
        except Exception as err:  # one item we cannot read must not cost the others
            warnings.append(f"{origin}: skipped: cannot read it ({type(err).__name__}: {err})")
    return ParsedItems(entries, warnings)


def drop_bad_char_refs(body: bytes) -> bytes:
    """``body`` without numeric character references to characters XML 1.0 forbids.

    feedparser gives up on the whole document for ``&#xD800;`` (a surrogate) or
    ``&#x110000;`` (beyond Unicode); dropping just the reference keeps the feed. Matches
    ASCII-compatible encodings only (UTF-8, Latin-1 and the like), which feeds are.
    """
    if b"&#" not in body:
        return body
    return _CHAR_REF.sub(_keep_if_xml_char, body)


def _keep_if_xml_char(match: re.Match[bytes]) -> bytes:
    hex_digits, digits = match.groups()
    number, base = (hex_digits, 16) if hex_digits else (digits, 10)
    number = number.lstrip(b"0") or b"0"
    code = int(number, base) if len(number) <= 8 else -1  # &#99999999999; is no character
    ok = (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )
    return match.group(0) if ok else b""


def _problem(parsed: Any) -> str:
    """What feedparser's ``bozo`` flag is about, in words; ``""`` when all is well."""
    if not parsed.get("bozo"):
        return ""
    exc = parsed.get("bozo_exception")
    if isinstance(exc, SAXParseException):
        where = f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}"
        return f"feed is not well-formed XML ({where}: {exc.getMessage()})"
    if isinstance(exc, feedparser.NonXMLContentType):
        return f"feed is served with a non-XML content type ({exc})"
    if isinstance(exc, feedparser.CharacterEncodingOverride):
        return f"feed declares the wrong character encoding ({exc})"
    return f"feed has problems ({type(exc).__name__}: {exc})"


def _has_metadata(feed: Any) -> bool:
    return any(feed.get(key) for key in ("title", "link", "subtitle", "id"))


def _not_a_feed(body: bytes, problem: str) -> str:
    head = body.lstrip()[:1024].lower()
    if not head:
        return "not a feed: the response is empty"
    if b"<html" in head or b"<!doctype html" in head:
        return "not a feed: the URL serves an HTML page"
    if problem:
        return f"not a feed: {problem}"
    return "not a feed: no RSS, Atom or JSON Feed root element"


def _entry(
    item: Any,
    feed_url: str,
    origin: str,
    inherited: tuple[Author, ...],
    alts: dict[str, str],
    warnings: list[str],
) -> Entry:
    title = (item.get("title") or "").strip()
    link = item.get("link") or ""
    # feedparser puts the Atom id in 'link' when there is no alternate link.
    link = link if is_http_url(link) else ""
    content = _content_html(item.get("content") or [])
    # Without summary_detail, 'summary' is feedparser's copy of the content, not a summary.
    detail = item.get("summary_detail")
    summary = _as_html(item.get("summary") or "", detail) if detail else ""
    body = content or summary
    if not (title or body.strip() or link):
        raise SkippedItem("no title, content or link")
    published = _date(item, "published", origin, warnings)
    updated = _date(item, "updated", origin, warnings)
    return Entry(
        key=(item.get("id") or "").strip() or link or fallback_key(title, body),
        url=link,
        title=title,
        body_html=body,
        dek=distinct_dek(summary, content) if content else "",
        published_at=published or updated,
        updated_at=updated,
        authors=_authors(item.get("authors")) or inherited,
        tags=tuple(t.get("term") or t.get("label") or "" for t in item.get("tags") or ()),
        image=_image(item, _item_base(item, feed_url), alts),
        base_url=feed_url,
        origin=origin,
        canonical_url=_canonical(item),
    )


def _canonical(item: Any) -> str:
    """The page the item stands for when its link is a redirector or a copy: an Atom
    ``<link rel="canonical">``, else FeedBurner's ``<feedburner:origLink>``."""
    links = [
        link.get("href") or "" for link in item.get("links") or () if link.get("rel") == "canonical"
    ]
    for candidate in (*links, item.get("feedburner_origlink") or ""):
        if is_http_url(candidate.strip()):
            return candidate.strip()
    return ""


def _item_base(item: Any, feed_url: str) -> str:
    # The xml:base in force for the item (feedparser records it on each text construct);
    # feedparser resolves links and content against it, but not Media RSS URLs.
    for detail in (item.get("title_detail"), item.get("summary_detail"), *item.get("content", ())):
        if detail and detail.get("base"):
            return str(detail["base"])
    return feed_url


def _as_html(value: str, detail: Any) -> str:
    kind = detail.get("type") or "text/html"
    return text_to_html(value) if kind == "text/plain" else value


def _content_html(contents: list[Any]) -> str:
    # content:encoded / atom:content; prefer an HTML rendition when there are several.
    if not contents:
        return ""
    best = next((c for c in contents if "html" in (c.get("type") or "")), contents[0])
    return _as_html(best.get("value") or "", best)


def _date(item: Any, name: str, origin: str, warnings: list[str]) -> datetime | None:
    """The item's ``published`` or ``updated`` date; ``None`` with a warning if unreadable."""
    # Plain dict access: FeedParserDict.get("updated_parsed") falls back to the published
    # date (a deprecated shim), which would invent an edit time for every RSS item.
    raw = dict.get(item, name)
    value = _utc(dict.get(item, f"{name}_parsed"))
    if not raw or not isinstance(raw, str):
        return value
    if value is None or _LONG_YEAR.match(raw):
        warnings.append(f"{origin}: unreadable {name} date {raw[:80]!r}; treated as unknown")
        return None
    return value


def _utc(parsed: time.struct_time | None) -> datetime | None:
    # feedparser's *_parsed are UTC struct_times.
    if not parsed:
        return None
    try:
        return datetime(*parsed[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _authors(raw: Any) -> tuple[Author, ...]:
    authors = []
    for author in raw or ():
        name = (author.get("name") or "").strip()
        if name:  # an e-mail address alone is not shown (and not worth leaking)
            authors.append(Author(name=name, url=author.get("href") or ""))
    return tuple(authors)


def _image(item: Any, base_url: str, alts: dict[str, str]) -> Image | None:
    """The lead image: media:content (images), media:thumbnail, then an image enclosure."""
    media = [m for m in item.get("media_content") or () if _is_image(m)]
    thumbs = list(item.get("media_thumbnail") or ())
    enclosures = [
        {"url": link.get("href"), "type": link.get("type")}
        for link in item.get("links") or ()
        if link.get("rel") == "enclosure" and (link.get("type") or "").startswith("image/")
    ]
    for candidate in [*media, *thumbs, *enclosures]:
        raw_url = (candidate.get("url") or "").strip()
        url = join_url(base_url, raw_url) if raw_url else ""
        if url:
            return Image(
                url=url,
                alt=alts.get(raw_url, ""),
                width=_int(candidate.get("width")),
                height=_int(candidate.get("height")),
            )
    return None


def _is_image(media: Any) -> bool:
    if media.get("medium"):
        return bool(media["medium"] == "image")
    if media.get("type"):
        return str(media["type"]).startswith("image/")
    path = join_url("", media.get("url") or "").partition("?")[0]
    return path.lower().endswith(_IMAGE_SUFFIXES)


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def media_alts(body: bytes) -> dict[str, str]:
    """Alt text for Media RSS images, by image URL as written in the feed.

    feedparser folds ``media:title`` / ``media:description`` into the item's own title
    and summary, so they are read here from the element itself, its ``media:group``, or
    its item. Parsed with the SE-4 lxml settings; ``recover`` reads what it can of an
    ill-formed feed, and any failure just means no alt text.
    """
    if MRSS.encode() not in body:
        return {}
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True
    )
    try:
        root = etree.fromstring(body, parser)
    except (etree.LxmlError, ValueError, LookupError):
        return {}
    if root is None:
        return {}
    alts: dict[str, str] = {}
    for element in root.iter(f"{{{MRSS}}}content", f"{{{MRSS}}}thumbnail"):
        url = (element.get("url") or "").strip()
        if url and url not in alts:
            alt = _media_text(element)
            if alt:
                alts[url] = alt
    return alts


def _media_text(element: etree._Element) -> str:
    scopes = [element]
    parent = element.getparent()
    while parent is not None and len(scopes) < 3:
        scopes.append(parent)  # media:group, then the item or entry
        parent = parent.getparent() if parent.tag == f"{{{MRSS}}}group" else None
    for scope in scopes:
        for name in ("description", "title"):
            found = scope.find(f"{{{MRSS}}}{name}")
            if found is not None and (found.text or "").strip():
                return (found.text or "").strip()
    return ""
