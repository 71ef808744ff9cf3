"""Sitemaps (sitemaps.org 0.9): a ``urlset`` of pages or a ``sitemapindex`` of sitemaps.

Used by the ``page`` source (:mod:`syndicate.ingest.sources.page`). Parsed by lxml
under the SE-4 settings: no entities, no DTD, no network. A ``.xml.gz`` file served as
such (not as ``Content-Encoding``) is inflated under the body cap.
"""

from __future__ import annotations

import re
import zlib

from lxml import etree

from syndicate.errors import ContentError
from syndicate.ingest.sources.jsonfeed import is_http_url, join_url, utc_from_rfc3339

SITEMAP_NS_FREE = re.compile(r"^\{[^}]*\}")


def parse_sitemap(body: bytes, url: str, max_bytes: int) -> tuple[str, list[str]]:
    """``("urlset" | "sitemapindex", locations)`` from a sitemap's bytes.

    Locations are absolute http(s) URLs, newest ``lastmod`` first (undated ones after,
    in document order), so ``max_pages`` keeps the recent pages of a long sitemap.
    Raises :class:`ContentError` when the document is not a sitemap.
    """
    if body[:2] == b"\x1f\x8b":  # sitemap.xml.gz served as a file, not Content-Encoding
        body = _gunzip(body, max_bytes)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as err:
        raise ContentError(f"sitemap is not well-formed XML: {err}", url=url) from err
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise ContentError(f"not a sitemap: root element <{kind}>", url=url)
    item = "url" if kind == "urlset" else "sitemap"
    dated = []
    for element in root:
        if _local(element.tag) != item:
            continue
        fields = {_local(c.tag): (c.text or "").strip() for c in element}
        location = join_url(url, fields.get("loc", ""))
        if fields.get("loc") and is_http_url(location):
            lastmod = utc_from_rfc3339(fields.get("lastmod"))
            dated.append((lastmod.timestamp() if lastmod else float("-inf"), location))
    dated.sort(key=lambda pair: pair[0], reverse=True)  # stable: ties keep their order
    return kind, list(dict.fromkeys(location for _, location in dated))


def _local(tag: object) -> str:
    # Comments and processing instructions have non-string tags.
    return SITEMAP_NS_FREE.sub("", tag) if isinstance(tag, str) else ""


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as err:
        raise ContentError(f"sitemap is not valid gzip: {err}") from err
    if len(data) > max_bytes:
        raise ContentError(f"sitemap is over the {max_bytes}-byte cap once decompressed")
    return data
