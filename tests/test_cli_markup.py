"""Text from sources, subscribers and upstream servers is printed as text, never read as
rich markup: a title, a name or a reason phrase holding ``[/]`` or ``[link=…]`` is shown
literally by every command that prints it (issue 12, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.httpserver import LocalServer, Reply
from tests.test_cli import run

pytest_plugins = ["tests.httpserver"]

HOSTILE = "[/]bad[link=x]"
TITLE = "Markup [/]in a [link=https://evil.example]title[/link] [bold]"
AUTHOR = "[/]Mallory [link=x]"
NAME = "[/]Eve [link=https://evil.example]"


def hostile_instance(instance: Path, server: LocalServer) -> Path:
    """The example instance plus an article with markup in its title and author, and a
    feed source whose server answers 500 with markup in its reason phrase."""
    (instance / "content" / "world" / "hostile.md").write_text(
        "---\n"
        f"title: {json.dumps(TITLE)}\n"
        "section: World\n"
        f"authors:\n  - name: {json.dumps(AUTHOR)}\n"
        "published: 2026-11-07T09:00:00Z\n"
        "---\nBody.\n",
        encoding="utf-8",
    )
    server.route("/feed.xml", Reply(500, b"no", reason=HOSTILE))
    config = instance / "syndicate.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + "\n[[sources]]\n"
        + f'name = "wire"\nkind = "feed"\nurl = "{server.url("/feed.xml")}"\n'
        + "allow_private = true\n",
        encoding="utf-8",
    )
    return instance


def test_ingest_prints_an_upstream_reason_phrase_literally(
    config_instance: Path, http_server: LocalServer
) -> None:
    instance = hostile_instance(config_instance, http_server)
    done = run(instance, "ingest")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1  # the wire source failed; the others were read
    assert HOSTILE in done.stdout
    assert "newsroom" in done.stdout


def test_articles_and_sources_list_print_markup_literally(
    config_instance: Path, http_server: LocalServer
) -> None:
    instance = hostile_instance(config_instance, http_server)
    run(instance, "ingest")
    articles = run(instance, "articles", "list", "--section", "world")
    assert articles.returncode == 0, articles.stderr
    assert TITLE in articles.stdout and AUTHOR in articles.stdout
    sources = run(instance, "sources", "list")
    assert sources.returncode == 0, sources.stderr
    assert HOSTILE in sources.stdout


def test_subscribers_list_prints_a_name_literally(config_instance: Path) -> None:
    added = run(config_instance, "subscribers", "add", "eve@example.com", "--name", NAME)
    assert added.returncode == 0, added.stderr
    listed = run(config_instance, "subscribers", "list")
    assert listed.returncode == 0, listed.stderr
    assert NAME in listed.stdout
