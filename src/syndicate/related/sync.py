"""Keeping ``related_terms`` in step with ``articles``: the term vectors computed once.

:func:`sync_terms` computes the rows of articles that have none, whose row is out of date
(content, publication time, section, source… changed) or of an older term format, and
drops the rows of articles that are gone. It runs after every ingest, at
``syndicate db upgrade`` (a backfill, with a progress bar on a terminal) and, lazily,
whenever an index is loaded or refreshed, so a missed run costs time once, never a
wrong pick.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

from syndicate.models import Article, utc_now
from syndicate.related.terms import TERMS_VERSION, article_terms
from syndicate.store import Store
from syndicate.store.related_terms import (
    TermsRow,
    delete_orphan_terms,
    stale_article_ids,
    terms_count,
    write_terms,
)

Progress = Callable[[int, int], None]  # (done, total)


def terms_row(article: Article, now: datetime) -> TermsRow:
    """The stored row of ``article``, written at ``now``."""
    terms = article_terms(article)
    return TermsRow(
        id=article.id,
        source=article.source,
        section=article.section,
        tags=tuple(article.tags),
        authors=tuple(a.name for a in article.authors),
        published_at=article.published_at,
        story=article.story,
        related_exclude=article.related_exclude,
        content_hash=article.content_hash,
        version=TERMS_VERSION,
        length=terms.length,
        term_ids=terms.ids.astype("<u4").tobytes(),
        term_counts=terms.counts.astype("<f4").tobytes(),
        indexed_at=now,
    )


def sync_terms(
    store: Store,
    *,
    batch: int = 500,
    on_progress: Progress | None = None,
    clock: Callable[[], datetime] = utc_now,
    among: Collection[str] | None = None,
) -> int:
    """Bring ``related_terms`` up to date; returns how many rows were (re)computed.

    ``among``: only these articles can be stale (those the store's change log says
    changed since the last sync): they alone are checked, and only their rows may be
    orphans (a deleted article is in the log too). Each batch commits on its own,
    so an interrupted backfill resumes where it stopped.
    """
    stale = stale_article_ids(store, TERMS_VERSION, among=among)
    if on_progress is not None:
        on_progress(0, len(stale))
    for start in range(0, len(stale), batch):
        chunk = stale[start : start + batch]
        now = clock()
        write_terms(store, [terms_row(a, now) for a in store.get_articles(chunk)])
        if on_progress is not None:
            on_progress(min(start + batch, len(stale)), len(stale))
    if among is not None:  # an article gone since is one of them
        delete_orphan_terms(store, among)
    elif terms_count(store) != store.count_articles():
        delete_orphan_terms(store)
    return len(stale)
