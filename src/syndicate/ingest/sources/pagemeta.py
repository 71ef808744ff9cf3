"""What an HTML page says about itself: JSON-LD, OpenGraph and plain ``<meta>``.

Used by the ``page`` source (:mod:`syndicate.ingest.sources.page`). For each field the first
layer that has it wins: JSON-LD (``NewsArticle`` / ``Article`` / ``BlogPosting`` and kin,
also inside ``@graph`` or a list), then OpenGraph (``og:*``, ``article:*``), then plain
``<meta name=description|author|keywords>``, ``<title>`` and ``<link rel=canonical>``.
Values come back raw; :func:`syndicate.ingest.content.clean_entry` cleans them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import lxml.html

from syndicate.ingest.sources.jsonfeed import is_http_url, join_url, utc_from_rfc3339
from syndicate.models import Author, Image

ARTICLE_TYPES = frozenset(
    {"Article", "NewsArticle", "BlogPosting", "LiveBlogPosting", "ReportageNews",
     "AnalysisNewsArticle", "OpinionNewsArticle", "TechArticle", "ScholarlyArticle", "Report"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PageMeta:
    """What a page says about itself, merged from JSON-LD, OpenGraph and plain meta."""

    title: str = ""
    description: str = ""
    authors: tuple[Author, ...] = ()
    published_at: datetime | None = None
    updated_at: datetime | None = None
    section: str = ""
    tags: tuple[str, ...] = ()
    image: Image | None = None
    canonical: str = ""


def read_meta(tree: lxml.html.HtmlElement, url: str) -> PageMeta:
    """Metadata of a page; for each field JSON-LD wins over OpenGraph over plain meta."""
    props: dict[str, list[str]] = {}
    for meta in tree.iter("meta"):
        name = (meta.get("property") or meta.get("name") or "").strip().lower()
        content = (meta.get("content") or "").strip()
        if name and content:
            props.setdefault(name, []).append(content)
    layers = (_json_ld(tree), _open_graph(props), _plain_meta(tree, props))

    def first(field: str) -> Any:
        return next((layer[field] for layer in layers if layer.get(field)), None)

    return PageMeta(
        title=first("title") or "",
        description=first("description") or "",
        authors=first("authors") or (),
        published_at=first("published"),
        updated_at=first("modified"),
        section=first("section") or "",
        tags=first("tags") or (),
        image=_absolute_image(first("image"), url),
        canonical=_canonical([layer.get("canonical") or "" for layer in layers], url),
    )


def _absolute_image(image: Image | None, url: str) -> Image | None:
    # Relative to the page, not to the canonical URL clean_entry would resolve it against.
    absolute = join_url(url, image.url) if image is not None else ""
    return replace(image, url=absolute) if image is not None and absolute else None


def _canonical(candidates: list[str], url: str) -> str:
    """The first usable canonical URL, absolute; ``""`` if none.

    A canonical pointing at the site's home page from an article is a known template
    bug; taken at its word it would give every article the same key, so it is ignored.
    """
    own_path = urlsplit(url).path or "/"
    for candidate in candidates:
        absolute = join_url(url, candidate) if candidate.strip() else ""
        if is_http_url(absolute) and ((urlsplit(absolute).path or "/") != "/" or own_path == "/"):
            return absolute
    return ""


def _json_ld(tree: lxml.html.HtmlElement) -> dict[str, Any]:
    for script in tree.iter("script"):
        if (script.get("type") or "").split(";")[0].strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "")
        except (ValueError, RecursionError):
            continue  # a broken block is common and harmless: OpenGraph and meta remain
        article = _find_article(data, depth=0)
        if article is not None:
            return {
                "title": _text(article.get("headline")) or _text(article.get("name")),
                "description": _text(article.get("description")),
                "authors": _ld_authors(article.get("author")),
                "published": utc_from_rfc3339(article.get("datePublished")),
                "modified": utc_from_rfc3339(article.get("dateModified")),
                "image": _ld_image(article.get("image")),
                "section": _text(article.get("articleSection")),
                "tags": _keywords(article.get("keywords")),
                "canonical": _ld_id(article.get("mainEntityOfPage")) or _text(article.get("url")),
            }
    return {}


def _find_article(node: object, depth: int) -> dict[str, Any] | None:
    """The first Article-like object, searched through lists, ``@graph`` and nesting."""
    if depth > 8:
        return None
    children: list[object] = []
    if isinstance(node, list):
        children = node
    elif isinstance(node, dict):
        types = node.get("@type")
        for kind in types if isinstance(types, list) else [types]:
            # "NewsArticle", "schema:NewsArticle" and "https://schema.org/NewsArticle" alike
            if isinstance(kind, str) and re.split(r"[/:#]", kind)[-1] in ARTICLE_TYPES:
                return node
        children = [v for v in node.values() if isinstance(v, dict | list)]
    for child in children:
        found = _find_article(child, depth + 1)
        if found is not None:
            return found
    return None


def _text(value: object) -> str:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), "")
    return value.strip() if isinstance(value, str) else ""


def _ld_id(value: object) -> str:
    if isinstance(value, dict):
        return _text(value.get("@id")) or _text(value.get("url"))
    return _text(value)


def _ld_authors(value: object) -> tuple[Author, ...]:
    authors = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str) and item.strip():
            authors.append(Author(name=item.strip()))
        elif isinstance(item, dict):
            author = Author(
                name=_text(item.get("name")),
                bio=_text(item.get("description")),
                url=_ld_id(item.get("url")) or _text(item.get("@id")),
            )
            if author.name or author.bio:
                authors.append(author)
    return tuple(authors)


def _ld_image(value: object) -> Image | None:
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str) and item.strip():
            return Image(url=item.strip())
        if isinstance(item, dict):
            url = _text(item.get("url")) or _text(item.get("contentUrl"))
            if url:
                return Image(
                    url=url,
                    caption=_text(item.get("caption")),
                    width=_int(item.get("width")),
                    height=_int(item.get("height")),
                )
    return None


def _int(value: object) -> int | None:
    if isinstance(value, dict):  # a QuantitativeValue
        value = value.get("value")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    match = re.match(r"\s*(\d+)", value) if isinstance(value, str) else None
    return int(match.group(1)) if match else None


def _keywords(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
    return tuple(k.strip() for k in items if isinstance(k, str) and k.strip())


def _open_graph(props: dict[str, list[str]]) -> dict[str, Any]:
    def one(name: str) -> str:
        return (props.get(name) or [""])[0]

    image_url = one("og:image") or one("og:image:url") or one("og:image:secure_url")
    image = Image(
        url=image_url,
        alt=one("og:image:alt"),
        width=_int(one("og:image:width")),
        height=_int(one("og:image:height")),
    )
    return {
        "title": one("og:title"),
        "description": one("og:description"),
        "image": image if image_url else None,
        "published": utc_from_rfc3339(one("article:published_time")),
        "modified": utc_from_rfc3339(one("article:modified_time")),
        "section": one("article:section"),
        "tags": tuple(props.get("article:tag") or ()),
        # article:author is often a profile URL, which names nobody: only names count.
        "authors": tuple(
            Author(name=a) for a in props.get("article:author") or () if "://" not in a
        ),
        "canonical": one("og:url"),
    }


def _plain_meta(tree: lxml.html.HtmlElement, props: dict[str, list[str]]) -> dict[str, Any]:
    canonical = next(
        (
            link.get("href") or ""
            for link in tree.iter("link")
            if "canonical" in (link.get("rel") or "").lower().split()
        ),
        "",
    )
    author = (props.get("author") or [""])[0]
    return {
        "title": " ".join((tree.findtext(".//title") or "").split()),
        "description": (props.get("description") or [""])[0],
        "authors": (Author(name=author),) if author else (),
        "tags": _keywords((props.get("keywords") or [""])[0]),
        "canonical": canonical,
    }
