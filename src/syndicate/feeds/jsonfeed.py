"""A :class:`~syndicate.feeds.render.FeedDocument` → JSON Feed 1.1 bytes (STANDARDS A3).

Written with the json module: keys in a fixed order, compact, UTF-8 without ``\\u``
escapes, one trailing newline, so the same document gives the same bytes
(HT-4). Text goes through the same cleaning as the XML formats, which also removes
lone surrogates that could not be encoded as UTF-8.

JSON Feed has no archive documents; RFC 5005's chain maps to ``next_url`` (PG-3): the
subscription document's ``next_url`` is the newest archive page, and each archive
page's is the next older one. ``feed_url`` is the subscription URL on every page, since
it identifies the feed. WebSub hubs are listed in ``hubs`` (WS-1). Image alt text,
credit and size, which JSON Feed has no field for, go in the ``_syndicate`` extension
object of the item (JSON Feed "Extensions").
"""

from __future__ import annotations

import json
from typing import Any

from syndicate.feeds.items import (
    ItemFields,
    categories,
    clean_article,
    content_html,
    rfc3339,
    summary_text,
    text,
)
from syndicate.feeds.render import FeedDocument
from syndicate.models import Article

VERSION = "https://jsonfeed.org/version/1.1"


def render_json(doc: FeedDocument) -> bytes:
    """JSON Feed 1.1 bytes of ``doc``."""
    links = doc.links["json"]
    feed: dict[str, Any] = {
        "version": VERSION,
        "title": text(doc.title).strip() or text(doc.publisher),
        "home_page_url": doc.home_url,
        "feed_url": links.current or links.self_url,
    }
    if text(doc.description).strip():
        feed["description"] = text(doc.description).strip()
    if doc.icon or doc.logo:  # JSON Feed's icon is square: prefer the icon to the logo
        feed["icon"] = doc.icon or doc.logo
    if doc.icon:
        feed["favicon"] = doc.icon
    feed["authors"] = [{"name": text(doc.publisher)}]
    feed["language"] = doc.language
    if doc.hubs:
        feed["hubs"] = [{"type": "WebSub", "url": hub} for hub in doc.hubs]
    if links.prev_archive:
        feed["next_url"] = links.prev_archive
    feed["items"] = [_item(doc, article) for article in doc.articles]
    # No indent: json's C encoder only runs without one, and it is ~5x faster.
    encoded = json.dumps(feed, ensure_ascii=False, separators=(",", ":")) + "\n"
    return encoded.encode("utf-8")


def item_json(doc: FeedDocument, article: Article, fields: ItemFields | None = None) -> bytes:
    """One item's bytes exactly as :func:`render_json` writes it inside ``items``
    (``doc`` gives the item settings and "More from" links; :mod:`.fragments`).

    ``fields``, when given, are ``item_fields(doc, article)``, shared with the XML
    items; the item is then written directly (:func:`_written`), with the same bytes
    as json's encoder (which stays the reference) and about twice as fast."""
    if fields is not None:
        data = _written(fields)
        if data is not None:
            return data
    return _ENCODE(_item(doc, article, fields)).encode()


# The encoder json.dumps(..., ensure_ascii=False, separators=(",", ":")) builds per call.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# Bytes json escapes as \u00XX: controls other than tab, LF and CR, which the text
# cleaning removes; if one got through, the encoder writes the item.
_OTHER_CONTROLS = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))


def _string(value: str) -> str:
    """``value`` as json's encoder writes a string (``ensure_ascii=False``) that holds no
    control character but tab, LF and CR."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if '"' in value:
        value = value.replace('"', '\\"')
    if "\n" in value:
        value = value.replace("\n", "\\n")
    if "\r" in value:
        value = value.replace("\r", "\\r")
    if "\t" in value:
        value = value.replace("\t", "\\t")
    return f'"{value}"'


def _written(fields: ItemFields) -> bytes | None:
    """:func:`_item` encoded, written member by member in its order; None for what is
    left to the encoder (a number that is not a plain int, a control character)."""
    article, q = fields.article, _string
    parts = ['{"id":', q(article.id)]
    if article.url:
        parts += [',"url":', q(article.url)]
    parts += [',"title":', q(article.title), ',"summary":', q(fields.summary_text)]
    parts += [',"content_html":', q(fields.content_html)]
    image = article.image
    if image is not None:
        parts += [',"image":', q(image.url)]
    parts += [',"date_published":"', fields.published.isoformat()]
    parts += ['","date_modified":"', fields.updated.isoformat(), '"']
    authors = [
        f'{{"name":{q(a.name)},"url":{q(a.url)}}}' if a.url else f'{{"name":{q(a.name)}}}'
        for a in article.authors
        if a.name
    ]
    if authors:
        parts += [',"authors":[', ",".join(authors), "]"]
    if fields.categories:
        parts += [',"tags":[', ",".join(q(tag) for tag in fields.categories), "]"]
    if image is not None:
        members = [(k, q(v)) for k, v in (("alt", image.alt), ("credit", image.credit)) if v]
        if image.caption:
            members.append(("caption", q(image.caption)))
        for key, number in (("width", image.width), ("height", image.height)):
            if number:
                if type(number) is not int:
                    return None
                members.append((key, str(number)))
        if members:
            inner = ",".join(f'"{key}":{value}' for key, value in members)
            parts += [',"_syndicate":{"image":{', inner, "}}"]
    parts.append("}")
    data = "".join(parts).encode("utf-8")
    return data if len(data.translate(None, _OTHER_CONTROLS)) == len(data) else None


def _item(doc: FeedDocument, article: Article, fields: ItemFields | None = None) -> dict[str, Any]:
    if fields is None:
        article = clean_article(article)
        summary, content, tags = summary_text(article), content_html(doc, article), None
        published, modified = rfc3339(article.published_at), rfc3339(article.updated_at)
    else:
        article = fields.article
        summary, content, tags = fields.summary_text, fields.content_html, fields.categories
        published, modified = fields.published.isoformat(), fields.updated.isoformat()
    item: dict[str, Any] = {"id": article.id}
    if article.url:
        item["url"] = article.url
    item["title"] = article.title
    item["summary"] = summary
    item["content_html"] = content  # JF-2: content is required
    if article.image is not None:
        item["image"] = article.image.url
    item["date_published"] = published
    item["date_modified"] = modified
    authors = [
        {"name": a.name, "url": a.url} if a.url else {"name": a.name}
        for a in article.authors
        if a.name
    ]
    if authors:
        item["authors"] = authors
    if tags is None:
        tags = categories(article)
    if tags:
        item["tags"] = tags
    if article.image is not None:
        image = article.image
        image_fields = {
            "alt": image.alt,
            "credit": image.credit,
            "caption": image.caption,
            "width": image.width,
            "height": image.height,
        }
        extension = {key: value for key, value in image_fields.items() if value}
        if extension:
            item["_syndicate"] = {"image": extension}
    return item
