"""Task-shaped queries over article embeddings (``article_embeddings``).

A vector is *fresh* when its row names the current model and the article's current
``content_hash``; anything else (no row, another model, an edited article) is *stale*.
Vectors are float32 bytes, little-endian, so SQLite and PostgreSQL store the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.exc import SQLAlchemyError

from syndicate.errors import StoreError
from syndicate.models import Article
from syndicate.store.core import Store, _article
from syndicate.store.embedding_schema import article_embeddings
from syndicate.store.schema import articles

Vector = npt.NDArray[np.float32]
_CHUNK = 500  # ids per IN (...) query
_FLOAT = np.dtype("<f4")


def _stale_condition(model: str) -> Any:
    e = article_embeddings.c
    return or_(e.article_id.is_(None), e.model != model, e.content_hash != articles.c.content_hash)


def _joined() -> Any:
    return articles.outerjoin(article_embeddings, article_embeddings.c.article_id == articles.c.id)


def save_embeddings(
    store: Store, model: str, items: Sequence[tuple[Article, Vector]], now: datetime
) -> int:
    """Store one vector per article (replacing any older one), in one transaction.

    Each row keeps the article's ``content_hash`` as given, so an article edited while
    it was being embedded is stale again at once. Returns how many were stored.
    """
    rows = []
    for article, vector in items:
        values = np.asarray(vector, dtype=_FLOAT)
        if values.ndim != 1:
            raise ValueError(f"{article.id}: an embedding is one row, not {values.shape}")
        rows.append(
            {
                "article_id": article.id,
                "model": model,
                "dims": int(values.shape[0]),
                "vector": values.tobytes(),
                "content_hash": article.content_hash,
                "embedded_at": now,
            }
        )
    if not rows:
        return 0
    ids = [r["article_id"] for r in rows]
    try:
        with store.engine.begin() as conn:
            # Delete and insert rather than an upsert: one statement set on both backends.
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                conn.execute(
                    delete(article_embeddings).where(article_embeddings.c.article_id.in_(chunk))
                )
            conn.execute(insert(article_embeddings), rows)
    except SQLAlchemyError as err:
        raise StoreError(f"saving embeddings failed: {err}") from err
    return len(rows)


def load_embeddings(
    store: Store, model: str, ids: Iterable[str] | None = None
) -> dict[str, Vector]:
    """The fresh vectors of ``model``, by article id: of ``ids``, or of every article."""
    e = article_embeddings.c
    query = (
        select(e.article_id, e.dims, e.vector)
        .select_from(article_embeddings.join(articles, articles.c.id == e.article_id))
        .where(e.model == model, e.content_hash == articles.c.content_hash)
    )
    out: dict[str, Vector] = {}
    chunks: Iterable[list[str] | None]
    chunks = [None] if ids is None else _chunks(sorted(set(ids)), _CHUNK)
    with store.engine.connect() as conn:
        for chunk in chunks:
            page = query if chunk is None else query.where(e.article_id.in_(chunk))
            for row in conn.execute(page):
                out[row.article_id] = _vector(row.vector, row.dims)
    return out


def stale_articles(
    store: Store,
    model: str,
    *,
    ids: Iterable[str] | None = None,
    redo: bool = False,
    batch: int = 256,
) -> Iterator[list[Article]]:
    """Articles without a fresh ``model`` vector, in id order, ``batch`` at a time:
    among ``ids`` when given, else the whole store; every article when ``redo``.

    Reads by keyset (id order), so memory stays flat and a batch stored between two
    reads never comes back.
    """
    base = select(articles).select_from(_joined()).order_by(articles.c.id)
    if not redo:
        base = base.where(_stale_condition(model))
    if ids is not None:
        for chunk in _chunks(sorted(set(ids)), _CHUNK):
            found = [_article(r) for r in _rows(store, base.where(articles.c.id.in_(chunk)))]
            for start in range(0, len(found), batch):
                yield found[start : start + batch]
        return
    last: str | None = None
    while True:
        page = base if last is None else base.where(articles.c.id > last)
        rows = _rows(store, page.limit(batch))
        if not rows:
            return
        yield [_article(r) for r in rows]
        last = rows[-1].id


def count_stale(store: Store, model: str, *, redo: bool = False) -> int:
    """How many articles :func:`stale_articles` would give for the whole store."""
    query = select(func.count()).select_from(_joined())
    if not redo:
        query = query.where(_stale_condition(model))
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def embedding_counts(store: Store, model: str) -> Mapping[str, int]:
    """``fresh``, ``stale`` and ``missing`` vector counts for ``model``."""
    e = article_embeddings.c
    fresh_rule = and_(e.model == model, e.content_hash == articles.c.content_hash)
    with store.engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(articles)).scalar_one())
        rows = int(
            conn.execute(
                select(func.count()).select_from(
                    article_embeddings.join(articles, articles.c.id == e.article_id)
                )
            ).scalar_one()
        )
        fresh = int(
            conn.execute(
                select(func.count())
                .select_from(article_embeddings.join(articles, articles.c.id == e.article_id))
                .where(fresh_rule)
            ).scalar_one()
        )
    return {"fresh": fresh, "stale": rows - fresh, "missing": total - rows}


def _rows(store: Store, query: Any) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(query).all())


def _vector(data: bytes, dims: int) -> Vector:
    values = np.frombuffer(data, dtype=_FLOAT)
    if values.shape[0] != dims:
        raise StoreError(f"an embedding of {values.shape[0]} values claims {dims}")
    return values.astype(np.float32)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
