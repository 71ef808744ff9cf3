"""What the program tells a new operator and a reader, word for word: no "the The", no
"1 new deliveries", no page title that says the site's name twice, and a generated key
that says what it is for."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from syndicate.cli.app import plural
from syndicate.config import load_settings
from syndicate.delivery.compose import signing_key
from syndicate.store.archive import EditionPage
from syndicate.web import create_app
from syndicate.web.archive_pages import ArchiveSite, ChannelArchive, render_channel_archive
from tests.subscribehelpers import SECRET, make_instance

TITLE = re.compile(r"<title>(.*?)</title>")


@pytest.mark.parametrize(
    ("count", "singular", "expected"),
    [
        (0, "new delivery", "0 new deliveries"),
        (1, "new delivery", "1 new delivery"),
        (2, "new delivery", "2 new deliveries"),
        (1, "story", "1 story"),
        (10, "story", "10 stories"),
        (1, "article", "1 article"),
        (3, "article", "3 articles"),
        (2, "day", "2 days"),  # a vowel before the y: no "-ies"
    ],
)
def test_counts_take_the_right_noun(count: int, singular: str, expected: str) -> None:
    assert plural(count, singular) == expected


def test_a_channel_archive_named_the_something_reads_once(tmp_path: Path) -> None:
    archive = ChannelArchive(
        channel="all",
        cadence="edition",
        title="The Meridian Review",
        timezone="UTC",
        subscribe_path="/subscribe/all",
        page=EditionPage(editions=(), older=None, newer=None),
        dates=[],
        roundups=[],
    )
    html = render_channel_archive(ArchiveSite("The Meridian Review", "en"), archive)
    assert "the The" not in html
    assert "Past editions of The Meridian Review, newest first" in html
    assert TITLE.findall(html) == ["The Meridian Review: past editions"]
    other = render_channel_archive(
        ArchiveSite("The Meridian Review", "en"),
        ChannelArchive(**{**_fields(archive), "title": "Science Weekly"}),
    )
    assert "Past editions of the Science Weekly digest" in other
    assert TITLE.findall(other) == ["Science Weekly: past editions — The Meridian Review"]


def _fields(archive: ChannelArchive) -> dict[str, object]:
    return {name: getattr(archive, name) for name in archive.__dataclass_fields__}


def test_web_pages_name_the_site_once_in_their_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    settings = make_instance(tmp_path / "i", f"sqlite:///{tmp_path / 's.db'}")
    with TestClient(create_app(settings)) as client:
        titles = {
            path: TITLE.findall(client.get(path).text)
            for path in ("/subscribe/", "/subscribe/world", "/archive/")
        }
    # "The Review — World" already names the site; "Subscribe" does not.
    assert titles == {
        "/subscribe/": ["Subscribe — The Review"],
        "/subscribe/world": ["Subscribe to The Review — World"],
        "/archive/": ["Past editions — The Review"],
    }


def test_the_generated_key_says_what_it_signs_and_to_keep_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("SYNDICATE_SECURITY__SECRET_KEY", raising=False)
    (tmp_path / "syndicate.toml").write_text('[site]\nname = "The Review"\n', encoding="utf-8")
    settings = load_settings(tmp_path / "syndicate.toml")
    with caplog.at_level(logging.WARNING):
        signing_key(settings)
        signing_key(settings)  # the second run reads the file: no second warning
    [warning] = [r.getMessage() for r in caplog.records]
    assert str(tmp_path / "var" / "secret.key") in warning
    for words in ("unsubscribe", "preferences", "confirmation", "keep", "stop working"):
        assert words in warning.lower(), words
    assert "SYNDICATE_SECURITY__SECRET_KEY" in warning
