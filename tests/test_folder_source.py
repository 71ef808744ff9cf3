"""The folder source: the example content, messy cases, bad front matter, edits."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syndicate.config import Settings, SourceConfig, load_settings
from syndicate.ingest.run import ingest
from syndicate.ingest.sources.base import SourceContext
from syndicate.ingest.sources.folder import FolderSource
from syndicate.models import SourceState
from syndicate.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def folder_source(base: Path, path: str = "content") -> FolderSource:
    settings = Settings()
    config = SourceConfig(name="newsroom", kind="folder", path=path)  # type: ignore[call-arg]
    return FolderSource(config, SourceContext(settings.site, settings.fetch, base))


def test_example_content_is_rich_enough(
    store: Store, instance_settings: Settings, tmp_path: Path
) -> None:
    (report,) = ingest(store, instance_settings, clock=clock)
    assert report.error is None and report.warnings == []
    articles = store.list_articles()
    assert len(articles) >= 24
    assert len({a.section for a in articles}) >= 4
    for article in articles:
        assert article.id.startswith("tag:meridian.example,2026:newsroom/")
        assert article.url.startswith("https://meridian.example/")
        assert article.title and article.dek and article.body_html.count("<p>") >= 3
        assert article.image is not None and article.image.alt and article.image.credit
        assert article.authors and all(a.bio for a in article.authors)
    titles = " ".join(a.title for a in articles)
    assert "…" in titles and "’" in titles


def test_messy_cases_are_cleaned(store: Store, instance_settings: Settings, tmp_path: Path) -> None:
    ingest(store, instance_settings, clock=clock)
    by_key = {a.id.rsplit("/", 1)[1]: a for a in store.list_articles()}
    # The author whose name is empty keeps her bio, and the byline gets the name from it.
    translated = by_key["mr-0016"]
    assert translated.authors[0].name == "Ana Ruiz"
    assert translated.authors[0].bio.startswith("Ana Ruiz is")
    # The caption that repeated the credit twice is collapsed away.
    launch = by_key["mr-0021"]
    assert launch.image is not None
    assert launch.image.credit == "ILYA VOROBYOV/Meridian Archive"
    assert launch.image.caption == ""
    assert launch.title == "Moscow Eyes a Launch Pad… in the Caribbean?"
    # Relative links and images in the body are absolute.
    assert 'href="https://meridian.example/world/arctic-shipping-lane-standoff"' in launch.body_html
    # The HTML article with active content is sanitised.
    licensing = by_key["mr-0006"]
    for bad in ("<script", "onerror", "javascript:", "alert(1)"):
        assert bad not in licensing.body_html
    # An article without an id falls back to its slug.
    assert "central-banks-quiet-pivot" in by_key


def test_bad_front_matter_is_reported_and_the_rest_ingested(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "folder_bad", tmp_path / "content")
    result = folder_source(tmp_path).read(SourceState(name="newsroom"))
    assert result.error is None
    assert len(result.entries) == 1
    (warning,) = result.warnings
    # Line 3 opens a quote that line 4 closes; YAML then trips over the rest of line 4.
    assert "bad-front-matter.md:4:" in warning
    assert "bad front matter" in warning


def test_front_matter_of_the_wrong_shape_names_the_key(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text("---\ntitle: Ok\npublished: not a date\n---\nBody\n")
    (content / "b.md").write_text("no front matter at all\n")
    (content / "c.md").write_text("---\ndek: no title\n---\nBody\n")
    result = folder_source(tmp_path).read(SourceState(name="newsroom"))
    assert result.entries == []
    text = "\n".join(result.warnings)
    assert "a.md:3: front matter key 'published'" in text
    assert "b.md:1: no front matter" in text
    assert "c.md:1: front matter key 'title': Field required" in text


def test_missing_folder_is_a_source_error(tmp_path: Path) -> None:
    result = folder_source(tmp_path, "nowhere").read(SourceState(name="newsroom"))
    assert result.error is not None
    assert "does not exist" in str(result.error)


def test_edit_updates_in_place_and_rerun_is_unchanged(
    store: Store, instance: Path, tmp_path: Path
) -> None:
    settings = load_settings(instance / "syndicate.toml")
    (first,) = ingest(store, settings, clock=clock)
    (second,) = ingest(store, settings, clock=clock)
    assert (second.new, second.updated, second.unchanged) == (0, 0, first.new)

    path = instance / "content" / "world" / "baltic-seabed-cables.md"
    path.write_text(path.read_text().replace("</p>", "</p>") + "\nA correction.\n")
    later = NOW + timedelta(hours=3)
    (third,) = ingest(store, settings, clock=lambda: later)
    assert (third.new, third.updated) == (0, 1)
    edited = store.get_article("tag:meridian.example,2026:newsroom/mr-0025")
    assert edited is not None
    assert edited.updated_at == later
    assert "A correction." in edited.body_html
    assert store.count_articles() == first.new


def test_unchanged_files_are_not_parsed_again_unless_settings_change(
    store: Store, instance: Path, tmp_path: Path
) -> None:
    settings = load_settings(instance / "syndicate.toml")
    ingest(store, settings, clock=clock)
    # Corrupt a file's front matter without changing its size or mtime: the cache skips it.
    path = instance / "content" / "culture" / "cumbia-revival.md"
    stat = path.stat()
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title:", "titl_:", 1), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (cached,) = ingest(store, settings, clock=clock)
    assert cached.warnings == [] and cached.unchanged == 26
    # A setting that does not shape articles keeps the cache.
    renamed = load_settings(instance / "syndicate.toml", {"site": {"name": "Other"}})
    (still_cached,) = ingest(store, renamed, clock=clock)
    assert still_cached.warnings == []
    # One that does (the base URL) invalidates it: every file is read again.
    moved = load_settings(
        instance / "syndicate.toml", {"site": {"base_url": "https://www.meridian.example"}}
    )
    (refetched,) = ingest(store, moved, clock=clock)
    assert any("cumbia-revival.md" in w and "'title'" in w for w in refetched.warnings)
    assert refetched.updated == 25  # every URL moved to the new host; ids kept
    assert store.count_articles() == 26
    # --full (full=True) reads every file whatever the cache says.
    (full,) = ingest(store, settings, clock=clock, full=True)
    assert any("cumbia-revival.md" in w for w in full.warnings)
