"""Finding an article by what an operator types: its id, its URL, or its slug."""

from __future__ import annotations

from sqlalchemy import or_, select

from syndicate.models import Article
from syndicate.store.core import Store, _article
from syndicate.store.schema import articles


def find_articles(store: Store, ref: str) -> list[Article]:
    """Articles whose id or URL is ``ref``, else whose slug (the last part of the id's
    key or of the URL's path) is ``ref``; id order. Several when a slug is ambiguous."""
    ref = ref.strip()
    if not ref:
        return []
    c = articles.c
    variants = {ref, ref.rstrip("/"), ref.rstrip("/") + "/"}
    exact = select(articles).where(or_(c.id == ref, c.url.in_(variants))).order_by(c.id)
    with store.engine.connect() as conn:
        rows = conn.execute(exact).all()
        if not rows and "/" not in ref.strip("/"):
            slug = ref.strip("/")
            # The slug is the id's last segment ("…:newsroom/world/ice-shelf") or the URL's.
            like = or_(
                c.id.like(f"%/{_escape(slug)}", escape="\\"),
                c.id.like(f"%/{_escape(slug)}/", escape="\\"),
                c.url.like(f"%/{_escape(slug)}", escape="\\"),
                c.url.like(f"%/{_escape(slug)}/", escape="\\"),
                c.url.like(f"%/{_escape(slug)}.html", escape="\\"),
            )
            rows = conn.execute(select(articles).where(like).order_by(c.id)).all()
    return [_article(r) for r in rows]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
