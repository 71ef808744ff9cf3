"""Stage 1, ingest: configured sources in, cleaned articles in the store out.

Takes ``[[sources]]`` (a content folder, upstream feeds, article pages or sitemaps) and
the store's per-source state (ETag, Last-Modified, next poll); gives new and changed
articles with stable ids and content hashes, and a report per source. A broken source
is a warning on its report, never a stopped run.

* :mod:`.run` — :func:`ingest`: poll each due source, clean, save, record its state;
* :mod:`.content` — cleaning (sanitised HTML, plain text, images, authors) and ids;
* :mod:`.stories` — story clusters: one story from several sources, found by
  :mod:`.canonical` link keys and :mod:`.signature` word sets;
* :mod:`.sources` — one module per kind (folder, feed, page), the guarded HTTP fetcher
  and the registry that finds a kind by name.
"""

from typing import TYPE_CHECKING

from syndicate.plugins import lazy_exports

if TYPE_CHECKING:
    from syndicate.ingest.content import article_id, clean_entry, content_hash, strip_controls
    from syndicate.ingest.run import SourceReport, ingest, ingest_source

# Each name is imported on first use (see syndicate.plugins.lazy_exports).
__getattr__ = lazy_exports(
    __name__,
    {
        "SourceReport": "run",
        "article_id": "content",
        "clean_entry": "content",
        "content_hash": "content",
        "ingest": "run",
        "ingest_source": "run",
        "strip_controls": "content",
    },
)

__all__ = [
    "SourceReport",
    "article_id",
    "clean_entry",
    "content_hash",
    "ingest",
    "ingest_source",
    "strip_controls",
]
