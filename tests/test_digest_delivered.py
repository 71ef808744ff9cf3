"""An edition from stored articles to the bytes a reader gets, through the real file
backend: hostile titles stay text, and a reader who chose sections is told about *their*
copy (subject and preheader)."""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from syndicate.config import ChannelConfig, DispatchSettings, Settings
from syndicate.delivery.compose import EditionMessages
from syndicate.delivery.dispatch import Dispatcher, enqueue_edition
from syndicate.delivery.file import FileBackend, FileOptions
from syndicate.delivery.tokens import TokenSigner
from syndicate.digest import build_edition
from syndicate.ingest.content import clean_entry
from syndicate.models import Author, Entry
from syndicate.store import Store
from syndicate.testing import FixedClock
from tests.deliveryhelpers import SECRET, add_subscribers
from tests.digest.factory import BASE, T0, channel, settings

SLOT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
HOSTILE = "Win %%syn:unsubscribe_url%% now %%syn:bogus%%"


def save(store: Store, n: int, **kw: Any) -> None:
    """Article ``n`` (published ``n`` minutes after the day before the slot) through
    the real cleaner."""
    values: dict[str, Any] = {
        "key": f"k{n:03d}",
        "url": f"{BASE}/stories/{n:03d}/",
        "title": f"Story number {n}",
        "body_html": f"<p>Body of story {n}.</p>",
        "published_at": SLOT - timedelta(hours=12) + timedelta(minutes=n),
        "dek": f"The dek of story {n}.",
        "section": "World",
        "authors": (Author("Ana Ruiz"),),
        **kw,
    }
    cleaned = clean_entry(
        Entry(**values), source="desk", authority="news.example,2026", site_url=BASE
    )
    store.save_entries([cleaned], now=T0)


def send(
    store: Store, config: Settings, ch: ChannelConfig, outbox: Path
) -> dict[str, EmailMessage]:
    """Build the slot's edition, enqueue it, send it all with the file backend; the
    messages by recipient address."""
    built = build_edition(store, config, ch, SLOT)
    assert built is not None and built.record is not None
    enqueue_edition(store, ch, built.record, SLOT)
    messages = EditionMessages(store, config, {ch.name: ch}, tokens=TokenSigner(SECRET))
    backend = FileBackend(FileOptions(dir=outbox))
    dispatcher = Dispatcher(
        store, backend, messages, DispatchSettings(batch_size=10), clock=FixedClock(SLOT)
    )
    report = dispatcher.run()
    assert report.counts == Counter(sent=report.total) and report.total > 0
    found = {}
    for path in sorted(outbox.rglob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        found[msg["To"].addresses[0].addr_spec] = msg
    return found


def bodies(msg: EmailMessage) -> tuple[str, str]:
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def test_a_title_with_placeholder_syntax_reaches_the_reader_as_text(
    store: Store, tmp_path: Path
) -> None:
    save(store, 1)
    save(store, 2, title=HOSTILE, dek="Save 100%% on %%syn:%% and %%syn:email%% today.")
    save(store, 3, title="Plain 50% off, 20%20 stays", featured=True)
    add_subscribers(store, 3, channel_name="daily")
    config = settings()
    got = send(store, config, channel(related_k=0), tmp_path / "outbox")
    assert len(got) == 3
    signer = TokenSigner(SECRET)
    for address, msg in got.items():
        text, html = bodies(msg)
        for part in (text, html):
            assert HOSTILE in part
            assert "Save 100%% on %%syn:%% and %%syn:email%% today." in part
            assert "Plain 50% off, 20%20 stays" in part
        unsubscribe = str(msg["List-Unsubscribe"]).split(">")[0].lstrip("<")
        assert unsubscribe.startswith(f"{BASE}/u/")
        claims = signer.verify(unsubscribe.rsplit("/", 1)[1], "unsubscribe")
        assert claims.channel == "daily"
        # The real link is intact in both parts, and only where the template put it.
        assert f'href="{unsubscribe}"' in html
        assert f"Unsubscribe:\n{unsubscribe}\n" in text.replace("\r\n", "\n")
        assert text.count(unsubscribe) == 1 and html.count(unsubscribe) == 1
        assert address in html and "%%syn:email%%" in html


def test_a_reader_of_some_sections_is_told_about_their_copy(store: Store, tmp_path: Path) -> None:
    for n in range(1, 9):
        save(store, n, title=f"World story {n}", dek=f"World dek {n}.")
    save(store, 20, title="Economy story A", dek="The first economy dek.", section="Economy")
    save(store, 21, title="Economy story B", dek="The second economy dek.", section="Economy")
    save(store, 30, title="World lead", dek="The world lead dek.", featured=True)
    everyone = add_subscribers(store, 1, channel_name="daily")[0]
    economy = add_subscribers(store, 1, channel_name="daily", sections=("Economy",), start=1)[0]
    config = settings()
    got = send(store, config, channel(related_k=0, max_items=11), tmp_path / "outbox")

    assert got[everyone]["Subject"] == "World lead — 25 November 2026"
    mine = got[economy]
    assert mine["Subject"] == "Economy story B — 25 November 2026"
    text, html = bodies(mine)
    assert "World lead" not in text and "World story" not in text
    assert "Economy story A" in text and "Economy story B" in text
    # The hidden preheader and the <title> describe this copy, not the whole edition.
    assert "The second economy dek. Plus 1 more story." in html
    assert "Plus 10 more stories" not in html
    assert "<title>Economy story B — 25 November 2026</title>" in html
    _, whole = bodies(got[everyone])
    assert "The world lead dek. Plus 10 more stories." in whole
