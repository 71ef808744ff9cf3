"""Hand-made articles, settings and editions for the digest tests (fixed dates, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from syndicate.config import ChannelConfig, Settings
from syndicate.digest.compose import Edition
from syndicate.ingest.content import clean_entry
from syndicate.models import Article, Author, Entry, Image
from syndicate.store import Store

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BASE = "https://news.example"


def article(n: int, **kw: Any) -> Article:
    """Article ``n``: World section, tagged, with an image, published ``n`` hours after T0."""
    values: dict[str, Any] = {
        "id": f"tag:news.example,2026:desk/{n:03d}",
        "source": "desk",
        "url": f"{BASE}/stories/{n:03d}/",
        "title": f"Story number {n}",
        "dek": f"The dek of story {n}, one sentence long.",
        "body_html": f"<p>Body of story {n}.</p>",
        "authors": (Author("Ana Ruiz", "Ana Ruiz reports for the desk."),),
        "section": "World",
        "tags": ("diplomacy",),
        "image": Image(
            url=f"{BASE}/img/{n:03d}.jpg",
            alt=f"Photo for story {n}",
            credit="Desk Photo",
            width=1200,
            height=800,
        ),
        "published_at": T0 + timedelta(hours=n),
        "updated_at": T0 + timedelta(hours=n),
        "content_hash": f"h{n}",
    }
    values.update(kw)
    return Article(**values)


def settings(templates_dir: Path | None = None, **site: Any) -> Settings:
    """Settings of a small fictional publication."""
    values = {
        "name": "The Test Gazette",
        "base_url": BASE,
        "postal_address": "The Test Gazette, 1 Quay Street, Portsmouth PO1 1AA, UK",
        "language": "en",
        **site,
    }
    # Without a folder of its own, a folder that does not exist: the default "templates"
    # is relative to the working directory, where the example instance's copies live.
    overrides = templates_dir or Path(__file__).parent / "no-template-overrides"
    return Settings(site=values, templates_dir=overrides)


def channel(**digest: Any) -> ChannelConfig:
    """A channel carrying everything, with a daily 07:00 UTC digest by default."""
    return ChannelConfig(name="daily", title="The Daily Gazette", digest=digest)


def edition(
    stories: Sequence[Article],
    related: Sequence[Article] = (),
    *,
    slot: datetime = datetime(2026, 11, 25, 7, 0, tzinfo=UTC),
) -> Edition:
    """An edition of the ``daily`` channel, built by hand."""
    return Edition(
        channel="daily",
        slot=slot,
        articles=tuple(stories),
        related=tuple(related),
        subject=f"{stories[0].title} — 25 November 2026",
        preheader="A preheader of forty characters or more, for the inbox.",
    )


def store_articles(store: Store, count: int, start: int = 0, **kw: Any) -> list[str]:
    """Save ``count`` articles (numbers start..start+count-1) through the real cleaner."""
    entries = []
    for n in range(start, start + count):
        entries.append(
            clean_entry(
                Entry(
                    key=f"k{n:03d}",
                    url=f"{BASE}/stories/{n:03d}/",
                    title=kw.get("title", f"Story number {n}"),
                    body_html=f"<p>Body of story {n} about {kw.get('topic', 'harbours')}.</p>",
                    published_at=T0 + timedelta(hours=n),
                    dek=f"The dek of story {n}.",
                    section=kw.get("section", "World"),
                    tags=tuple(kw.get("tags", ("diplomacy",))),
                    authors=(Author("Ana Ruiz"),),
                ),
                source="desk",
                authority="news.example,2026",
                site_url=BASE,
            )
        )
    store.save_entries(entries, now=T0)
    return [e.id for e in entries]
