"""Front matter ``related`` (pinned picks) and ``related_exclude`` (never a pick), end to
end: folder files → ingest → store → compose's "More from" block."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicate.config import Settings, SourceConfig
from syndicate.digest import DigestTemplates
from syndicate.digest.compose import compose_edition
from syndicate.ingest.content import clean_entry, content_hash
from syndicate.ingest.run import ingest
from syndicate.ingest.sources.base import SourceContext
from syndicate.ingest.sources.folder import FolderSource
from syndicate.models import Entry, SourceState
from syndicate.store import Store
from tests.digest.factory import channel, settings

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
SLOT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
DESK = "tag:news.example,2026:desk/"


def page(slug: str, title: str, body: str, days: float, extra: str = "") -> str:
    published = (NOW - timedelta(days=days)).isoformat()
    return f"---\ntitle: {title}\nslug: {slug}\npublished: {published}\n{extra}---\n\n{body}\n"


def instance(
    base: Path, story_matter: str, archive_matter: dict[str, str] | None = None
) -> Settings:
    content = base / "content"
    content.mkdir(exist_ok=True)
    extra = archive_matter or {}
    (content / "lead.md").write_text(
        page(
            "lead",
            "Harbour strike talks resume",
            "Harbour strike dockers pay talks.",
            0.1,
            story_matter,
        )
    )
    # The archive: three articles about the harbour (relevant), two about gardening.
    topics = {
        "harbour-1": "Harbour strike dockers pay vote",
        "harbour-2": "Harbour dockers strike pay offer",
        "harbour-3": "Harbour strike dockers union pay",
        "garden-1": "Roses pruning garden winter",
        "garden-2": "Tomatoes greenhouse garden seeds",
    }
    for n, (slug, text) in enumerate(topics.items()):
        (content / f"{slug}.md").write_text(page(slug, text, text, 10 + n, extra.get(slug, "")))
    sources = (SourceConfig(name="desk", kind="folder", path="content"),)
    config = settings(tag_authority="news.example,2026")
    return config.model_copy(update={"sources": sources, "base_dir": base})


def picks(store: Store, config: Settings, k: int = 3) -> list[str]:
    edition = compose_edition(
        store, config, channel(related_k=k, first_lookback_hours=12), SLOT, DigestTemplates(config)
    )
    assert edition is not None and [a.id for a in edition.articles] == [DESK + "lead"]
    # The first k are what a reader with no memory hit sees (the rest are spares).
    return [a.id.removeprefix(DESK) for a in edition.related[:k]]


def test_without_pins_the_most_relevant_come_first(store: Store, tmp_path: Path) -> None:
    config = instance(tmp_path, "")
    ingest(store, config, clock=lambda: NOW)
    assert set(picks(store, config)) == {"harbour-1", "harbour-2", "harbour-3"}


def test_pins_come_first_in_their_order(store: Store, tmp_path: Path) -> None:
    matter = f"related: [garden-2, '{DESK}garden-1', no-such-article]\n"
    config = instance(tmp_path, matter)
    (report,) = ingest(store, config, clock=lambda: NOW)
    # The unknown pin is kept, reported with the file's name, and ignored when picking.
    assert report.warnings == [
        f"lead.md: related: '{DESK}no-such-article' is no known article; "
        "kept, and ignored until it exists"
    ]
    lead = store.get_article(DESK + "lead")
    assert lead is not None
    assert lead.related_pins == (DESK + "garden-2", DESK + "garden-1", DESK + "no-such-article")
    chosen = picks(store, config)
    assert chosen[:2] == ["garden-2", "garden-1"] and chosen[2].startswith("harbour-")


def test_a_banned_article_never_appears(store: Store, tmp_path: Path) -> None:
    config = instance(tmp_path, "", {"harbour-1": "related_exclude: true\n"})
    ingest(store, config, clock=lambda: NOW)
    banned = store.get_article(DESK + "harbour-1")
    assert banned is not None and banned.related_exclude
    for k in (1, 3, 6):
        assert "harbour-1" not in picks(store, config, k)
    # Not even when pinned: a ban wins over a pin.
    pinned = instance(tmp_path, "related: [harbour-1]\n", {"harbour-1": "related_exclude: true\n"})
    ingest(store, pinned, clock=lambda: NOW + timedelta(minutes=1))
    assert "harbour-1" not in picks(store, pinned)


def test_an_edited_pin_list_reaches_the_store(store: Store, tmp_path: Path) -> None:
    config = instance(tmp_path, "related: [garden-1]\n")
    ingest(store, config, clock=lambda: NOW)
    lead = tmp_path / "content" / "lead.md"
    lead.write_text(lead.read_text().replace("related: [garden-1]", "related: [garden-2]"))
    (report,) = ingest(store, config, clock=lambda: NOW + timedelta(minutes=5))
    assert report.updated == 1
    assert picks(store, config)[0] == "garden-2"


@pytest.mark.parametrize(
    ("matter", "key"),
    [
        ("related: garden-1\n", "related"),
        ("related: [{a: 1}]\n", "related.0"),
        ("related: [true]\n", "related.0"),
        ("related_exclude: maybe\n", "related_exclude"),
        ("related_exclude: [yes]\n", "related_exclude"),
    ],
)
def test_bad_types_name_the_file_and_the_key(tmp_path: Path, matter: str, key: str) -> None:
    content = tmp_path / "content"
    content.mkdir()
    (content / "bad.md").write_text(page("bad", "A title", "Body.", 1, matter))
    config = SourceConfig(name="desk", kind="folder", path="content")
    base = Settings()
    result = FolderSource(config, SourceContext(base.site, base.fetch, tmp_path)).read(
        SourceState(name="desk")
    )
    (warning,) = result.warnings
    assert "bad.md:" in warning and f"front matter key '{key}" in warning
    assert result.entries == []


def test_pins_and_bans_are_part_of_the_content_hash() -> None:
    def clean(**kw: object) -> str:
        entry = Entry(key="a", url="/a", title="T", body_html="<p>B</p>", published_at=NOW, **kw)  # type: ignore[arg-type]
        return clean_entry(
            entry, source="desk", authority="x.example,2026", site_url="https://x.example"
        ).content_hash

    plain = clean()
    assert clean(related_pins=("tag:x",)) != plain
    assert clean(related_pins=("tag:y",)) != clean(related_pins=("tag:x",))
    assert clean(related_exclude=True) != plain
    # Unset, they leave the hash as it was before they existed (no mass "update").
    draft = clean_entry(
        Entry(key="a", url="/a", title="T", body_html="<p>B</p>", published_at=NOW),
        source="desk",
        authority="x.example,2026",
        site_url="https://x.example",
    )
    assert content_hash(draft) == plain
    legacy = {
        "title": "T",
        "dek": "",
        "body_html": "<p>B</p>",
        "authors": [],
        "section": "",
        "tags": [],
        "image": None,
        "featured": False,
    }
    encoded = json.dumps(legacy, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert plain == hashlib.sha256(encoded.encode()).hexdigest()
