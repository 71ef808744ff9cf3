"""``syndicate related``: an article's picks with each signal's part, the refused
candidates with their reason, and ``--all --json`` as one object per line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.test_cli import run

SIGNALS = {"text", "section", "tag", "author", "semantic", "decay", "total"}
STORY = "tag:meridian.example,2026:newsroom/mr-0025"  # world/baltic-seabed-cables.md


def test_show_by_slug_gives_picks_with_every_signal(instance: Path) -> None:
    assert run(instance, "ingest").returncode == 0
    done = run(instance, "related", "baltic-seabed-cables", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["article"]["id"] == STORY
    assert len(data["picks"]) == 4
    for pick in data["picks"]:
        assert set(pick["signals"]) == SIGNALS and pick["id"] != STORY
        parts = pick["signals"]
        additive = sum(parts[n] for n in ("text", "section", "tag", "author", "semantic"))
        assert abs(additive * parts["decay"] - parts["total"]) < 1e-3
    totals = [p["signals"]["total"] for p in data["picks"]]
    assert totals == sorted(totals, reverse=True)
    by_url = run(instance, "related", "https://meridian.example/world/baltic-seabed-cables/")
    assert by_url.returncode == 0 and "4 picks" in by_url.stdout


def test_refused_candidates_name_source_and_near_copy(instance: Path) -> None:
    # A copy of the story in our own folder (a near-copy), and one in a source whose
    # articles may not be picks.
    page = instance / "content" / "world" / "baltic-seabed-cables.md"
    text = page.read_text(encoding="utf-8")
    (instance / "content" / "world" / "baltic-cables-again.md").write_text(
        text.replace("id: mr-0025", "id: mr-0925").replace(
            "slug: baltic-seabed-cables", "slug: baltic-cables-again"
        ),
        encoding="utf-8",
    )
    (instance / "wire").mkdir()
    shutil.copy(page, instance / "wire" / "baltic.md")
    config = instance / "syndicate.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + '\n[[sources]]\nname = "wire"\nkind = "folder"\npath = "wire"\nrelated = false\n'
    )
    assert run(instance, "ingest").returncode == 0
    done = run(instance, "related", STORY, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    reasons = {r["id"]: r["reason"] for r in data["excluded"]}
    assert reasons["tag:meridian.example,2026:wire/mr-0025"] == "source"
    assert reasons["tag:meridian.example,2026:newsroom/mr-0925"] == "near-copy"
    assert not {p["id"] for p in data["picks"]} & set(reasons)


def test_all_json_streams_one_object_per_article(instance: Path) -> None:
    assert run(instance, "ingest").returncode == 0
    done = run(instance, "related", "--all", "--json")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 26
    ids = [json.loads(line)["article"]["id"] for line in lines]
    assert ids == sorted(ids) and len(set(ids)) == 26
    assert run(instance, "related", "--all").returncode == 2  # a table of all: no


def test_unknown_article_and_channel_are_clear_errors(instance: Path) -> None:
    assert run(instance, "ingest").returncode == 0
    missing = run(instance, "related", "no-such-story")
    assert missing.returncode == 2 and "no article with id, URL or slug" in missing.stderr
    bad = run(instance, "related", STORY, "--channel", "nope")
    assert bad.returncode == 2 and "no channel 'nope'" in bad.stderr
    ok = run(instance, "related", STORY, "--channel", "world", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["channel"] == "world"


def test_a_subscriber_s_memory_keeps_what_they_received_out_of_the_picks(instance: Path) -> None:
    assert run(instance, "ingest").returncode == 0
    (instance / "readers.csv").write_text(
        "email,name,channels\nana.ruiz@example.com,Ana Ruiz,all\n", encoding="utf-8"
    )
    assert run(instance, "subscribers", "import", "readers.csv").returncode == 0
    sent = run(instance, "digest", "send", "all")
    assert sent.returncode == 0, sent.stderr
    # Ranked over the whole site with no channel's bans: only her memory differs.
    plain = json.loads(run(instance, "related", STORY, "--json").stdout)
    done = run(instance, "related", STORY, "--json", "--subscriber", "ana.ruiz@example.com")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    remembered = {r["id"] for r in data["excluded"] if r["reason"] == "memory"}
    # Some of the plain picks were in the edition Ana received: they are refused for
    # her, and her picks are others.
    assert remembered & {p["id"] for p in plain["picks"]}
    assert not remembered & {p["id"] for p in data["picks"]}
    unknown = run(instance, "related", STORY, "--subscriber", "nobody@example.com")
    assert unknown.returncode == 2 and "no subscriber" in unknown.stderr
