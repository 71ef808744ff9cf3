"""Stage 2, feeds: a channel and its articles in, RSS 2.0 / Atom / JSON Feed files out.

Takes the store's articles and the channel definitions; gives the published files under
``output.dir`` (subscription documents, RFC 5005 archive pages, gzip copies, the
manifest ``syndicate serve`` reads) and WebSub pings. The only package that imports
feedgen.

* :mod:`.builder` — :func:`build`: every channel, changed files only, then the hubs;
* :mod:`.render` — a :class:`FeedDocument` to RSS and Atom bytes (feedgen);
* :mod:`.jsonfeed` — the same document as JSON Feed 1.1;
* :mod:`.items` — what every format says of an item: text, summary, content, dates;
* :mod:`.fragments` — each item rendered once per format, kept, spliced into documents;
* :mod:`.documents` — which articles make which document, paths and ids;
* :mod:`.archives` — RFC 5005 archive pages, immutable once full;
* :mod:`.picks` — items' "More from" picks, chosen once from older articles and stored;
* :mod:`.websub` — hub pings, retried on the next build;
* :mod:`.writer` — atomic writes with gzip copies, only when the bytes change.
"""

from typing import TYPE_CHECKING

from syndicate.plugins import lazy_exports

if TYPE_CHECKING:
    from syndicate.feeds.builder import BuildReport, ChannelReport, build
    from syndicate.feeds.documents import MANIFEST, archive_path, feed_path, site_url
    from syndicate.feeds.jsonfeed import render_json
    from syndicate.feeds.render import FORMATS, DocumentLinks, FeedDocument, RelatedLink, render_xml
    from syndicate.feeds.websub import Ping, PingReport, publish
    from syndicate.feeds.writer import Writer

# Each name is imported on first use (see syndicate.plugins.lazy_exports).
__getattr__ = lazy_exports(
    __name__,
    {
        "BuildReport": "builder",
        "ChannelReport": "builder",
        "DocumentLinks": "render",
        "FORMATS": "render",
        "FeedDocument": "render",
        "MANIFEST": "documents",
        "Ping": "websub",
        "PingReport": "websub",
        "RelatedLink": "render",
        "Writer": "writer",
        "archive_path": "documents",
        "build": "builder",
        "feed_path": "documents",
        "publish": "websub",
        "render_json": "jsonfeed",
        "render_xml": "render",
        "site_url": "documents",
    },
)

__all__ = [
    "FORMATS",
    "MANIFEST",
    "BuildReport",
    "ChannelReport",
    "DocumentLinks",
    "FeedDocument",
    "Ping",
    "PingReport",
    "RelatedLink",
    "Writer",
    "archive_path",
    "build",
    "feed_path",
    "publish",
    "render_json",
    "render_xml",
    "site_url",
]
