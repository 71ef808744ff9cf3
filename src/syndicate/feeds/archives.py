"""RFC 5005 archive pages of a channel (PG-3), re-rendered only when they change.

Page n holds the items at positions [(n-1)·items, n·items) counted from the oldest, and
only full pages exist. So the subscription document (the newest ``items``) always covers
every item that no page holds yet: subscription + archives = the whole channel, with
some overlap, which RFC 5005 allows (entries are matched by id). New articles only add
pages; the previous newest page changes once, when it gains its ``next-archive`` link.
An article published with an older date than existing pages shifts the pages after it;
they are rebuilt, and readers re-walk them by id.

Each page has a fingerprint: its items' ids, URLs, content hashes and dates, their
stored "More from" links (:mod:`.picks`; chosen once per item, so newer articles never
change them), the channel's and site's settings, whether a newer page exists, and a hash of the
renderer's source. Fingerprints are kept in ``<output>/.syndicate/pages/<channel>.json``;
a page whose fingerprint and files are unchanged is not read from the store or
rendered, which makes an incremental build cheap on a large archive. A page that
changed is spliced from its items' stored fragments (:mod:`.fragments`): only its new or
changed items are rendered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syndicate.config import ChannelConfig, Settings
from syndicate.feeds import documents, fragments, items, itemxml, jsonfeed
from syndicate.feeds import render as rendering
from syndicate.feeds.documents import archive_path, document
from syndicate.feeds.render import FORMATS, FeedDocument
from syndicate.feeds.writer import Writer, json_bytes, read_json
from syndicate.models import Article
from syndicate.store import Store

if TYPE_CHECKING:
    from syndicate.feeds.doccache import DocumentCache
    from syndicate.feeds.fragments import Splicer
    from syndicate.feeds.picks import ChannelPicks


@dataclass(frozen=True, slots=True)
class ArticleKey:
    """What decides an article's page and how the page looks (part of its fingerprint)."""

    id: str
    url: str
    content_hash: str
    published_at: datetime
    updated_at: datetime
    story_key: str = ""  # for the stored picks' rules (feeds.picks), not the fingerprint
    pins: tuple[str, ...] = ()

    @classmethod
    def of(cls, article: Article) -> ArticleKey:
        """The key of ``article``."""
        return cls(
            article.id,
            article.url,
            article.content_hash,
            article.published_at,
            article.updated_at,
            article.story_key,
            article.related_pins,
        )

    def parts(self) -> list[str]:
        """The key as strings, for hashing."""
        return [
            self.id,
            self.url,
            self.content_hash,
            self.published_at.isoformat(),
            self.updated_at.isoformat(),
        ]


@dataclass(frozen=True)
class ArchiveJob:
    """One channel's archive build: where, what, its items' "More from" links, and the
    splicer that builds its documents from item fragments."""

    store: Store
    settings: Settings
    writer: Writer
    channel: ChannelConfig
    picks: ChannelPicks
    splicer: Splicer
    cache: DocumentCache | None = None

    def state_file(self) -> str:
        """The fingerprint file, relative to the output folder."""
        return f"{documents.STATE_DIR}/pages/{self.channel.name}.json"


@dataclass
class ArchivePlan:
    """Which pages a build rewrites: their new fingerprints, the dirty page numbers,
    those kept in the document cache (page → format → entry: :mod:`.doccache`) and the
    others' documents (heads, and items as keys) for :class:`.fragments.Splicer`."""

    pages: int
    prints: dict[str, str] = field(default_factory=dict)
    dirty: list[int] = field(default_factory=list)
    cached: dict[int, dict[str, Path]] = field(default_factory=dict)
    docs: list[tuple[FeedDocument, Sequence[ArticleKey]]] = field(default_factory=list)

    def add(
        self, job: ArchiveJob, page: int, members: Sequence[ArticleKey], old: str | None
    ) -> None:
        """Page ``page`` (items ``members``) is to be rewritten: from the document cache,
        or spliced. ``old``: the fingerprint it had, whose cache entries it releases."""
        self.dirty.append(page)
        fingerprint = self.prints[str(page)]
        if job.cache is not None:
            if old and old != fingerprint:
                job.cache.release(old, job.channel.formats)
            found = job.cache.find(fingerprint, job.channel.formats)
            if found is not None:
                self.cached[page] = found
                return
        head = document(job.settings, job.channel, (), page=page, pages=self.pages, related={})
        self.docs.append((head, members))


def plan_archives(job: ArchiveJob, keys: Sequence[ArticleKey], pages: int) -> ArchivePlan:
    """Which pages to rewrite: those whose fingerprint or files changed.

    ``keys`` are the channel's articles, newest first; ``pages`` is how many full pages
    they fill. Pages beyond ``pages`` and files of formats no longer built are removed.
    The builder splices the dirty pages' documents with the subscription document's
    (one read of fragments) and hands the bytes to :func:`write_archives`.
    """
    _prune(job, pages)
    plan = ArchivePlan(pages)
    if not pages:
        job.writer.remove(job.writer.root / job.state_file())
        return plan
    size, total, channel = job.channel.items, len(keys), job.channel
    old = read_json(job.writer.root / job.state_file()).get("pages", {})
    settings = _settings_material(job)
    for page in range(1, pages + 1):
        members = keys[total - page * size : total - (page - 1) * size]
        plan.prints[str(page)] = _fingerprint(job, page, pages, members, settings)
        present = all(
            (job.writer.root / archive_path(channel.name, page, f)).exists()
            for f in channel.formats
        )
        if not present or old.get(str(page)) != plan.prints[str(page)]:
            plan.add(job, page, members, old.get(str(page)))
        elif job.cache is not None:
            for fmt in channel.formats:
                path = job.writer.root / archive_path(channel.name, page, fmt)
                job.cache.adopt(plan.prints[str(page)], fmt, path)
    return plan


def plan_pages(
    job: ArchiveJob, pages: int, old_pages: int, check: Mapping[int, Sequence[ArticleKey]]
) -> ArchivePlan:
    """An incremental build's :func:`plan_archives`: only the pages in ``check`` (page →
    its items, newest first) are fingerprinted; the others keep the fingerprints stored
    (:mod:`.incremental` found that nothing of theirs changed). The pages from
    ``pages + 1`` to ``old_pages`` (the channel lost items) are removed, by name: the
    folder is not listed.
    """
    channel, root = job.channel, job.writer.root
    old = read_json(root / job.state_file()).get("pages", {})
    for page in range(pages + 1, old_pages + 1):
        for fmt in channel.formats:
            path = root / archive_path(channel.name, page, fmt)
            job.writer.remove(path)
            job.writer.remove(path.with_name(path.name + ".gz"))
        if job.cache is not None and (gone := old.get(str(page))):
            job.cache.release(gone, channel.formats)
    plan = ArchivePlan(pages)
    if not pages:
        job.writer.remove(root / job.state_file())
        return plan
    plan.prints = {n: p for n, p in old.items() if n.isdigit() and int(n) <= pages}
    settings = _settings_material(job)
    for page in sorted(check):
        members = check[page]
        plan.prints[str(page)] = _fingerprint(job, page, pages, members, settings)
        present = all(
            (root / archive_path(channel.name, page, f)).exists() for f in channel.formats
        )
        if not present or old.get(str(page)) != plan.prints[str(page)]:
            plan.add(job, page, members, old.get(str(page)))
    return plan


def write_archives(
    job: ArchiveJob, plan: ArchivePlan, results: Iterable[tuple[dict[str, bytes], bool]]
) -> int:
    """Write the dirty pages: linked from the document cache, or their bytes
    (``results``, in ``plan.docs`` order); then the fingerprints. How many pages
    changed."""
    if not plan.pages:
        return 0
    written = 0
    complete: set[int] = set()
    results = iter(results)
    name, cache = job.channel.name, job.cache
    for page in plan.dirty:
        if (found := plan.cached.get(page)) is not None:
            complete.add(page)
            changed = [
                job.writer.link(archive_path(name, page, fmt), entry)
                for fmt, entry in found.items()
            ]
            written += any(changed)
            continue
        data, whole = next(results)
        fingerprint = plan.prints[str(page)]
        if whole:
            complete.add(page)
        changed = []
        for fmt, content in data.items():
            relative = archive_path(name, page, fmt)
            entry = cache.entry(fingerprint, fmt) if cache is not None and whole else None
            changed.append(job.writer.write(relative, content, cached=entry))
            if entry is not None and cache is not None and not changed[-1]:
                cache.adopt(fingerprint, fmt, job.writer.root / relative)
        written += any(changed)
    for page in set(plan.dirty) - complete:  # the store changed between reads: redo next time
        plan.prints.pop(str(page), None)
    job.writer.write(job.state_file(), json_bytes({"pages": plan.prints}), gz=False)
    return written


def _settings_material(job: ArchiveJob) -> tuple[dict[str, Any], dict[str, Any]]:
    """The site's and channel's settings as fingerprinted (worked out once per channel:
    dumping them for each of thousands of pages was most of an incremental build)."""
    channel = job.channel.model_dump(
        mode="json", exclude={"digest", "filters", "hubs", "max_age", "archive_max_age"}
    )
    return job.settings.site.model_dump(mode="json"), channel


def _fingerprint(
    job: ArchiveJob,
    page: int,
    pages: int,
    members: Sequence[ArticleKey],
    settings: tuple[dict[str, Any], dict[str, Any]],
) -> str:
    material = [
        renderer_version(),
        settings[0],
        settings[1],
        page,
        page < pages,
        [key.parts() for key in members],
        # The items' stored "More from" links (empty without related_in_content).
        [job.picks.parts(key.id) for key in members],
    ]
    encoded = json.dumps(material, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


_RENDERER: list[str] = []


def renderer_version() -> str:
    """A hash of the code that shapes the bytes, so a new renderer re-renders every page:
    syndicate's rendering modules, feedgen's version, and lxml's and libxml2's (their
    escaping and pretty-printing are in every item's bytes, :mod:`.itemxml`)."""
    if not _RENDERER:
        from lxml import etree

        shaping = [version("feedgen"), etree.LXML_VERSION, etree.LIBXML_VERSION]
        digest = hashlib.sha256(repr(shaping).encode())
        for module in (rendering, items, itemxml, jsonfeed, documents, fragments):
            digest.update(Path(str(module.__file__)).read_bytes())
        _RENDERER.append(digest.hexdigest())
    return _RENDERER[0]


def _prune(job: ArchiveJob, pages: int) -> None:
    """Remove archive pages beyond ``pages`` and files of formats no longer built."""
    name, root = job.channel.name, job.writer.root
    built = {FORMATS[f].extension for f in job.channel.formats}
    for ext in {f.extension for f in FORMATS.values()} - built:
        for suffix in ("", ".gz"):
            job.writer.remove(root / f"feeds/{name}.{ext}{suffix}")
    folder = root / "feeds" / name / "archive"
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.name.startswith("."):  # a temporary file of a concurrent writer
            continue
        stem, _, ext = path.name.removesuffix(".gz").partition(".")
        if not stem.isdigit() or not 1 <= int(stem) <= pages or ext not in built:
            job.writer.remove(path)
