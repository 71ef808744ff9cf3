"""Render once, splice ever after: documents built from stored item fragments.

An item's bytes inside a document (an RSS ``<item>``, an Atom ``<entry>``, a JSON Feed
item object) depend only on the article, its "More from" links, two channel settings
(summary-only content, the publisher's name) and the renderer's code; never on the
document around it. So each item is rendered once per format and kept in the store
(:mod:`syndicate.store.fragments`) with a hash of those inputs (:func:`input_hash`); a
document is its head, rendered alone, with its items' fragments spliced in
(:func:`splice`). A build renders only items that are new or whose inputs changed.

Items are written directly (:func:`render_items`: :mod:`.itemxml` for RSS and Atom,
:func:`.jsonfeed.item_json`), byte-identical to feedgen, which stays the reference
(:func:`render_items_reference`: fragments cut out of a feedgen document holding a
batch of items) and renders the rare item the direct writers leave to it. A head is a
feedgen document holding one placeholder item, whose bytes are replaced by the real
items' (items never hold the literal text ``<item>`` or ``<entry>``: text is escaped).
What a head says of its items (the newest ``updated``, whether ``media:`` and ``dc:``
are declared) is given by :class:`~syndicate.feeds.render.HeadFacts`, worked out from
the keys and fragments. The pretty-printed bytes of an element depend only on its
depth, which is the same in every document, so a spliced document is byte-identical to
the one feedgen renders whole (tests/test_feed_fragments.py proves it for every format,
channel kind and page; tests/test_feed_itemxml.py, that each item's bytes are feedgen's).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from syndicate.config import ChannelConfig, Settings
from syndicate.feeds.items import EMPTY_UPDATED, item_fields, utc
from syndicate.feeds.itemxml import item_xml, renders_directly
from syndicate.feeds.jsonfeed import item_json, render_json
from syndicate.feeds.render import DocumentLinks, FeedDocument, HeadFacts, render_xml
from syndicate.models import Article
from syndicate.store import Store
from syndicate.store.channels import iter_channel_articles
from syndicate.store.fragments import load_fragments, save_fragments

if TYPE_CHECKING:
    from syndicate.feeds.archives import ArticleKey
    from syndicate.feeds.picks import ChannelPicks

__all__ = ["Heads", "Splicer", "input_hash", "render_items", "render_items_reference", "splice"]

# Where items sit in each XML format: the opening and closing tag, and the whitespace
# lxml's pretty printer puts between two siblings at the items' depth.
_XML = {
    "rss": (b"<item>", b"</item>", b"\n    "),
    "atom": (b"<entry>", b"</entry>", b"\n  "),
}
_JSON_EMPTY_TAIL = b'"items":[]}\n'
RENDER_BATCH = 200  # items per feedgen document when rendering fragments
DOCUMENT_BATCH = 2_000  # items whose fragments are read (one query) and held at once
RANGE_READ = 200  # more articles to render than this: read them by date range, not by id

_PLACEHOLDER = Article(
    id="tag:syndicate.invalid,2026:placeholder",
    source="",
    url="https://syndicate.invalid/placeholder",
    title="placeholder",
    dek="",
    body_html="",
    authors=(),
    section="",
    tags=(),
    image=None,
    published_at=EMPTY_UPDATED,
    updated_at=EMPTY_UPDATED,
    content_hash="",
)


def input_hash(
    renderer: str, summary_only: bool, publisher: str, key: ArticleKey, links: list[list[str]]
) -> str:
    """A hash of everything an item's fragments depend on.

    ``renderer`` is the renderer's fingerprint (:func:`.archives.renderer_version`),
    ``key`` the article's key (id, URL, content hash, dates; the content hash covers
    every other field a reader sees), ``links`` its "More from" links. No channel
    name: two channels with the same item settings share an item's bytes.
    """
    material = [renderer, summary_only, publisher, key.parts(), links]
    encoded = json.dumps(material, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def render_items(
    template: FeedDocument, articles: Sequence[Article], formats: Sequence[str]
) -> dict[str, dict[str, bytes]]:
    """Each article's fragment in each format: ``{article id: {format: bytes}}``.

    ``template`` gives what items depend on besides the article (``summary_only``,
    ``publisher``, ``related``); its head is thrown away. XML items are written by
    :mod:`.itemxml`, byte-identical to :func:`render_items_reference`, which still
    renders the rare articles :func:`.itemxml.renders_directly` leaves to feedgen.
    """
    out: dict[str, dict[str, bytes]] = {}
    xml_formats = [f for f in formats if f in _XML]
    left: list[Article] = []
    for article in articles:
        fields = item_fields(template, article)
        data: dict[str, bytes] = {}
        if xml_formats and renders_directly(fields.article):
            data = item_xml(template, article, xml_formats, fields)
        elif xml_formats:
            left.append(article)
        if "json" in formats:
            data["json"] = item_json(template, article, fields)
        out[article.id] = data
    if left:
        for article_id, data in render_items_reference(template, left, xml_formats).items():
            out[article_id].update(data)
    return out


def render_items_reference(
    template: FeedDocument, articles: Sequence[Article], formats: Sequence[str]
) -> dict[str, dict[str, bytes]]:
    """:func:`render_items` by feedgen, the reference: XML fragments are cut out of
    feedgen documents of :data:`RENDER_BATCH` items."""
    out: dict[str, dict[str, bytes]] = {a.id: {} for a in articles}
    xml_formats = [f for f in formats if f in _XML]
    for start in range(0, len(articles), RENDER_BATCH):
        batch = articles[start : start + RENDER_BATCH]
        if xml_formats:
            rendered = render_xml(replace(template, articles=batch, archive=False), xml_formats)
            for fmt in xml_formats:
                pieces = _cut(rendered[fmt], fmt)
                if len(pieces) != len(batch):  # pragma: no cover - would be a feedgen change
                    raise ValueError(f"{fmt}: {len(pieces)} items cut from {len(batch)}")
                for article, piece in zip(batch, pieces, strict=True):
                    out[article.id][fmt] = piece
        if "json" in formats:  # same batch: its cleaned articles are still cached
            for article in batch:
                out[article.id]["json"] = item_json(template, article)
    return out


def _cut(data: bytes, fmt: str) -> list[bytes]:
    """The items of a rendered XML document, each from its opening to its closing tag."""
    opening, closing, _ = _XML[fmt]
    pieces: list[bytes] = []
    start = data.find(opening)
    while start != -1:
        end = data.index(closing, start) + len(closing)
        pieces.append(data[start:end])
        start = data.find(opening, end)
    return pieces


def splice(
    doc: FeedDocument,
    formats: Sequence[str],
    updated: Sequence[datetime],
    items: Sequence[Mapping[str, bytes]],
    *,
    heads: Heads | None = None,
) -> dict[str, bytes]:
    """``doc``'s bytes in each format, its items given as fragments (in display order).

    ``doc.articles`` is ignored; ``updated`` are the items' ``updated_at``. The result
    equals rendering ``doc`` with its articles whole (the reference). ``heads``, kept
    across the documents of one build, renders each shape of head once (:class:`Heads`).
    """
    if not items:
        empty = replace(doc, articles=())
        xml = render_xml(empty, [f for f in formats if f in _XML])
        return {f: render_json(empty) if f == "json" else xml[f] for f in formats}
    xml_formats = [f for f in formats if f in _XML]
    out: dict[str, bytes] = {}
    if xml_formats:
        facts = HeadFacts(
            updated=max(utc(u) for u in updated),
            media=any(b"<media:" in item[xml_formats[0]] for item in items),
            creators="rss" in formats and any(b"<dc:creator>" in item["rss"] for item in items),
        )
        if heads is None:
            cut = _cut_heads(replace(doc, articles=(_PLACEHOLDER,)), xml_formats, facts)
        else:
            cut = heads.around(doc, xml_formats, facts)
        for fmt in xml_formats:
            before, after = cut[fmt]
            out[fmt] = before + _XML[fmt][2].join(item[fmt] for item in items) + after
    if "json" in formats:
        head = render_json(replace(doc, articles=()))
        if not head.endswith(_JSON_EMPTY_TAIL):  # pragma: no cover - items must stay last
            raise ValueError("JSON Feed items are not the document's last member")
        body = b",".join(item["json"] for item in items)
        out["json"] = head[: -len(_JSON_EMPTY_TAIL)] + b'"items":[' + body + b"]}\n"
    return {f: out[f] for f in formats}


# A head's parts that differ between the documents of one channel: its links' URLs and
# its date. A template is rendered with these stand-ins, each checked to appear exactly
# once, and the real values are put in their place.
_MARK_DATE = datetime(1901, 2, 3, 4, 5, 6, tzinfo=UTC)
_MARK_URL = "https://splice.invalid/{fmt}/{rel}"
_RELS = ("self", "current", "prev", "next")
# URLs put in as they are: nothing XML escapes in an attribute (& < > " and controls).
_PLAIN_URL = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$()*+,;=%]*")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _rss_date(value: datetime) -> str:
    """``value`` (UTC) as feedgen writes ``lastBuildDate`` (RFC 822, C locale)."""
    day, month = _DAYS[value.weekday()], _MONTHS[value.month - 1]
    return f"{day}, {value.day:02d} {month} {value.year:04d} {value:%H:%M:%S} +0000"


def _urls(links: DocumentLinks) -> tuple[str | None, ...]:
    return (links.self_url, links.current, links.prev_archive, links.next_archive)


# Per format: the head before the items as the text around the stand-ins, the stand-ins'
# indices in document order, and the head after the items.
Template = dict[str, tuple[list[bytes], list[int], bytes]]


@dataclass
class Heads:
    """Document heads rendered once per shape and reused with other links and dates.

    A channel's archive pages differ in their heads only by their links' URLs and
    their ``updated`` date; rendering each page's head with feedgen was most of a
    build from stored fragments. So a head is rendered once per shape (the document's
    settings, which links it has, the namespaces its items need) around stand-in URLs
    and a stand-in date, and each document's head is that template with its own
    values put in. The stand-ins are checked to appear exactly once, and the date to be
    written as :func:`_rss_date` and ``isoformat`` predict; a shape that fails a check,
    or a URL that XML would escape, is rendered whole as before (tests prove the bytes
    equal feedgen's for every format, channel kind and page).
    """

    _templates: dict[tuple[Any, ...], Template | None] = field(default_factory=dict)

    def around(
        self, doc: FeedDocument, formats: list[str], facts: HeadFacts
    ) -> dict[str, tuple[bytes, bytes]]:
        """Each format's head of ``doc`` cut where its items go: (before, after)."""
        links = [doc.links[fmt] for fmt in formats]
        plain = facts.updated.year >= 1000 and all(
            url is None or _PLAIN_URL.fullmatch(url) for one in links for url in _urls(one)
        )
        key = (
            doc.feed_id,
            doc.title,
            doc.description,
            doc.home_url,
            doc.language,
            doc.publisher,
            doc.hubs,
            doc.logo,
            doc.icon,
            doc.archive,
            tuple(formats),
            tuple(tuple(url is not None for url in _urls(one)) for one in links),
            facts.media,
            facts.creators,
        )
        if plain and key not in self._templates:
            self._templates[key] = _template(doc, formats, facts)
        template = self._templates.get(key) if plain else None
        if template is None:
            return _cut_heads(replace(doc, articles=(_PLACEHOLDER,)), formats, facts)
        dates = {"rss": _rss_date(facts.updated), "atom": facts.updated.isoformat()}
        out: dict[str, tuple[bytes, bytes]] = {}
        for fmt, one in zip(formats, links, strict=True):
            values = [url for url in _urls(one) if url is not None] + [dates[fmt]]
            texts, order, after = template[fmt]
            pieces = [texts[0]]
            for index, text in zip(order, texts[1:], strict=True):
                pieces += (values[index].encode(), text)
            out[fmt] = (b"".join(pieces), after)
        return out


def _cut_heads(
    doc: FeedDocument, formats: list[str], facts: HeadFacts
) -> dict[str, tuple[bytes, bytes]]:
    """Each format's head of ``doc`` (one placeholder item) rendered, cut around the item."""
    heads = render_xml(doc, formats, facts=facts)
    out: dict[str, tuple[bytes, bytes]] = {}
    for fmt in formats:
        opening, closing, _ = _XML[fmt]
        head = heads[fmt]
        start = head.index(opening)
        end = head.index(closing, start) + len(closing)
        out[fmt] = (head[:start], head[end:])
    return out


def _template(doc: FeedDocument, formats: list[str], facts: HeadFacts) -> Template | None:
    """The heads of ``doc``'s shape around stand-ins, split at each stand-in (in the
    order of :func:`_urls`, then the date); None when a stand-in is not found exactly
    once where expected."""
    marks: dict[str, list[bytes]] = {}
    links = dict(doc.links)
    for fmt in formats:
        real = doc.links[fmt]
        stand_in = DocumentLinks(
            _MARK_URL.format(fmt=fmt, rel="self"),
            *(
                _MARK_URL.format(fmt=fmt, rel=rel) if url is not None else None
                for rel, url in zip(_RELS[1:], _urls(real)[1:], strict=True)
            ),
        )
        links[fmt] = stand_in
        date = _rss_date(_MARK_DATE) if fmt == "rss" else _MARK_DATE.isoformat()
        marks[fmt] = [url.encode() for url in _urls(stand_in) if url is not None]
        marks[fmt].append(date.encode())
    model = replace(doc, articles=(_PLACEHOLDER,), links=links)
    cut = _cut_heads(model, formats, replace(facts, updated=_MARK_DATE))
    template: Template = {}
    for fmt in formats:
        before, after = cut[fmt]
        found = [before.find(mark) for mark in marks[fmt]]
        if any(before.count(mark) != 1 or mark in after for mark in marks[fmt]):
            return None
        order = sorted(range(len(found)), key=found.__getitem__)
        texts, start = [], 0
        for index in order:
            texts.append(before[start : found[index]])
            start = found[index] + len(marks[fmt][index])
        texts.append(before[start:])
        template[fmt] = (texts, order, after)
    return template


@dataclass
class Splicer:
    """One channel's documents built from fragments, rendering only what is missing.

    ``rendered`` counts items rendered by feedgen in this build, ``reused`` items whose
    stored fragments were spliced as they were.
    """

    store: Store
    settings: Settings
    channel: ChannelConfig
    picks: ChannelPicks
    renderer: str
    rendered: int = 0
    reused: int = 0
    _hashes: dict[str, str] = field(default_factory=dict)
    _heads: Heads = field(default_factory=lambda: Heads())

    def hash_of(self, key: ArticleKey) -> str:
        """The input hash of ``key``'s item in this channel."""
        found = self._hashes.get(key.id)
        if found is None:
            found = input_hash(
                self.renderer,
                self.channel.content == "summary",
                self.settings.site.name,
                key,
                self.picks.parts(key.id),
            )
            self._hashes[key.id] = found
        return found

    def documents(
        self, docs: Sequence[tuple[FeedDocument, Sequence[ArticleKey]]]
    ) -> Iterator[tuple[dict[str, bytes], bool]]:
        """Each document's bytes by format, in order, and whether it holds all its items.

        Fragments are read for up to :data:`DOCUMENT_BATCH` items at a time, one query
        (an incremental build's few documents are one batch); the missing ones are
        rendered from the articles, read by id, and stored. An item deleted from the
        store since the channel was read is left out (``False``: rebuild it next time).
        """
        formats: list[str] = list(self.channel.formats)
        batch: list[tuple[FeedDocument, Sequence[ArticleKey]]] = []
        size = 0
        for doc, keys in docs:
            if batch and size + len(keys) > DOCUMENT_BATCH:
                yield from self._batch(batch, formats)
                batch, size = [], 0
            batch.append((doc, keys))
            size += len(keys)
        if batch:
            yield from self._batch(batch, formats)

    def _batch(
        self, docs: list[tuple[FeedDocument, Sequence[ArticleKey]]], formats: list[str]
    ) -> Iterator[tuple[dict[str, bytes], bool]]:
        wanted = {key.id: self.hash_of(key) for _, keys in docs for key in keys}
        found = load_fragments(self.store, self.channel.name, wanted, formats)
        missing = [i for i in wanted if len(found.get(i, {})) < len(formats)]
        self.reused += len(wanted) - len(missing)
        if missing:
            articles = self._read(missing, [key for _, keys in docs for key in keys])
            template = replace(docs[0][0], related=self.picks.related_for(articles))
            fresh = render_items(template, articles, formats)
            save_fragments(
                self.store,
                self.channel.name,
                {i: (wanted[i], data) for i, data in fresh.items()},
            )
            found.update(fresh)
            self.rendered += len(fresh)
        for doc, keys in docs:
            # Complete items only: one deleted since the scan may have some formats stored.
            present = [key for key in keys if len(found.get(key.id, {})) == len(formats)]
            data = splice(
                doc,
                formats,
                [k.updated_at for k in present],
                [found[k.id] for k in present],
                heads=self._heads,
            )
            yield data, len(present) == len(keys)

    def _read(self, ids: list[str], keys: Sequence[ArticleKey]) -> list[Article]:
        """The articles ``ids`` whole: by id when they are few; when many (a first build),
        the channel's articles over their publication span, one range scan instead of
        an id lookup each."""
        if len(ids) <= RANGE_READ:
            return self.store.get_articles(ids)
        wanted = set(ids)
        dates = [key.published_at for key in keys if key.id in wanted]
        found = iter_channel_articles(
            self.store,
            self.channel,
            since=min(dates),
            until=max(dates) + timedelta(microseconds=1),
        )
        return [article for article in found if article.id in wanted]
