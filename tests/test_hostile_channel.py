"""One channel fed everything hostile at once still delivers its digest to everyone.

Issue 12's items 1–5 in a single feed, served over real HTTP and run through the
commands an operator runs: text that looks like console markup (``[/]``, ``[link=…]``),
text that spells a recipient placeholder (``%%syn:…%%``), a 100 KB title, character
references XML forbids, and dates in 2999 and 1601. Every subscriber gets the digest,
and every bad value reaches them, and the operator's terminal, as plain text.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import feedparser

from tests.httpserver import LocalServer
from tests.test_cli import run

pytest_plugins = ["tests.httpserver"]

MARKUP = "Markup [/] and [link=https://evil.example]click[/link] [bold]loud"
PLACEHOLDER = "Win %%syn:unsubscribe_url%% now %%syn:bogus%%"
HUGE = "enormous " * 12_000  # about 100 KB
SUBSCRIBERS = ["ana@example.com", "ben@example.com", "cleo@example.com"]


def item(n: int, title: str, *, description: str = "", date: str = "") -> str:
    when = date or "Fri, 04 Dec 2026 08:00:00 +0000"
    return (
        f"<item><title>{title}</title><link>https://wire.example/{n}</link>"
        f"<guid>https://wire.example/{n}</guid><pubDate>{when}</pubDate>"
        f"<description>{description or f'Story {n} in one sentence.'}</description></item>"
    )


def hostile_feed() -> bytes:
    items = [
        item(1, MARKUP, description="A dek with [/] in it."),
        item(2, PLACEHOLDER, description="Dek %%syn:name%% too."),
        item(3, HUGE),
        item(4, "Bad reference &#xD800; and &#x110000; here", description="Zero &#0; ref."),
        item(5, "From the far future", date="Sat, 01 Jan 2999 00:00:00 +0000"),
        item(6, "From the distant past", date="Mon, 01 Jan 1601 00:00:00 +0000"),
        item(7, "A plain story about the harbour"),
    ]
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Wire</title><link>https://wire.example/</link><description>Wire</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def make_instance(root: Path, feed_url: str) -> Path:
    root.mkdir()
    (root / "feeds").mkdir()
    (root / "syndicate.toml").write_text(
        '[site]\nname = "The Wire Review"\nbase_url = "https://review.example"\n'
        'tag_authority = "review.example,2026"\n\n'
        '[store]\nurl = "sqlite:///var/syndicate.db"\n\n[output]\ndir = "public"\n\n'
        '[delivery]\nbackend = "file"\noutbox_dir = "var/outbox"\n'
        'from_email = "digest@review.example"\n\n'
        f'[[sources]]\nname = "wire"\nkind = "feed"\nurl = "{feed_url}"\nallow_private = true\n',
        encoding="utf-8",
    )
    (root / "feeds" / "wire.toml").write_text(
        'title = "Wire"\n\n[digest]\nschedule = "0 7 * * *"\ntimezone = "UTC"\n'
        "first_lookback_hours = 87600\n",
        encoding="utf-8",
    )
    rows = "".join(f"{a},Reader {n},wire,edition,,UTC\n" for n, a in enumerate(SUBSCRIBERS))
    (root / "subscribers.csv").write_text(
        "email,name,channels,cadence,sections,timezone\n" + rows, encoding="utf-8"
    )
    (root / "var").mkdir()
    return root


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_a_channel_fed_every_hostile_value_still_delivers_to_everyone(
    tmp_path: Path, http_server: LocalServer
) -> None:
    http_server.route(
        "/wire.xml", body=hostile_feed(), headers={"Content-Type": "application/rss+xml"}
    )
    instance = make_instance(tmp_path / "instance", http_server.url("/wire.xml"))

    assert run(instance, "db", "upgrade").returncode == 0
    ingest = run(instance, "ingest")
    assert ingest.returncode == 0, ingest.stderr
    listed = run(instance, "articles", "list")
    assert listed.returncode == 0, listed.stderr
    # The operator sees the markup as text, not as a (crashing) console style.
    assert "[/]" in listed.stdout and "[link=https://evil.example]" in listed.stdout

    built = run(instance, "build")
    assert built.returncode == 0, built.stderr
    rss = feedparser.parse((instance / "public/feeds/wire.xml").read_bytes())
    assert not rss.bozo, rss.get("bozo_exception")
    titles = {entry.title for entry in rss.entries}
    assert MARKUP in titles and PLACEHOLDER in titles
    assert any(re.fullmatch(r"Bad reference\s+and\s+here", t) for t in titles)
    assert max(len(t) for t in titles) <= 300
    for entry in rss.entries:  # no date a reader rejects: nothing after the fetch day
        assert 1970 <= entry.published_parsed.tm_year <= 2027

    assert run(instance, "subscribers", "import", "subscribers.csv").returncode == 0
    sent = run(instance, "digest", "send", "wire", "--now")
    assert sent.returncode == 0, sent.stdout + sent.stderr

    messages = sorted((instance / "var/outbox").rglob("*.eml"))
    assert len(messages) == len(SUBSCRIBERS)
    recipients = set()
    for path in messages:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        recipients.add(str(message["To"]).split("<")[-1].rstrip(">"))
        text, html = parts(message)
        for shown in (text, html):
            assert "Markup [/] and [link=https://evil.example]click[/link]" in shown
            assert PLACEHOLDER in shown
            assert re.search(r"Bad reference\s+and\s+here", shown)
            assert "enormous enormous" in shown and HUGE.strip() not in shown
        assert "https://review.example/u/" in text  # the real unsubscribe link survived
    assert recipients == set(SUBSCRIBERS)
