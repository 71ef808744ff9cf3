"""Where a channel's documents live, what each one shows, and rendering them by format.

URLs are ``{site.base_url}/<path>`` where ``<path>`` is the file's path under the output
folder, so the self link of every document equals the URL it is served at (RSS-6).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from syndicate.config import ChannelConfig, Settings
from syndicate.feeds.jsonfeed import render_json
from syndicate.feeds.render import FORMATS, DocumentLinks, FeedDocument, RelatedLink, render_xml
from syndicate.models import Article

log = logging.getLogger(__name__)

Related = Mapping[str, Sequence[RelatedLink]]

STATE_DIR = ".syndicate"  # build state under the output folder; never served
MANIFEST = f"{STATE_DIR}/manifest.json"
WEBSUB_STATE = f"{STATE_DIR}/websub.json"


def feed_path(channel: str, fmt: str) -> str:
    """The subscription document's path under the output folder (and the site URL)."""
    return f"feeds/{channel}.{FORMATS[fmt].extension}"


def archive_path(channel: str, page: int, fmt: str) -> str:
    """Archive page ``page``'s path under the output folder (1 is the oldest page)."""
    return f"feeds/{channel}/archive/{page}.{FORMATS[fmt].extension}"


def site_url(settings: Settings, path: str) -> str:
    """The public URL of ``path`` (a path under the output folder)."""
    return f"{settings.site.base_url}/{path}"


def feed_id(settings: Settings, channel: str) -> str:
    """The feed's Atom id: a ``tag:`` URI, kept when the site moves (AT-3)."""
    return f"tag:{settings.site.tag_authority}:feed/{channel}"


def document(
    settings: Settings,
    channel: ChannelConfig,
    articles: Sequence[Article],
    *,
    page: int | None,
    pages: int,
    related: Related,
) -> FeedDocument:
    """The subscription document (``page=None``) or archive page ``page`` of ``pages``."""

    def archive(n: int, fmt: str) -> str | None:
        return site_url(settings, archive_path(channel.name, n, fmt)) if 1 <= n <= pages else None

    def links(fmt: str) -> DocumentLinks:
        current = site_url(settings, feed_path(channel.name, fmt))
        if page is None:
            return DocumentLinks(current, prev_archive=archive(pages, fmt))
        return DocumentLinks(
            site_url(settings, archive_path(channel.name, page, fmt)),
            current=current,
            prev_archive=archive(page - 1, fmt),
            next_archive=archive(page + 1, fmt),
        )

    return FeedDocument(
        feed_id=feed_id(settings, channel.name),
        title=channel.title,
        description=channel.description,
        home_url=channel.link or settings.site.base_url,
        language=channel.language or settings.site.language,
        publisher=settings.site.name,
        articles=articles,
        links={fmt: links(fmt) for fmt in channel.formats},
        hubs=channel.hubs if page is None else (),
        logo=channel.logo,
        icon=channel.icon,
        summary_only=channel.content == "summary",
        archive=page is not None,
        related=related,
    )


def render(doc: FeedDocument, formats: Sequence[str]) -> dict[str, bytes]:
    """``doc`` in each of ``formats`` (``rss``, ``atom``, ``json``), in that order."""
    xml = render_xml(doc, [f for f in formats if f != "json"])
    return {f: render_json(doc) if f == "json" else xml[f] for f in formats}


# --- related items: the hook -------------------------------------------------------------


def related_active(channel: ChannelConfig) -> bool:
    """True when the channel asks for "More from" lists (full-content channels only)."""
    return channel.related_in_content and channel.content == "full"
