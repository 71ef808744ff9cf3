"""Reading a fetched HTML page into a raw :class:`~syndicate.models.Entry`.

Used by the ``page`` source (:mod:`syndicate.ingest.sources.page`). Metadata comes from
:mod:`.pagemeta`; the main text from trafilatura, falling back to the text of
``<article>`` or ``<body>``. The page's bytes are decoded by the HTTP charset, a
``<meta charset>``, or a guess.
"""

from __future__ import annotations

import html
import re

import lxml.html
import trafilatura
from lxml import etree

from syndicate.errors import ContentError
from syndicate.ingest.sources.http import HttpResponse
from syndicate.ingest.sources.pagemeta import PageMeta, read_meta
from syndicate.models import Entry

_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)


def read_page(response: HttpResponse, origin: str = "") -> Entry:
    """An entry from a fetched HTML page; :class:`ContentError` if it has no title or text."""
    url = response.url
    text = decode_html(response.body, response.headers.get("Content-Type", ""))
    # Control characters cannot be in an lxml tree (editing one raises ValueError) and
    # mean nothing in HTML text: drop them before parsing.
    text = _XML_UNSAFE.sub("", text)
    parser = lxml.html.HTMLParser(encoding="utf-8", no_network=True, huge_tree=False)
    try:
        tree = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError) as err:
        raise ContentError(f"not an HTML page: {err}", url=url) from err
    meta = read_meta(tree, url)
    body_html = main_text(text, url) or fallback_text(tree)
    if not meta.title and not body_html:
        raise ContentError("no title and no text", url=url)
    return _entry(meta, body_html, url, origin or url)


def _entry(meta: PageMeta, body_html: str, url: str, origin: str) -> Entry:
    return Entry(
        key=meta.canonical or url,
        url=meta.canonical or url,
        title=meta.title,
        body_html=body_html,
        dek=meta.description,
        published_at=meta.published_at,
        updated_at=meta.updated_at,
        authors=meta.authors,
        section=meta.section,
        tags=meta.tags,
        image=meta.image,
        base_url=url,
        origin=origin,
    )


def decode_html(body: bytes, content_type: str) -> str:
    """The page as text: the HTTP charset, else a ``<meta charset>``, else UTF-8 or cp1252."""
    declared = ""
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            declared = value.strip().strip("\"'")
    if not declared and (match := _CHARSET.search(body[:4096])):
        declared = match.group(1).decode("ascii", "replace")
    if body.startswith(b"\xef\xbb\xbf"):
        declared = "utf-8-sig"
    if declared:
        try:
            return body.decode(declared, errors="replace")
        except LookupError:  # an unknown charset name: guess as if none were given
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def main_text(html_text: str, url: str) -> str:
    """The article's main text as HTML (trafilatura), without the html/body wrapper."""
    try:
        extracted = trafilatura.extract(
            html_text,
            url=url,
            output_format="html",
            include_links=True,
            include_images=True,
            include_tables=True,
            include_comments=False,
        )
        wrapper = lxml.html.fromstring(extracted) if extracted else None
    except Exception:  # a third-party extractor on untrusted HTML: fall back, never crash
        return ""
    if wrapper is None:
        return ""
    body = wrapper.find("body") if wrapper.tag == "html" else wrapper
    if body is None:
        return ""
    return html.escape((body.text or "").strip()) + "".join(
        etree.tostring(child, encoding="unicode", method="html") for child in body
    )


def fallback_text(tree: lxml.html.HtmlElement) -> str:
    """Paragraphs of text from ``<article>``, else ``<body>``: scripts and styles left out."""
    container = next(iter(tree.iter("article")), None)
    if container is None:
        container = tree.find("body")
    if container is None:
        return ""
    for junk in list(container.iter("script", "style", "noscript", "template", "nav")):
        junk.drop_tree()
    blocks = [el.text_content() for el in container.iter("p", "h2", "h3", "li", "blockquote")]
    texts = [" ".join(t.split()) for t in (blocks or [container.text_content()])]
    return "".join(f"<p>{html.escape(t)}</p>" for t in texts if t)
