"""``/``: a plain, accessible HTML page listing the channels with subscribe links.

The head carries one ``<link rel="alternate">`` per channel and format, so a reader
given the site's address finds the feeds (feed autodiscovery). The page leads to the
email sign-up (``/subscribe``) and the archive (``/archive/``), and each channel with a
digest to its own form and past editions. Links are relative, so the page works under
whatever host serves it. Every value is HTML-escaped.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from html import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from syndicate.config import load_channels
from syndicate.web.context import WebContext
from syndicate.web.published import ChannelInfo, Manifest

FORMAT_LABELS = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}
NAV = (
    '<nav aria-label="Site"><p><a href="/subscribe">Subscribe by email</a> · '
    '<a href="/archive/">Past editions</a></p></nav>'
)


def routes(context: WebContext) -> list[BaseRoute]:
    """The index route."""
    lock = threading.Lock()
    emailed: list[frozenset[str]] = []

    def with_digest() -> frozenset[str]:
        # The channels' settings are read once, like the settings (a change needs a restart).
        with lock:
            if not emailed:
                channels = load_channels(context.settings)
                emailed.append(frozenset(c.name for c in channels if c.digest.enabled))
            return emailed[0]

    async def index(request: Request) -> Response:
        manifest = context.files.manifest()
        digests = await run_in_threadpool(with_digest)
        return HTMLResponse(
            render_index(manifest, context.settings.site.name, digests),
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    return [Route("/", index, methods=["GET"])]


def render_index(
    manifest: Manifest | None, fallback_name: str, emailed: Collection[str] = ()
) -> str:
    """The index page for ``manifest`` (a "nothing built yet" page when None);
    ``emailed`` names the channels that have an email digest."""
    name = manifest.site_name if manifest else fallback_name
    language = manifest.language if manifest else "en"
    channels = list(manifest.channels.values()) if manifest else []
    alternates = "".join(
        f'\n<link rel="alternate" type="{escape(fmt.media_type)}" '
        f'title="{escape(f"{c.title} ({FORMAT_LABELS.get(fmt.format, fmt.format)})")}" '
        f'href="/feeds/{escape(c.name)}.{escape(ext)}">'
        for c in channels
        for ext, fmt in c.formats.items()
    )
    if channels:
        body = (
            "<p>Copy a link into your feed reader to follow a channel.</p>\n<ul>\n"
            + "".join(_channel_item(c, c.name in emailed) for c in channels)
            + "</ul>"
        )
    else:
        body = "<p>No feeds have been built yet.</p>"
    return (
        f'<!doctype html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(name)}: feeds</title>{alternates}\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(name)}: feeds</h1>\n{NAV}\n{body}\n</main>\n</body>\n</html>\n"
    )


def _channel_item(channel: ChannelInfo, emailed: bool) -> str:
    title = escape(channel.title)
    links = " · ".join(
        f'<a href="/feeds/{escape(channel.name)}.{escape(ext)}" type="{escape(fmt.media_type)}" '
        f'aria-label="{escape(FORMAT_LABELS.get(fmt.format, fmt.format))} feed: {title}">'
        f"{escape(FORMAT_LABELS.get(fmt.format, fmt.format))}</a>"
        for ext, fmt in channel.formats.items()
    )
    description = f"\n<p>{escape(channel.description)}</p>" if channel.description else ""
    by_email = ""
    if emailed:
        slug = escape(channel.name)
        by_email = (
            f'\n<p>By email: <a href="/subscribe/{slug}" aria-label="Get {title} by email">'
            f'get the digest</a> · <a href="/archive/{slug}/" '
            f'aria-label="Past editions of {title}">past editions</a></p>'
        )
    return f"<li>\n<h2>{title}</h2>{description}\n<p>Subscribe: {links}</p>{by_email}\n</li>\n"
