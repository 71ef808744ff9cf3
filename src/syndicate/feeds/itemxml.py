"""An item's RSS ``<item>`` and Atom ``<entry>`` bytes, written directly from the article.

feedgen (:mod:`syndicate.feeds.render`) stays the reference; this writes the same
bytes several times faster, without building an lxml tree per item, so that a first
build (every item rendered once) is not dominated by feedgen. It copies, element for
element, what :func:`.render._add_item` and feedgen's ``FeedEntry.rss_entry`` /
``atom_entry`` plus our ``_ItemExtension`` produce, and what libxml2's serializer
makes of it at the items' depth in a pretty-printed document:

* element order is feedgen's (RSS: title, link, description, content:encoded, guid,
  category, pubDate, then the extension's dc:creator, enclosure, media:content; Atom:
  id, title, updated, author, content, link, summary, category, published, then the
  extension's enclosure link and media:content), attributes in the order they are set;
* feedgen's Atom entry link keeps only ``href`` (``atom_entry`` reads ``rel`` and
  ``type`` back from the element it has just made, which has neither);
* RSS gets the summary as ``description`` and the content as ``content:encoded``; with
  an empty summary, the content becomes the ``description`` (feedgen's fallback); an
  empty Atom summary is the empty element ``<summary type="html"/>``;
* text escapes ``& < >`` and CR (``&#13;``), attribute values also ``"``, LF, tab
  (``&#10;`` ``&#9;``); everything else is written as UTF-8 (no CDATA anywhere);
* an element with children puts each on its own line, indented two spaces a level; one
  with neither text nor children is ``<x/>``;
* dates: RSS ``pubDate`` as feedgen's ``formatRFC2822`` in the C locale, Atom dates as
  ``datetime.isoformat()`` of the UTC value.

Two inputs are left to feedgen (:func:`renders_directly` is False): an article without
an id (feedgen refuses the Atom entry, and the caller should see that same error) and
dates in the year 1000 or before (``strftime`` writes years below 1000 platform-dependently).
tests/test_feed_itemxml.py proves byte-identity with feedgen on the example content,
the golden channels, the benchmark's articles and generated hostile text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from syndicate.feeds.items import ItemFields, image_type, item_fields
from syndicate.feeds.render import FeedDocument
from syndicate.models import Article

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# The whitespace before a child element at each nesting level below the item, as lxml's
# pretty printer writes it: RSS items sit at depth 2 (rss > channel > item), Atom
# entries at depth 1 (feed > entry).
_RSS_IN, _RSS_IN2, _RSS_OUT = "\n      ", "\n        ", "\n    "
_ATOM_IN, _ATOM_IN2, _ATOM_OUT = "\n    ", "\n      ", "\n  "


def _text(value: str) -> str:
    """``value`` escaped as libxml2 escapes element text."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value.replace("\r", "&#13;") if "\r" in value else value


def _quoted(text: str) -> str:
    """An attribute value (in double quotes) from its :func:`_text` escape: libxml2
    also escapes the quote, LF and tab there."""
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "\n" in text or "\t" in text:
        text = text.replace("\n", "&#10;").replace("\t", "&#9;")
    return text


def _attr(value: str) -> str:
    """``value`` escaped as libxml2 escapes an attribute value (in double quotes)."""
    return _quoted(_text(value))


def _rfc2822(value: datetime) -> str:
    """feedgen's ``formatRFC2822`` of a UTC ``value`` (``%a, %d %b %Y %H:%M:%S %z``, C locale)."""
    return (
        f"{_DAYS[value.weekday()]}, {value.day:02d} {_MONTHS[value.month - 1]} {value.year} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d} +0000"
    )


def renders_directly(article: Article) -> bool:
    """Whether :func:`item_xml` renders ``article`` (else feedgen must; see the module)."""
    # A year after 1000 anywhere is a year 1000 or later in UTC.
    return bool(article.id) and article.published_at.year > 1000 and article.updated_at.year > 1000


def item_xml(
    doc: FeedDocument,
    article: Article,
    formats: Sequence[str],
    fields: ItemFields | None = None,
) -> dict[str, bytes]:
    """``article``'s item bytes in each XML format of ``formats`` (``rss``, ``atom``).

    ``doc`` gives the item settings (``summary_only``, ``publisher``, ``related``);
    ``fields``, when given, are ``item_fields(doc, article)``. The bytes equal the item
    cut from a feedgen document (:func:`.fragments.render_items_reference`) when
    :func:`renders_directly` is true; the caller must check that.
    """
    if fields is None:
        fields = item_fields(doc, article)
    # feedgen sets content unless the item is summary-only and has a link (render.py).
    content = fields.content_html if not doc.summary_only or not fields.article.url else None
    item = _Escaped(fields, content)
    out: dict[str, bytes] = {}
    for fmt in formats:
        if fmt == "rss":
            out[fmt] = _rss(item).encode("utf-8")
        elif fmt == "atom":
            out[fmt] = _atom(item).encode("utf-8")
    return out


class _Escaped:
    """An item's values escaped once, for both formats (the body is most of the work)."""

    __slots__ = (
        "article",
        "authors",
        "categories",
        "content",
        "fields",
        "id",
        "image_type",
        "image_url",
        "summary",
        "title",
        "url",
    )

    def __init__(self, fields: ItemFields, content: str | None) -> None:
        article = self.article = fields.article
        self.fields = fields
        self.id = _text(article.id)
        self.title = _text(article.title)
        self.url = _text(article.url)
        self.summary = _text(fields.summary_html)
        self.content = None if content is None else _text(content)
        self.categories = [_text(term) for term in fields.categories]
        self.authors = [(_text(a.name), _text(a.url)) for a in article.authors if a.name]
        image = article.image
        self.image_url = "" if image is None else _attr(image.url)
        self.image_type = None if image is None else image_type(image.url)

    def media(self, inner: str, close: str) -> str:
        """The ``media:content`` element of the item's image (``_ItemExtension._media``);
        ``inner`` goes before its children, ``close`` before its closing tag."""
        image = self.article.image
        assert image is not None
        parts = [f'<media:content url="{self.image_url}" medium="image"']
        if self.image_type:
            parts.append(f' type="{_attr(self.image_type)}"')
        if image.width:
            parts.append(f' width="{_attr(str(image.width))}"')
        if image.height:
            parts.append(f' height="{_attr(str(image.height))}"')
        if not image.alt and not image.credit:
            parts.append("/>")
            return "".join(parts)
        parts.append(">")
        if image.alt:
            parts.append(f'{inner}<media:title type="plain">{_text(image.alt)}</media:title>')
        if image.credit:
            parts.append(f"{inner}<media:credit>{_text(image.credit)}</media:credit>")
        parts.append(f"{close}</media:content>")
        return "".join(parts)


def _rss(item: _Escaped) -> str:
    article = item.article
    nl = _RSS_IN
    parts = ["<item>", nl, "<title>", item.title, "</title>"]
    if item.url:
        parts += [nl, "<link>", item.url, "</link>"]
    content = item.content
    if item.summary:
        parts += [nl, "<description>", item.summary, "</description>"]
        if content is not None:
            parts += [nl, "<content:encoded>", content, "</content:encoded>"]
    elif content is not None:  # feedgen's fallback: no summary, the content describes
        parts += [nl, "<description>", content, "</description>"]
    parts += [nl, '<guid isPermaLink="false">', item.id, "</guid>"]
    for term in item.categories:
        parts += [nl, "<category>", term, "</category>"]
    parts += [nl, "<pubDate>", _rfc2822(item.fields.published), "</pubDate>"]
    for name, _ in item.authors:
        parts += [nl, "<dc:creator>", name, "</dc:creator>"]
    if article.image is not None:
        if item.image_type:
            kind = _attr(item.image_type)
            parts += [nl, f'<enclosure url="{item.image_url}" length="0" type="{kind}"/>']
        parts += [nl, item.media(_RSS_IN2, nl)]
    parts.append(_RSS_OUT + "</item>")
    return "".join(parts)


def _atom(item: _Escaped) -> str:
    article = item.article
    nl, nl2 = _ATOM_IN, _ATOM_IN2
    parts = ["<entry>", nl, "<id>", item.id, "</id>", nl, "<title>", item.title, "</title>"]
    parts += [nl, "<updated>", item.fields.updated.isoformat(), "</updated>"]
    for name, uri in item.authors:
        parts += [nl, "<author>", nl2, "<name>", name, "</name>"]
        if uri:
            parts += [nl2, "<uri>", uri, "</uri>"]
        parts += [nl, "</author>"]
    content = item.content
    if content is not None:
        parts += [nl, '<content type="html"', f">{content}</content>" if content else "/>"]
    if item.url:
        parts += [nl, f'<link href="{_quoted(item.url)}"/>']
    summary = item.summary
    parts += [nl, '<summary type="html"', f">{summary}</summary>" if summary else "/>"]
    for term in item.categories:
        parts += [nl, f'<category term="{_quoted(term)}"/>']
    parts += [nl, "<published>", item.fields.published.isoformat(), "</published>"]
    if article.image is not None:
        if item.image_type:
            kind = _attr(item.image_type)
            parts += [nl, f'<link rel="enclosure" href="{item.image_url}" type="{kind}"/>']
        parts += [nl, item.media(nl2, nl)]
    parts.append(_ATOM_OUT + "</entry>")
    return "".join(parts)
