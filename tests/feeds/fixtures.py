"""Hand-made inputs for the feed tests: articles with fixed dates, small instances.

Independent of the example content in ``content/`` on purpose: the golden files pin
the renderer's bytes, not the example's prose.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from syndicate.config import Settings, load_settings
from syndicate.feeds.render import FORMATS, DocumentLinks, FeedDocument
from syndicate.ingest.content import clean_entry
from syndicate.models import Article, Author, Entry, Image
from syndicate.store import Store

BASE = "https://news.example"
AUTHORITY = "news.example,2026"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def article(n: int, **changes: Any) -> Article:
    """Article ``n``: published ``n`` hours after T0, with every field filled in."""
    published = T0 + timedelta(hours=n)
    base = Article(
        id=f"tag:{AUTHORITY}:desk/story-{n}",
        source="desk",
        url=f"{BASE}/stories/{n}/",
        title=f"Story {n}: harbour talks resume",
        dek=f"Dek of story {n}, with an ampersand & a <tag> in plain text.",
        body_html=(
            f'<p>Body of story {n}. <a href="{BASE}/related/{n}">Related</a>.</p>'
            "<p>Second paragraph with <em>emphasis</em> and “quotes”.</p>"
        ),
        authors=(Author("Ana Ruiz", url=f"{BASE}/authors/ana-ruiz"), Author("Li Wei")),
        section="World",
        tags=("diplomacy", "shipping"),
        image=Image(
            f"{BASE}/img/{n}.jpg",
            alt=f"Harbour cranes at dusk ({n})",
            credit="Photo: Desk",
            width=1200,
            height=800,
        ),
        published_at=published,
        updated_at=published + timedelta(minutes=30),
        content_hash=f"hash-{n}",
    )
    return dataclasses.replace(base, **changes)


def golden_articles() -> list[Article]:
    """The small fixed channel of the golden tests, newest first."""
    return [
        article(3, image=None, authors=(), tags=()),
        article(2, dek="", title="Story 2: “Quotes” & ampersands"),
        article(1),
    ]


def document(articles: Sequence[Article], **changes: Any) -> FeedDocument:
    """A subscription document of the ``golden`` channel on BASE."""
    links = {
        fmt: DocumentLinks(f"{BASE}/feeds/golden.{spec.extension}") for fmt, spec in FORMATS.items()
    }
    base = FeedDocument(
        feed_id=f"tag:{AUTHORITY}:feed/golden",
        title="Golden Desk",
        description="A small fixed channel for golden files.",
        home_url=BASE,
        language="en",
        publisher="The Example News",
        articles=articles,
        links=links,
    )
    return dataclasses.replace(base, **changes)


def make_instance(
    root: Path,
    channels: dict[str, str],
    *,
    base_url: str = BASE,
    store_url: str | None = None,
) -> Settings:
    """A minimal instance in ``root``: syndicate.toml plus one TOML per channel."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "feeds").mkdir(exist_ok=True)
    store = store_url or f"sqlite:///{root / 'store.db'}"
    (root / "syndicate.toml").write_text(
        f'[site]\nname = "The Example News"\nbase_url = "{base_url}"\n'
        f'tag_authority = "{AUTHORITY}"\n\n[store]\nurl = "{store}"\n\n'
        '[output]\ndir = "public"\n',
        encoding="utf-8",
    )
    for name, body in channels.items():
        (root / "feeds" / f"{name}.toml").write_text(body, encoding="utf-8")
    return load_settings(root / "syndicate.toml")


def entries(numbers: Iterable[int], *, base_url: str = BASE, **changes: Any) -> list[Any]:
    """Cleaned entries for articles ``numbers`` (the ingest path), ready to save."""
    out = []
    for n in numbers:
        a = article(n, **changes)
        entry = Entry(
            key=f"story-{n}",
            url=a.url.replace(BASE, base_url),
            title=a.title,
            body_html=a.body_html,
            published_at=a.published_at,
            dek=a.dek,
            authors=a.authors,
            section=a.section,
            tags=a.tags,
            image=a.image,
            updated_at=a.updated_at,
        )
        out.append(clean_entry(entry, source="desk", authority=AUTHORITY, site_url=base_url))
    return out


def save(store: Store, numbers: Iterable[int], **changes: Any) -> None:
    """Store articles ``numbers`` as ingest would."""
    store.save_entries(entries(numbers, **changes), now=T0 + timedelta(days=30))
