"""Keeping article embeddings current: embed what is new or changed, store the vectors.

The model comes from the caller (``syndicate.related.semantic`` with the ``semantic``
extra): ingest sits below ``related`` in the layers, so it takes an
:class:`ArticleEmbedder` instead of importing one. Ingest calls :func:`refresh` with the
ids it has just saved; ``syndicate related reindex`` calls it for the whole store.
Only stale articles are embedded (no vector, another model's, or one made before the
article's last edit), in batches, each batch stored in its own transaction, so an
interrupted backfill resumes where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from syndicate.models import Article, utc_now
from syndicate.store import Store
from syndicate.store.embeddings import save_embeddings, stale_articles

log = logging.getLogger(__name__)

BATCH = 64  # articles embedded and stored per transaction


class ArticleEmbedder(Protocol):
    """A sentence-embedding model: its stored ``name`` and one unit row per article."""

    name: str

    def embed_articles(self, articles: Sequence[Article]) -> npt.NDArray[np.float32]:
        """Unit rows, float32, one per article in order."""
        ...


def refresh(
    store: Store,
    embedder: ArticleEmbedder,
    *,
    ids: Iterable[str] | None = None,
    redo: bool = False,
    batch: int = BATCH,
    clock: Callable[[], datetime] = utc_now,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Embed and store the stale articles among ``ids`` (every article when ``None``;
    every one, fresh or not, when ``redo``). Returns how many were embedded;
    ``on_progress`` hears each stored batch's size."""
    done = 0
    for articles in stale_articles(store, embedder.name, ids=ids, redo=redo, batch=batch):
        vectors = embedder.embed_articles(articles)
        save_embeddings(store, embedder.name, list(zip(articles, vectors, strict=True)), clock())
        done += len(articles)
        if on_progress is not None:
            on_progress(len(articles))
    if done:
        log.info("embedded %d article(s) with %s", done, embedder.name)
    return done
