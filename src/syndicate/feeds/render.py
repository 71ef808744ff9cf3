"""Channel + articles → RSS 2.0 and Atom 1.0 bytes. The only module that imports feedgen.

A :class:`FeedDocument` says everything one feed document shows, whatever the format;
:func:`render_xml` turns it into RSS and/or Atom, :mod:`syndicate.feeds.jsonfeed` into
JSON Feed. Rendering is pure (no clock, no I/O): the same document gives the same bytes
(HT-4). feedgen's defaults that would break that or say the wrong thing are overridden:
``lastBuildDate``/``updated`` would be *now* (we use the newest item's ``updated_at``),
the generator would name feedgen and its version (we name syndicate, without a version,
so an upgrade alone changes no byte), entries would be prepended (we append).

Item ids are the articles' ``tag:`` ids (RSS ``guid isPermaLink="false"``, RSS-5; AT-3;
DD-3); the dek goes before ``content:encoded`` (RSS-7); authors are ``dc:creator``
(RSS ``author`` needs an e-mail); the lead image is an RSS ``enclosure`` / Atom
``link rel="enclosure"`` (where readers look) and a ``media:content`` with its alt text
(where Media RSS readers look). docs/feeds.md has the full table. Text is stripped of
XML-illegal characters again at render time (:mod:`syndicate.feeds.items`), whatever
the store holds, since one bad character makes the whole document ill-formed (A7
``SAXError``); no CDATA is used, so ``]]>`` is escaped like any other text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from syndicate.feeds.items import (
    categories,
    clean_article,
    content_html,
    document_updated,
    image_type,
    summary_html,
    text,
    utc,
)
from syndicate.models import Article, Image

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
MEDIA_NS = "http://search.yahoo.com/mrss/"  # exactly, with the trailing slash (RSS-8)
HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005 fh:
GENERATOR = "syndicate"
GENERATOR_URI = "https://github.com/syndicate-rss/syndicate"
RSS_DOCS = "https://www.rssboard.org/rss-specification"


@dataclass(frozen=True, slots=True)
class FeedFormat:
    """One output format: its name in config, file extension and media type."""

    name: str
    extension: str
    media_type: str


FORMATS: dict[str, FeedFormat] = {
    "rss": FeedFormat("rss", "xml", "application/rss+xml"),  # RSS-10
    "atom": FeedFormat("atom", "atom", "application/atom+xml"),  # AT-6
    "json": FeedFormat("json", "json", "application/feed+json"),  # JF-3
}


@dataclass(frozen=True, slots=True)
class RelatedLink:
    """One entry of a "More from <publication>" list: a title and an absolute URL."""

    title: str
    url: str


@dataclass(frozen=True, slots=True)
class DocumentLinks:
    """The URLs one document links to, for one format.

    ``self_url`` is the URL the document is served at (RSS-6). Archive documents
    (RFC 5005, PG-3) set ``current`` to the subscription document; ``prev_archive`` is
    the next older archive page and ``next_archive`` the next newer one.
    """

    self_url: str
    current: str | None = None
    prev_archive: str | None = None
    next_archive: str | None = None


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """Everything one feed document shows, independent of the format.

    ``articles`` are in display order (newest first). ``links`` maps a format name to
    that format's URLs. ``hubs`` are WebSub hubs (subscription documents only).
    ``related`` maps an article id to its "More from <publisher>" links, appended to
    the item's content in full-content documents.
    """

    feed_id: str
    title: str
    description: str
    home_url: str
    language: str
    publisher: str
    articles: Sequence[Article]
    links: Mapping[str, DocumentLinks]
    hubs: tuple[str, ...] = ()
    logo: str | None = None
    icon: str | None = None
    summary_only: bool = False
    archive: bool = False
    related: Mapping[str, Sequence[RelatedLink]] = field(default_factory=dict)


# --- feedgen extensions: what feedgen does not write itself ------------------------------


def _link(parent: Any, tag: str, rel: str, href: str, media_type: str | None) -> None:
    element = etree.SubElement(parent, tag, rel=rel, href=href)
    if media_type:
        element.set("type", media_type)


class _DocumentExtension(BaseExtension):  # type: ignore[misc]
    """Feed-level links (self, hub, RFC 5005) and ``fh:archive``, per format.

    feedgen writes only one ``atom:link`` (rel=self) into RSS and one self type for
    both formats, so every link except the home page is written here.
    """

    def __init__(self) -> None:
        self.doc: FeedDocument | None = None
        self.media = False

    def _links(self, fmt: str) -> list[tuple[str, str, str | None]]:
        assert self.doc is not None
        links = self.doc.links[fmt]
        media_type = FORMATS[fmt].media_type
        out: list[tuple[str, str, str | None]] = [("self", links.self_url, media_type)]
        out += [("hub", hub, None) for hub in self.doc.hubs]  # WS-1
        for rel, url in (
            ("current", links.current),
            ("prev-archive", links.prev_archive),
            ("next-archive", links.next_archive),
        ):
            if url:
                out.append((rel, url, media_type))
        return out

    def _extend(self, parent: Any, fmt: str, link_tag: str) -> None:
        assert self.doc is not None
        for rel, href, media_type in self._links(fmt):
            _link(parent, link_tag, rel, href, media_type)
        if self.doc.archive:
            etree.SubElement(parent, f"{{{HISTORY_NS}}}archive")  # PG-3

    def extend_ns(self) -> dict[str, str]:
        # Declare only the namespaces the document uses.
        namespaces = {"media": MEDIA_NS} if self.media else {}
        if self.doc is not None and self.doc.archive:
            namespaces["fh"] = HISTORY_NS
        return namespaces

    def extend_rss(self, feed: Any) -> Any:
        self._extend(feed[0], "rss", f"{{{ATOM_NS}}}link")
        return feed

    def extend_atom(self, feed: Any) -> Any:
        # feedgen builds Atom elements without a namespace under a literal xmlns
        # attribute, so our links must be unqualified too to land in the Atom namespace.
        self._extend(feed, "atom", "link")
        return feed


class _CreatorNamespace(BaseExtension):  # type: ignore[misc]
    """Declares ``dc:`` in RSS documents that name authors (Atom has its own author)."""

    def __init__(self) -> None:
        self.used = False

    def extend_ns(self) -> dict[str, str]:
        return {"dc": DC_NS} if self.used else {}


class _ItemExtension(BaseEntryExtension):  # type: ignore[misc]
    """Per item: ``dc:creator`` (RSS only) and the lead image, as an enclosure and as
    ``media:content``.

    The enclosures are written here, not with feedgen's ``enclosure()``: feedgen drops
    the ``rel`` of entry links in Atom, which would turn the image into a second
    alternate link.
    """

    def __init__(self) -> None:
        self.article: Article | None = None

    def _image(self) -> tuple[Image, str | None] | None:
        image = self.article.image if self.article is not None else None
        if image is None:  # clean_article drops an image without a URL
            return None
        return image, image_type(image.url)

    def _media(self, item: Any, image: Image, media_type: str | None) -> None:
        media = etree.SubElement(item, f"{{{MEDIA_NS}}}content", url=image.url, medium="image")
        if media_type:
            media.set("type", media_type)
        if image.width:
            media.set("width", str(image.width))
        if image.height:
            media.set("height", str(image.height))
        if image.alt:
            # media:title, not media:description: feedparser (and the readers built on
            # it) reads media:description as the item's description, so the alt text
            # became a summary-only item's content and a full item's summary_detail.
            etree.SubElement(media, f"{{{MEDIA_NS}}}title", type="plain").text = image.alt
        if image.credit:
            etree.SubElement(media, f"{{{MEDIA_NS}}}credit").text = image.credit

    def extend_rss(self, item: Any) -> Any:
        for name in _author_names(self.article):
            etree.SubElement(item, f"{{{DC_NS}}}creator").text = name
        found = self._image()
        if found is not None:
            image, media_type = found
            if media_type:  # RSS-8: type is required, so no enclosure without one
                # RSS-8 requires a length too; the byte size is unknown, and the RSS
                # Advisory Board profile says to use 0 then.
                etree.SubElement(item, "enclosure", url=image.url, length="0", type=media_type)
            self._media(item, image, media_type)
        return item

    def extend_atom(self, entry: Any) -> Any:
        found = self._image()
        if found is not None:
            image, media_type = found
            if media_type:
                # Unqualified, like feedgen's own Atom elements (see _DocumentExtension);
                # length is optional in Atom (RFC 4287 §4.2.7.6), so left out.
                _link(entry, "link", "enclosure", image.url, media_type)
            self._media(entry, image, media_type)
        return entry


def _author_names(article: Article | None) -> list[str]:
    if article is None:
        return []
    return [a.name for a in article.authors if a.name]


# --- rendering ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeadFacts:
    """What a document's head says of its items, given without the items.

    :mod:`syndicate.feeds.fragments` renders a head around a placeholder item and
    splices stored item fragments in its place; these stand for the real items:
    the newest ``updated``, and whether any item uses ``media:`` or ``dc:``.
    """

    updated: datetime
    media: bool
    creators: bool


def _generator(doc: FeedDocument, facts: HeadFacts | None = None) -> Any:
    fg = FeedGenerator()
    fg.register_extension("syndicate", _DocumentExtension, _ItemExtension)
    fg.register_extension("syndicate_dc", _CreatorNamespace, atom=False, rss=True)
    fg.syndicate.doc = doc
    articles = [clean_article(a) for a in doc.articles]
    fg.syndicate.media = any(a.image is not None for a in articles)
    fg.syndicate_dc.used = any(_author_names(a) for a in articles)
    if facts is not None:
        fg.syndicate.media, fg.syndicate_dc.used = facts.media, facts.creators
    fg.id(doc.feed_id)
    fg.title(text(doc.title).strip() or text(doc.publisher))
    # RSS requires a description (RSS-1); the title stands in for an empty one.
    fg.description(text(doc.description).strip() or text(doc.title).strip() or doc.publisher)
    fg.link(href=doc.home_url, rel="alternate", type="text/html")
    fg.language(doc.language)
    fg.author({"name": text(doc.publisher) or "syndicate"})  # AT-1: a feed-level author
    fg.generator(GENERATOR, uri=GENERATOR_URI)
    fg.docs(RSS_DOCS)
    fg.updated(facts.updated if facts is not None else document_updated(doc))
    if doc.logo:  # RSS <image> and Atom <logo>; feedgen's image() sets both
        fg.image(url=doc.logo, title=fg.title(), link=doc.home_url)
    if doc.icon:
        fg.icon(doc.icon)
    for article in articles:
        _add_item(fg, doc, article)
    return fg


def _add_item(fg: Any, doc: FeedDocument, article: Article) -> None:
    """Add one (cleaned) article as an item/entry."""
    entry = fg.add_entry(order="append")
    entry.syndicate.article = article
    entry.id(article.id)  # also the RSS guid, isPermaLink="false" (RSS-5)
    entry.title(article.title)
    url = article.url
    if url:
        entry.link(href=url, rel="alternate", type="text/html")
    entry.published(utc(article.published_at))
    entry.updated(utc(article.updated_at))
    # Call order matters to feedgen: description() also sets the Atom summary, then
    # summary(type="html") types it; content() last sets content:encoded, which feedgen
    # always writes after description (RSS-7).
    summary = summary_html(article)
    entry.description(summary, isSummary=True)
    entry.summary(summary, type="html")
    if not doc.summary_only or not url:
        # Summary-only items have no content, unless there is no alternate link either
        # (AT-2: an entry needs one or the other); then the summary is the content.
        entry.content(content_html(doc, article), type="html")
    for author in article.authors:
        if author.name:
            fields = (
                {"name": author.name, "uri": author.url} if author.url else {"name": author.name}
            )
            entry.author(fields)
    terms = categories(article)
    if terms:
        entry.category([{"term": term} for term in terms])


def render_xml(
    doc: FeedDocument, formats: Iterable[str] = ("rss", "atom"), *, facts: HeadFacts | None = None
) -> dict[str, bytes]:
    """RSS 2.0 and/or Atom 1.0 bytes of ``doc`` (UTF-8, pretty-printed), by format name.

    ``facts``, when given, replace what the head would otherwise work out from the
    items (see :class:`HeadFacts`). Raises ``ValueError`` for a format other than
    ``rss`` or ``atom``.
    """
    wanted = list(formats)
    unknown = [f for f in wanted if f not in ("rss", "atom")]
    if unknown:
        raise ValueError(f"render_xml renders rss and atom, not {unknown}")
    fg = _generator(doc, facts)
    out: dict[str, bytes] = {}
    for fmt in wanted:
        method = fg.rss_str if fmt == "rss" else fg.atom_str
        out[fmt] = bytes(method(pretty=True, encoding="UTF-8", xml_declaration=True))
    return out


def render_rss(doc: FeedDocument) -> bytes:
    """RSS 2.0 bytes of ``doc``."""
    return render_xml(doc, ("rss",))["rss"]


def render_atom(doc: FeedDocument) -> bytes:
    """Atom 1.0 bytes of ``doc``."""
    return render_xml(doc, ("atom",))["atom"]
