"""The ``page`` source: article pages listed by URL or found in a sitemap.

Options: ``urls`` or ``sitemap`` (exactly one), ``max_pages`` (default 200),
``max_sitemaps`` (default 50) and ``deadline`` (seconds for one poll, default 300).

A sitemap (``urlset``, or a ``sitemapindex`` one level deep, following at most
``max_sitemaps`` children) is fetched conditionally with the source's validators and
parsed by :mod:`.sitemaps`; its pages are taken newest ``lastmod`` first, up to
``max_pages``. Pages are fetched side by side, at most ``fetch.concurrency`` at once
(as ``ingest`` fetches sources), each conditionally with its own validators, kept in
``FetchResult.extra["pages"]``: a 304 counts as ``skipped``. A page that cannot be
fetched is a warning naming its URL and the others go on; only when every page fails is
the source in error. When the poll's ``deadline`` comes, fetches in flight are cut and
no more start: the pages read are kept, a warning says how many are left, and those are
asked for first on the next run (with ``extra["failed"]``).

Metadata comes from JSON-LD (``Article`` and kin), then OpenGraph, then plain ``<meta>``,
``<title>`` and ``<link rel=canonical>``; the main text from trafilatura, falling back
to the text of ``<article>`` or ``<body>``. Entries come back raw: cleaning happens in
:func:`syndicate.ingest.content.clean_entry`.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from syndicate.errors import ContentError, FetchError, HTTPStatusError, SourceError
from syndicate.ingest.sources.base import Source
from syndicate.ingest.sources.http import AddressPolicy, HttpFetcher, HttpResponse
from syndicate.ingest.sources.jsonfeed import unique_entries
from syndicate.ingest.sources.pageread import fallback_text, read_page
from syndicate.ingest.sources.sitemaps import parse_sitemap
from syndicate.models import Entry, FetchResult, SourceState

__all__ = [
    "PageOptions",
    "PageSource",
    "all_failed",
    "fallback_text",
    "parse_sitemap",
    "read_page",
]

HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
XML_ACCEPT = "application/xml, text/xml;q=0.9, */*;q=0.1"


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
    max_sitemaps: int = Field(
        50, ge=1, description="Most child sitemaps of a sitemap index followed per run."
    )
    deadline: float = Field(
        300.0, gt=0, description="Seconds for one poll: sitemaps and pages together."
    )

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


@dataclass
class _Page:
    """What became of one page: read, not modified, failed, or left for the deadline."""

    url: str
    validators: dict[str, str] = field(default_factory=dict)
    entry: Entry | None = None
    not_modified: bool = False
    error: SourceError | None = None
    warning: str = ""
    unread: bool = False


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
        ends = time.monotonic() + self.options.deadline
        policy = AddressPolicy.from_config(self.config.allow_private, self.config.allow_networks)
        stored = state.extra.get("pages")
        known: dict[str, Any] = dict(stored) if isinstance(stored, dict) else {}
        validators: dict[str, Any] = {}  # only the pages listed now: extra cannot grow forever
        result = FetchResult()
        with HttpFetcher(self.context.fetch, policy) as fetcher:
            if self.options.sitemap is None:
                urls = list(dict.fromkeys(self.options.urls))
            else:
                urls = self._sitemap_urls(fetcher, state, result, ends)
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
            pages = self._read_pages(fetcher, urls, known, ends)
        failures = [p.error for p in pages if p.error is not None]
        if urls and len(failures) == len(urls) and not retrying:
            result.error = all_failed(failures, "pages")
        self._merge(pages, validators, result)
        result.entries = unique_entries(result.entries, result.warnings)
        # A page that failed or was not reached is asked for again on the next run.
        result.extra = {
            "pages": validators,
            "failed": [p.url for p in pages if p.error is not None or p.unread],
        }
        return result

    def _sitemap_urls(
        self, fetcher: HttpFetcher, state: SourceState, result: FetchResult, ends: float
    ) -> list[str]:
        """Page URLs from the sitemap; none, with ``result.not_modified``, on a 304."""
        assert self.options.sitemap is not None
        response = fetcher.get(
            self.options.sitemap,
            etag=state.etag,
            last_modified=state.last_modified,
            accept=XML_ACCEPT,
            deadline=ends,
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
        return self._follow_index(fetcher, locations, result, ends)

    def _follow_index(
        self, fetcher: HttpFetcher, locations: list[str], result: FetchResult, ends: float
    ) -> list[str]:
        """Page URLs from the child sitemaps of an index, newest first, one level deep."""
        cap = self.options.max_sitemaps
        if len(locations) > cap:
            result.warnings.append(
                f"{len(locations)} sitemaps listed; following {cap} (max_sitemaps)"
            )
            locations = locations[:cap]
        urls: list[str] = []
        failures: list[SourceError] = []
        for done, child in enumerate(locations):
            if time.monotonic() >= ends:
                result.warnings.append(
                    f"poll deadline of {self.options.deadline:g}s reached; "
                    f"{len(locations) - done} sitemaps not followed (deadline)"
                )
                break
            try:
                inner = fetcher.get(child, accept=XML_ACCEPT, deadline=ends)
                kind, pages = parse_sitemap(inner.body, inner.url, self.context.fetch.max_bytes)
            except SourceError as err:
                failures.append(err)
                result.warnings.append(f"{child}: sitemap skipped: {err}")
                continue
            if kind == "sitemapindex":
                result.warnings.append(f"{child}: nested sitemap index ignored (one level only)")
                continue
            urls.extend(pages)
        if locations and len(failures) == len(locations):
            raise all_failed(failures, "sitemaps")
        return list(dict.fromkeys(urls))

    def _read_pages(
        self, fetcher: HttpFetcher, urls: list[str], known: dict[str, Any], ends: float
    ) -> list[_Page]:
        """Fetch and read every page, ``fetch.concurrency`` at a time, in listed order."""

        def one(url: str) -> _Page:
            stored = known.get(url)
            return _fetch_page(fetcher, url, stored if isinstance(stored, dict) else {}, ends)

        workers = max(1, min(self.context.fetch.concurrency, len(urls)))
        with ThreadPoolExecutor(workers, f"page-{self.name}") as pool:
            return list(pool.map(one, urls))

    def _merge(self, pages: list[_Page], validators: dict[str, Any], result: FetchResult) -> None:
        """Add the pages to ``result`` in listed order, and their validators for next time.

        A page that failed or was not reached keeps the validators it had, so it is still
        asked conditionally.
        """
        unread = 0
        for page in pages:
            if page.validators:
                validators[page.url] = page.validators
            if page.warning:
                result.warnings.append(page.warning)
            if page.entry is not None:
                result.entries.append(page.entry)
            result.skipped += page.not_modified
            unread += page.unread
        if unread:
            result.warnings.append(
                f"poll deadline of {self.options.deadline:g}s reached; "
                f"{unread} pages left for the next run (deadline)"
            )


def _fetch_page(fetcher: HttpFetcher, url: str, old: dict[str, str], ends: float) -> _Page:
    """One page, fetched with its validators and read; never raises a source error."""
    if time.monotonic() >= ends:
        return _Page(url, old, unread=True)
    try:
        response = fetcher.get(
            url,
            etag=old.get("etag"),
            last_modified=old.get("last_modified"),
            accept=HTML_ACCEPT,
            deadline=ends,
        )
    except SourceError as err:
        if isinstance(err, FetchError) and time.monotonic() >= ends:
            return _Page(url, old, unread=True)  # cut by the poll's deadline, not its fault
        return _Page(url, old, error=err, warning=f"{url}: page skipped: {err}")
    page = _Page(url, _validators(response) or old)
    if response.status == 304:
        page.not_modified = True
        return page
    try:
        page.entry = read_page(response, origin=url)
    except ContentError as err:
        page.warning = f"{url}: page skipped: {err}"
    return page


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
