"""The web archive of editions, through the app, on SQLite and PostgreSQL: indexes,
edition pages without anyone's data, view-in-browser links, caching, 404s, round-ups."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from html import escape
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from syndicate.config import ChannelConfig, DispatchSettings, Settings, load_channels, load_settings
from syndicate.delivery.compose import EditionMessages
from syndicate.delivery.dispatch import Dispatcher, enqueue_edition
from syndicate.delivery.tokens import TokenSigner
from syndicate.digest import build_edition
from syndicate.digest.links import edition_path
from syndicate.digest.public import public_copy
from syndicate.models import OutboundMessage, Subscription
from syndicate.store import Store, open_store
from syndicate.store.editions import OWN, EditionRecord, NewEdition, save_edition
from syndicate.store.subscribers import SubscriberStore
from syndicate.testing import FixedClock, RecordingBackend
from syndicate.web import archive, create_app
from tests.conftest import REPO
from tests.digest.factory import BASE, T0, store_articles

SECRET = "archive-test-secret-0123456789"
SLOT = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 22:00 on 24 November in New York
DAILY = """title = "The Daily Gazette"
[digest]
schedule = "0 22 * * *"
timezone = "America/New_York"
first_lookback_hours = 240
"""
READERS = [
    ("ana.whitcombe@example.org", "Ana Whitcombe"),
    ("kofi.mensah-lund@example.net", "Kofi Mensah-Lund"),
    ("l.okafor+news@example.com", "Lúcia Okafor"),
]
TEMPLATE = REPO / "src/syndicate/digest/templates/digest.mjml.j2"


@dataclass
class Site:
    settings: Settings
    store: Store
    client: TestClient
    daily: ChannelConfig

    def build(self, slot: datetime = SLOT, cadence: str = OWN) -> EditionRecord:
        built = build_edition(
            self.store, self.settings, self.daily, slot, now=slot, cadence=cadence
        )
        assert built is not None and built.record is not None
        return built.record

    def send(self) -> list[OutboundMessage]:
        """Personalise and 'send' every queued message to the subscribers."""
        backend = RecordingBackend()
        tokens = TokenSigner(SECRET)
        messages = EditionMessages(
            self.store, self.settings, {"daily": self.daily}, signer=None, tokens=tokens
        )
        clock = FixedClock(SLOT)
        Dispatcher(self.store, backend, messages, DispatchSettings(), clock=clock).run()
        return backend.sent


@pytest.fixture
def site(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    (tmp_path / "syndicate.toml").write_text(
        f'[site]\nname = "The Test Gazette"\nbase_url = "{BASE}"\n'
        'postal_address = "1 Quay Street, Portsmouth"\n'
        f'[store]\nurl = "{store_url}"\n'
    )
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "daily.toml").write_text(DAILY)
    (feeds / "fresh.toml").write_text('title = "Fresh"\n')  # a digest, no edition yet
    (feeds / "quiet.toml").write_text('title = "Quiet"\n[digest]\nenabled = false\n')
    # An instance template that greets each reader by name, so names are in the mail.
    (tmp_path / "templates").mkdir()
    greeting = '<mj-text><p class="greeting">Dear {{ recipient.name }},</p></mj-text>\n'
    source = TEMPLATE.read_text().replace("<mj-text><h1>", greeting + "<mj-text><h1>", 1)
    (tmp_path / "templates" / "digest.mjml.j2").write_text(source)
    settings = load_settings(tmp_path / "syndicate.toml")
    store = open_store(settings.store_url)
    store_articles(store, 6)
    daily = next(c for c in load_channels(settings) if c.name == "daily")
    yield Site(settings, store, TestClient(create_app(settings)), daily)
    store.close()


def subscribe(store: Store) -> None:
    subscribers = SubscriberStore(store)
    for email, name in READERS:
        subscribers.upsert(
            email,
            name=name,
            status="active",
            timezone="UTC",
            subs=[Subscription("daily", "edition", ())],
            now=T0,
        )


def plain(
    store: Store, slot: datetime, subject: str = "Edition", cadence: str = OWN
) -> EditionRecord:
    record, _ = save_edition(
        store,
        NewEdition(
            channel="daily",
            slot=slot,
            article_ids=(),
            related_ids=(),
            subject=subject,
            preheader="",
            html='<html><body><p>Dear %%syn:name%%</p><a href="%%syn:unsubscribe_url%%">'
            "Unsubscribe</a></body></html>",
            text="Dear %%syn:name%%\n",
            created_at=slot + timedelta(minutes=1),
            cadence=cadence,
        ),
    )
    return record


def test_edition_page_holds_no_subscribers_data(site: Site) -> None:
    record = site.build()
    subscribe(site.store)
    assert enqueue_edition(site.store, site.daily, record, SLOT) == len(READERS)
    sent = site.send()
    assert sorted(m.to_email for m in sent) == sorted(email for email, _ in READERS)
    page = site.client.get(edition_path("daily", SLOT))
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    names = dict(READERS)
    for message in sent:
        tokens = re.findall(r'href="https://news\.example/[up]/([^"]+)"', message.html)
        name = escape(names[message.to_email])
        # The mail is personal: their address, name and both signed links are in it.
        assert len(tokens) == 2 and message.to_email in message.html
        assert f"Dear {name}," in message.html
        for value in (message.to_email, names[message.to_email], name, *tokens):
            assert value not in page.text
    assert "Dear reader," in page.text
    assert "%%syn:" not in page.text
    assert "/u/" not in page.text and "/p/" not in page.text
    assert page.text.count('href="https://news.example/subscribe/daily"') == 2
    assert page.text == public_copy(record.html, record.text, base_url=BASE, channel="daily").html


def test_view_in_browser_links_open_that_editions_page(site: Site) -> None:
    first = site.build()
    store_articles(site.store, 2, start=120)  # published after the first slot
    second = site.build(SLOT + timedelta(days=1))
    subscribe(site.store)
    enqueue_edition(site.store, site.daily, first, SLOT)
    message = site.send()[0]
    in_html = re.findall(r'href="(https://news\.example/archive/[^"]+)"', message.html)
    in_text = [line for line in message.text.splitlines() if "/archive/" in line]
    assert len(in_html) == 2 and len(in_text) == 1  # header and footer; the text part
    expected = public_copy(first.html, first.text, base_url=BASE, channel="daily").html
    for url in {*in_html, *in_text}:
        page = site.client.get(url.removeprefix(BASE), follow_redirects=False)
        assert page.status_code == 200, url
        assert page.text == expected
        assert f"<title>{escape(first.subject)}</title>" in page.text
    assert first.subject != second.subject


def test_channel_index_lists_editions_newest_first_in_local_time(site: Site) -> None:
    first = site.build()
    store_articles(site.store, 2, start=120)
    second = site.build(SLOT + timedelta(days=1))
    page = site.client.get("/archive/daily/")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "public, max-age=900"
    body = page.text
    assert '<html lang="en">' in body and "<h1>The Daily Gazette: past editions</h1>" in body
    assert "America/New_York" in body
    links = re.findall(r'<li><a href="([^"]+)">([^<]+)</a> <time datetime="([^"]+)">([^<]+)', body)
    assert links == [
        (
            "/archive/daily/2026-11-26-0300/",
            escape(second.subject),
            "2026-11-26T03:00:00+00:00",
            "25 November 2026",
        ),
        (
            "/archive/daily/2026-11-25-0300/",
            escape(first.subject),
            "2026-11-25T03:00:00+00:00",
            "24 November 2026",
        ),
    ]
    assert 'href="/subscribe/daily"' in body
    assert "Older editions" not in body and "Newer editions" not in body


def test_archive_home_lists_channels_with_editions(site: Site) -> None:
    empty = site.client.get("/archive/")
    assert empty.status_code == 200 and "No digest has been published yet." in empty.text
    site.build()
    plain(site.store, SLOT, cadence="weekly")
    page = site.client.get("/archive/")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
    items = re.findall(r'<li><a href="([^"]+)">([^<]+)</a>([^<]*)</li>', page.text)
    latest = " (1 edition, latest 24 November 2026)"
    assert items == [("/archive/daily/", "The Daily Gazette", latest)]


def test_pages_of_editions_follow_older_and_newer_links(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "PAGE_SIZE", 2)
    for day in range(5):
        plain(site.store, SLOT + timedelta(days=day), subject=f"Edition {day}")
    seen: list[str] = []
    pages = []
    url: str | None = "/archive/daily/"
    while url is not None:
        page = site.client.get(url)
        assert page.status_code == 200
        pages.append(page)
        seen += re.findall(r">(Edition \d)</a>", page.text)
        older = re.search(r'rel="next" href="([^"]+)"', page.text)
        url = older[1].replace("&amp;", "&") if older else None
    assert seen == [f"Edition {day}" for day in range(4, -1, -1)]
    assert len(pages) == 3 and 'rel="prev"' not in pages[0].text
    newer = re.search(r'rel="prev" href="([^"]+)"', pages[-1].text)
    assert newer is not None and newer[1] == "/archive/daily/?after=2026-11-25-0300"
    back = site.client.get(newer[1])
    assert back.text == pages[1].text


def test_roundups_are_listed_under_their_channel(site: Site) -> None:
    plain(site.store, SLOT, subject="Daily edition")
    weekly = plain(site.store, SLOT + timedelta(days=2), subject="Week", cadence="weekly")
    index = site.client.get("/archive/daily/")
    assert '<a href="/archive/daily/weekly/">Weekly round-up</a>' in index.text
    assert "Week<" not in index.text  # the round-up's editions are on its own page
    roundup = site.client.get("/archive/daily/weekly/")
    assert roundup.status_code == 200
    assert "<h1>The Daily Gazette (weekly round-up): past editions</h1>" in roundup.text
    assert '<a href="/archive/daily/weekly/2026-11-27-0300/">Week</a>' in roundup.text
    assert "Daily edition" not in roundup.text and "round-up</a>" not in roundup.text
    page = site.client.get(edition_path("daily", weekly.slot, "weekly"))
    assert page.status_code == 200
    assert page.text == (
        '<html><body><p>Dear reader</p><a href="https://news.example/subscribe/daily">'
        "Unsubscribe</a></body></html>"
    )
    assert site.client.get("/archive/daily/monthly/").status_code == 404
    assert site.client.get(edition_path("daily", weekly.slot)).status_code == 404


def test_a_roundups_view_in_browser_link_is_its_own_page(site: Site) -> None:
    own = site.build()
    roundup = site.build(cadence="daily")  # the same minute, the same stories
    assert roundup.id != own.id and roundup.cadence == "daily"
    links = set(re.findall(r'href="(https://news\.example/archive/[^"]+)"', roundup.html))
    assert links == {f"{BASE}/archive/daily/daily/2026-11-25-0300/"}
    page = site.client.get(links.pop().removeprefix(BASE))
    assert page.status_code == 200
    assert page.text == public_copy(roundup.html, roundup.text, base_url=BASE, channel="daily").html
    own_page = site.client.get(edition_path("daily", SLOT))
    assert own_page.text != page.text
    assert f'href="{BASE}/archive/daily/2026-11-25-0300/"' in own_page.text


def test_not_found_and_redirects(site: Site) -> None:
    site.build()
    get = site.client.get
    for path in (
        "/archive/nope/",
        "/archive/quiet/",  # configured, but no digest and no editions
        "/archive/daily/2026-11-26-0300/",  # no edition in that slot
        "/archive/daily/2026-13-45-0300/",
        "/archive/Daily/",
        "/archive/daily/weekly/x/",
        "/archive/daily/edition/",  # the channel's own series has one address
        "/archive/daily/weekly/",  # no weekly round-up stored
        "/archive/a/b/c/",
        "/archive//",
        "/archive/daily/?before=yesterday",
        "/archive/daily/?after=2026-11-25-0300&before=2026-11-25-0300",
        "/digests/daily/tomorrow",
    ):
        missing = get(path, follow_redirects=False)
        assert missing.status_code == 404, path
        assert missing.headers["cache-control"] == "no-store"
    fresh = get("/archive/fresh/")
    assert fresh.status_code == 200 and "No editions here yet." in fresh.text
    for path, target in (
        ("/archive/daily", "/archive/daily/"),
        ("/archive/daily/2026-11-25-0300", "/archive/daily/2026-11-25-0300/"),
        ("/digests/daily/2026-11-25T0300Z", "/archive/daily/2026-11-25-0300/"),
    ):
        moved = get(path, follow_redirects=False)
        assert moved.status_code == 308, path
        assert moved.headers["location"] == target
    assert get("/digests/daily/2026-11-25T0300Z").status_code == 200


def test_edition_pages_are_immutable_with_validators(site: Site) -> None:
    record = site.build()
    path = edition_path("daily", SLOT)
    identity = {"Accept-Encoding": "identity"}
    page = site.client.get(path, headers=identity)
    assert page.headers["cache-control"] == "public, max-age=604800, immutable"
    assert page.headers["vary"] == "Accept-Encoding"
    assert page.headers["last-modified"] == formatdate(record.created_at.timestamp(), usegmt=True)
    assert "script-src" not in page.headers["content-security-policy"]
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    etag = page.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]+"', etag)
    assert site.client.get(path, headers=identity).headers["etag"] == etag  # deterministic
    for conditional in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-Modified-Since": page.headers["last-modified"]},
    ):
        unchanged = site.client.get(path, headers={**identity, **conditional})
        assert unchanged.status_code == 304, conditional
        assert unchanged.content == b""
        for header in ("etag", "cache-control", "vary", "date"):
            assert unchanged.headers[header] == page.headers[header] or header == "date"
    # If-None-Match wins over a date that would match (RFC 9110 §13.2.2).
    stale = {"If-None-Match": '"other"', "If-Modified-Since": page.headers["last-modified"]}
    assert site.client.get(path, headers={**identity, **stale}).status_code == 200
    earlier = formatdate(record.created_at.timestamp() - 60, usegmt=True)
    older = {**identity, "If-Modified-Since": earlier}
    assert site.client.get(path, headers=older).status_code == 200


def test_gzip_and_head(site: Site) -> None:
    site.build()
    for path in (edition_path("daily", SLOT), "/archive/daily/", "/archive/"):
        plain_page = site.client.get(path, headers={"Accept-Encoding": "identity"})
        zipped = site.client.get(path, headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in plain_page.headers
        assert zipped.headers["content-encoding"] == "gzip"
        assert zipped.content == plain_page.content  # httpx decoded it
        assert zipped.headers["etag"] != plain_page.headers["etag"]
        again = site.client.get(
            path, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]}
        )
        assert again.status_code == 304
        head = site.client.head(path, headers={"Accept-Encoding": "identity"})
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(plain_page.content))
        assert head.headers["etag"] == plain_page.headers["etag"]
    zipped = site.client.get(edition_path("daily", SLOT), headers={"Accept-Encoding": "gzip"})
    assert int(zipped.headers["content-length"]) < len(zipped.content)  # compressed on the wire


def test_index_last_modified_moves_with_a_new_edition(site: Site) -> None:
    plain(site.store, SLOT)
    first = site.client.get("/archive/daily/", headers={"Accept-Encoding": "identity"})
    since = {"If-Modified-Since": first.headers["last-modified"], "Accept-Encoding": "identity"}
    assert site.client.get("/archive/daily/", headers=since).status_code == 304
    plain(site.store, SLOT + timedelta(days=1), subject="Newer")
    changed = site.client.get("/archive/daily/", headers=since)
    assert changed.status_code == 200 and "Newer" in changed.text
    assert changed.headers["etag"] != first.headers["etag"]
