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
dates before the year 1000 (``strftime`` writes such years platform-dependently).
tests/test_feed_itemxml.py proves byte-identity with feedgen on the example content,
the golden channels, the benchmark's articles and generated hostile text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from syndicate.feeds.items import ItemFields, image_type, item_fields, rfc3339, utc
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
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value.replace("\r", "&#13;") if "\r" in value else value


def _attr(value: str) -> str:
    """``value`` escaped as libxml2 escapes an attribute value (in double quotes)."""
    value = _text(value).replace('"', "&quot;")
    if "\n" in value or "\t" in value:
        value = value.replace("\n", "&#10;").replace("\t", "&#9;")
    return value


def _rfc2822(value: datetime) -> str:
    """feedgen's ``formatRFC2822`` of a UTC ``value`` (``%a, %d %b %Y %H:%M:%S %z``, C locale)."""
    return (
        f"{_DAYS[value.weekday()]}, {value.day:02d} {_MONTHS[value.month - 1]} {value.year} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d} +0000"
    )


def renders_directly(article: Article) -> bool:
    """Whether :func:`item_xml` renders ``article`` (else feedgen must; see the module)."""
    return (
        bool(article.id)
        and utc(article.published_at).year >= 1000
        and utc(article.updated_at).year >= 1000
    )


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
    out: dict[str, bytes] = {}
    for fmt in formats:
        if fmt == "rss":
            out[fmt] = _rss(fields, content).encode("utf-8")
        elif fmt == "atom":
            out[fmt] = _atom(fields, content).encode("utf-8")
    return out


def _media(fields: ItemFields, media_type: str | None, inner: str, close: str) -> list[str]:
    """The ``media:content`` element of the item's image (``_ItemExtension._media``)."""
    image = fields.article.image
    assert image is not None
    parts = [f'<media:content url="{_attr(image.url)}" medium="image"']
    if media_type:
        parts.append(f' type="{_attr(media_type)}"')
    if image.width:
        parts.append(f' width="{_attr(str(image.width))}"')
    if image.height:
        parts.append(f' height="{_attr(str(image.height))}"')
    if not image.alt and not image.credit:
        parts.append("/>")
        return parts
    parts.append(">")
    if image.alt:
        parts.append(f'{inner}<media:title type="plain">{_text(image.alt)}</media:title>')
    if image.credit:
        parts.append(f"{inner}<media:credit>{_text(image.credit)}</media:credit>")
    parts.append(f"{close}</media:content>")
    return parts


def _rss(fields: ItemFields, content: str | None) -> str:
    article = fields.article
    nl = _RSS_IN
    parts = ["<item>", nl, "<title>", _text(article.title), "</title>"]
    if article.url:
        parts += [nl, "<link>", _text(article.url), "</link>"]
    description = fields.summary_html
    if description:
        parts += [nl, "<description>", _text(description), "</description>"]
        if content is not None:
            parts += [nl, "<content:encoded>", _text(content), "</content:encoded>"]
    elif content is not None:  # feedgen's fallback: no summary, the content describes
        parts += [nl, "<description>", _text(content), "</description>"]
    parts += [nl, '<guid isPermaLink="false">', _text(article.id), "</guid>"]
    for term in fields.categories:
        parts += [nl, "<category>", _text(term), "</category>"]
    parts += [nl, "<pubDate>", _rfc2822(utc(article.published_at)), "</pubDate>"]
    for author in article.authors:
        if author.name:
            parts += [nl, "<dc:creator>", _text(author.name), "</dc:creator>"]
    image = article.image
    if image is not None:
        media_type = image_type(image.url)
        if media_type:
            url, kind = _attr(image.url), _attr(media_type)
            parts += [nl, f'<enclosure url="{url}" length="0" type="{kind}"/>']
        parts.append(nl)
        parts += _media(fields, media_type, _RSS_IN2, nl)
    parts.append(_RSS_OUT + "</item>")
    return "".join(parts)


def _atom(fields: ItemFields, content: str | None) -> str:
    article = fields.article
    nl = _ATOM_IN
    parts = [
        "<entry>",
        nl,
        f"<id>{_text(article.id)}</id>",
        nl,
        f"<title>{_text(article.title)}</title>",
        nl,
        f"<updated>{rfc3339(article.updated_at)}</updated>",
    ]
    for author in article.authors:
        if author.name:
            parts += [nl, "<author>", _ATOM_IN2, "<name>", _text(author.name), "</name>"]
            if author.url:
                parts += [_ATOM_IN2, "<uri>", _text(author.url), "</uri>"]
            parts += [nl, "</author>"]
    if content is not None:
        parts += [nl, '<content type="html"', f">{_text(content)}</content>" if content else "/>"]
    if article.url:
        parts += [nl, f'<link href="{_attr(article.url)}"/>']
    summary = fields.summary_html
    parts += [nl, '<summary type="html"', f">{_text(summary)}</summary>" if summary else "/>"]
    for term in fields.categories:
        parts += [nl, f'<category term="{_attr(term)}"/>']
    parts += [nl, f"<published>{rfc3339(article.published_at)}</published>"]
    image = article.image
    if image is not None:
        media_type = image_type(image.url)
        if media_type:
            url, kind = _attr(image.url), _attr(media_type)
            parts += [nl, f'<link rel="enclosure" href="{url}" type="{kind}"/>']
        parts.append(nl)
        parts += _media(fields, media_type, _ATOM_IN2, nl)
    parts.append(_ATOM_OUT + "</entry>")
    return "".join(parts)
