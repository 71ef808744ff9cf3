"""``syndicate digest preview`` on the example instance, run as a user runs it."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from syndicate.config import load_settings
from syndicate.store import open_store
from syndicate.store.editions import list_editions
from tests.test_cli import run
from tests.test_digest_render import Tags

SLOT = "2026-11-25T07:00:00Z"


def test_preview_of_the_all_channel(instance: Path, tmp_path: Path) -> None:
    assert run(instance, "ingest").returncode == 0
    out = tmp_path / "preview"
    done = run(instance, "digest", "preview", "all", "--slot", SLOT, "--out", str(out))
    assert done.returncode == 0, done.stderr
    paths = [out / "preview.html", out / "preview.txt", out / "preview.eml"]
    for path in paths:
        assert str(path) in done.stdout.splitlines()
        assert path.is_file()
    assert "10 stories, 4 related" in done.stdout

    page = Tags(paths[0].read_text(encoding="utf-8"))
    classes = [attrs.get("class", "") for _, attrs in page.tags]
    assert sum("more-from-item" in c.split() for c in classes) == 4
    assert len(page.all("h2")) == 2  # the lead and "More from The Meridian Review"
    assert len(page.all("h3")) == 9 + 4
    assert "More from The Meridian Review" in "".join(page.text)
    assert "https://meridian.example/u/preview" in paths[0].read_text(encoding="utf-8")
    assert "%%syn:" not in paths[0].read_text(encoding="utf-8")

    raw = paths[2].read_bytes()
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    for header in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
        assert message[header], header
    assert message["List-Unsubscribe"] == "<https://meridian.example/u/preview>"
    assert message["Subject"].startswith("Moscow Eyes a Launch Pad… in the Caribbean?")
    text = parts[0].get_content().replace("\r\n", "\n")
    assert text == paths[1].read_text(encoding="utf-8")
    assert "14 Harbour Row" in text and "https://meridian.example/u/preview" in text

    store = open_store(load_settings(instance / "syndicate.toml").store_url)
    try:
        assert list_editions(store) == []  # a preview records nothing
    finally:
        store.close()


def test_preview_default_folder_and_on_new_channel(instance: Path) -> None:
    run(instance, "ingest")
    done = run(instance, "digest", "preview", "world", "--slot", SLOT)
    assert done.returncode == 0, done.stderr
    assert (instance / "public" / "preview" / "world" / "preview.html").is_file()
    # Weekly on Mondays at 07:00 Paris time: the slot is Monday 23 November, 06:00 UTC.
    assert "world @ 2026-11-23T06:00:00+00:00: 5 stories, 4 related" in done.stdout
    on_new = run(instance, "digest", "preview", "science-tech", "--slot", "2026-11-25T07:03:31Z")
    assert on_new.returncode == 0, on_new.stderr
    assert "science-tech @ 2026-11-25T07:03:00+00:00: 10 stories, 4 related" in on_new.stdout


def test_no_edition_and_unknown_channel(instance: Path) -> None:
    run(instance, "ingest")
    early = run(instance, "digest", "preview", "all", "--slot", "2026-01-01T07:00:00Z")
    assert early.returncode == 1
    assert "no edition for all at 2026-01-01T07:00:00+00:00" in early.stderr
    unknown = run(instance, "digest", "preview", "nope")
    assert unknown.returncode == 2
    assert "no channel named 'nope'" in unknown.stderr
    bad = run(instance, "digest", "preview", "all", "--slot", "yesterday")
    assert bad.returncode == 2
    assert "not an ISO 8601 time" in bad.stderr
