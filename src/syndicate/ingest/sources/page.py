"""The ``page`` source: article pages listed by URL or found in a sitemap.

Options: ``urls`` or ``sitemap`` (exactly one), ``max_pages`` (default 200).

A sitemap (``urlset``, or a ``sitemapindex`` one level deep) is fetched conditionally
with the source's validators and parsed with lxml under the SE-4 settings; its pages
are taken newest ``lastmod`` first, up to ``max_pages``. Every page is fetched
conditionally with its own validators, kept in ``FetchResult.extra["pages"]``: a 304
counts as ``skipped``. A page that cannot be fetched is a warning naming its URL and
the others go on; only when every page fails is the source in error.

Metadata comes from JSON-LD (``Article`` and kin), then OpenGraph, then plain ``<meta>``,
``<title>`` and ``<link rel=canonical>``; the main text from trafilatura, falling back
to the text of ``<article>`` or ``<body>``. Entries come back raw: cleaning happens in
:func:`syndicate.ingest.content.clean_entry`.
"""

from __future__ import annotations

import html
import re
import zlib
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from syndicate.errors import ContentError, FetchError, HTTPStatusError, SourceError
from syndicate.ingest.sources.base import Source
from syndicate.ingest.sources.http import AddressPolicy, HttpFetcher, HttpResponse
from syndicate.ingest.sources.jsonfeed import (
    is_http_url,
    join_url,
    unique_entries,
    utc_from_rfc3339,
)
from syndicate.ingest.sources.pagemeta import PageMeta, read_meta
from syndicate.models import Entry, FetchResult, SourceState

HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
XML_ACCEPT = "application/xml, text/xml;q=0.9, */*;q=0.1"
SITEMAP_NS_FREE = re.compile(r"^\{[^}]*\}")
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"an absolute http(s) URL, not {value!r}")
    return value.strip()


class PageOptions(BaseModel):
    """Keys of a ``kind = "page"`` source: ``urls`` or ``sitemap``, not both."""

    model_config = ConfigDict(extra="forbid")

    urls: list[str] = Field(default_factory=list, description="Article page URLs.")
    sitemap: str | None = Field(None, description="A sitemap.xml listing the pages.")
    max_pages: int = Field(200, ge=1, description="Most pages fetched per run.")

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return [_http_url(v) for v in value]

    @field_validator("sitemap")
    @classmethod
    def _sitemap(cls, value: str | None) -> str | None:
        return _http_url(value) if value is not None else None

    @model_validator(mode="after")
    def _exactly_one(self) -> PageOptions:
        if bool(self.urls) == bool(self.sitemap):
            raise ValueError("exactly one of 'urls' (a non-empty list) or 'sitemap'")
        return self


class PageSource(Source):
    """Articles from web pages: a fixed list of URLs, or the pages of a sitemap."""

    Options = PageOptions
    options: PageOptions

    def fetch(self, state: SourceState) -> FetchResult:
        """Fetch the sitemap (if any) and each page conditionally; read what changed.

        Returns ``not_modified`` when the sitemap answers 304 and no page is waiting for
        a retry. Page failures are warnings; ``error`` is set when every page failed.
        Raises :class:`FetchError` / :class:`HTTPStatusError` when the sitemap itself
        cannot be fetched, :class:`ContentError` when it is not a sitemap.
        """
        policy = AddressPolicy.from_config(self.config.allow_private, self.config.allow_networks)
        stored = state.extra.get("pages")
        known: dict[str, Any] = dict(stored) if isinstance(stored, dict) else {}
        validators: dict[str, Any] = {}  # only the pages listed now: extra cannot grow forever
        result = FetchResult()
        with HttpFetcher(self.context.fetch, policy) as fetcher:
            if self.options.sitemap is None:
                urls = list(dict.fromkeys(self.options.urls))
            else:
                urls = self._sitemap_urls(fetcher, state, result)
            retrying = result.not_modified
            if retrying:
                # The list is unchanged, so only the pages that failed last time are due;
                # without this they would wait for the sitemap's next change.
                urls = [u for u in state.extra.get("failed") or () if isinstance(u, str)]
                if not urls:
                    return result
                result.not_modified, validators = False, known
            if len(urls) > self.options.max_pages:
                result.warnings.append(
                    f"{len(urls)} pages listed; reading {self.options.max_pages} (max_pages)"
                )
                urls = urls[: self.options.max_pages]
            failures = self._read_pages(fetcher, urls, known, validators, result)
        if urls and len(failures) == len(urls) and not retrying:
            result.error = all_failed(list(failures.values()), "pages")
        result.entries = unique_entries(result.entries, result.warnings)
        result.extra = {"pages": validators, "failed": list(failures)}
        return result

    def _sitemap_urls(
        self, fetcher: HttpFetcher, state: SourceState, result: FetchResult
    ) -> list[str]:
        """Page URLs from the sitemap; none, with ``result.not_modified``, on a 304."""
        assert self.options.sitemap is not None
        response = fetcher.get(
            self.options.sitemap,
            etag=state.etag,
            last_modified=state.last_modified,
            accept=XML_ACCEPT,
        )
        result.etag = response.headers.get("ETag")
        result.last_modified = response.headers.get("Last-Modified")
        result.max_age = response.max_age
        if response.status == 304:
            result.not_modified = True
            return []
        kind, locations = parse_sitemap(response.body, response.url, self.context.fetch.max_bytes)
        if kind == "urlset":
            return locations
        urls: list[str] = []
        failures: list[SourceError] = []
        for child in locations:
            try:
                inner = fetcher.get(child, accept=XML_ACCEPT)
                child_kind, pages = parse_sitemap(
                    inner.body, inner.url, self.context.fetch.max_bytes
                )
            except SourceError as err:
                failures.append(err)
                result.warnings.append(f"{child}: sitemap skipped: {err}")
                continue
            if child_kind == "sitemapindex":
                result.warnings.append(f"{child}: nested sitemap index ignored (one level only)")
                continue
            urls.extend(pages)
        if locations and len(failures) == len(locations):
            raise all_failed(failures, "sitemaps")
        return list(dict.fromkeys(urls))

    def _read_pages(
        self,
        fetcher: HttpFetcher,
        urls: list[str],
        known: dict[str, Any],
        validators: dict[str, Any],
        result: FetchResult,
    ) -> dict[str, SourceError]:
        """Fetch and read each page into ``result``; return the fetch failures by URL.

        ``validators`` receives each page's ETag / Last-Modified for the next run (a page
        that failed keeps the ones it had, so it is still asked conditionally).
        """
        failures: dict[str, SourceError] = {}
        for url in urls:
            stored = known.get(url)
            old: dict[str, str] = stored if isinstance(stored, dict) else {}
            try:
                response = fetcher.get(
                    url,
                    etag=old.get("etag"),
                    last_modified=old.get("last_modified"),
                    accept=HTML_ACCEPT,
                )
            except SourceError as err:
                failures[url] = err
                result.warnings.append(f"{url}: page skipped: {err}")
                if old:
                    validators[url] = old
                continue
            validators[url] = _validators(response) or old
            if response.status == 304:
                result.skipped += 1
                continue
            try:
                result.entries.append(read_page(response, origin=url))
            except ContentError as err:
                result.warnings.append(f"{url}: page skipped: {err}")
        return failures


def _validators(response: HttpResponse) -> dict[str, str]:
    found = {
        "etag": response.headers.get("ETag"),
        "last_modified": response.headers.get("Last-Modified"),
    }
    return {k: v for k, v in found.items() if v}


def all_failed(failures: list[SourceError], what: str) -> SourceError:
    """One error for "every page (or child sitemap) failed", keeping what retries need.

    When every failure is an HTTP status, the result is an :class:`HTTPStatusError` with
    the longest ``Retry-After`` asked for, so ingest backs off as the server wants.
    """
    first = failures[0]
    message = f"all {len(failures)} {what} failed; first: {first}"
    statuses = [f for f in failures if isinstance(f, HTTPStatusError)]
    if len(statuses) == len(failures):
        waits = [f.retry_after for f in statuses if f.retry_after is not None]
        return HTTPStatusError(
            message,
            status=statuses[0].status,
            retry_after=max(waits, default=None),
            url=first.url,
        )
    if all(isinstance(f, FetchError) for f in failures):
        return FetchError(message, url=first.url)
    return SourceError(message, url=first.url)


# --- sitemaps ----------------------------------------------------------------------------


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


# --- pages -------------------------------------------------------------------------------


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
