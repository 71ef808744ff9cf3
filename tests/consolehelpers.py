"""A console on a real store for the web tests: an instance with one channel under
review, a draft edition, an editor and an admin, and helpers to sign in and post forms."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.testclient import TestClient

from syndicate.config import Settings, load_settings
from syndicate.store import Store
from syndicate.store.editions import EditionRecord, NewEdition, get_edition_by_id, save_edition
from syndicate.store.operators import Operators
from syndicate.testing import FixedClock, RecordingBackend
from syndicate.web.console import ConsoleServices, console_routes
from syndicate.web.redirects import RelativeRedirects
from tests.deliveryhelpers import HTML, TEXT, add_subscribers
from tests.digest.factory import T0, store_articles

PASSWORD = "a long enough password"
EDITOR = "editor@news.example"
ADMIN = "admin@news.example"
SUBJECT = "Harbour reopens, and 2 more stories"
SLOT = T0 + timedelta(days=2)
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def write_instance(folder: Path, store_url: str, console: str = "", digest: str = "") -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feeds").mkdir(exist_ok=True)
    (folder / "feeds" / "world.toml").write_text(
        'title = "The Review — World"\n[digest]\nreview = "approve"\ndraft_hours = 2\n'
        'related_k = 2\ntest_addresses = ["seed@news.example"]\n' + digest,
        encoding="utf-8",
    )
    (folder / "syndicate.toml").write_text(
        '[site]\nname = "The Review"\nbase_url = "https://news.example"\n'
        'tag_authority = "news.example,2026"\n'
        '[security]\nsecret_key = "console-test-secret-0123456789"\n'
        f'[store]\nurl = "{store_url}"\n'
        '[delivery]\nfrom_email = "news@news.example"\n'
        '[[sources]]\nname = "desk"\nkind = "folder"\npath = "content"\n'
        f"[console]\n{console}\n",
        encoding="utf-8",
    )
    (folder / "content").mkdir(exist_ok=True)
    return load_settings(folder / "syndicate.toml")


@dataclass
class Console:
    settings: Settings
    store: Store
    services: ConsoleServices
    clock: FixedClock
    mail: RecordingBackend
    draft: EditionRecord
    article_ids: list[str] = field(default_factory=list)

    def client(self, base_url: str = "http://testserver") -> TestClient:
        app = Starlette(routes=console_routes(self.services))
        app.add_middleware(RelativeRedirects)
        return TestClient(app, base_url=base_url, follow_redirects=False)

    def sign_in(self, client: TestClient, email: str = EDITOR, password: str = PASSWORD) -> Any:
        page = client.get("/console/signin")
        token = TOKEN.search(page.text)
        assert token is not None, page.text
        return client.post(
            "/console/signin",
            data={"csrf_token": token.group(1), "email": email, "password": password},
        )

    def csrf(self, client: TestClient, path: str = "/console/") -> str:
        page = client.get(path)
        token = TOKEN.search(page.text)
        assert token is not None, page.text
        return token.group(1)

    def edition(self) -> EditionRecord:
        found = get_edition_by_id(self.store, self.draft.id)
        assert found is not None
        return found

    @property
    def operators(self) -> Operators:
        return Operators(self.store)


def make_console(
    folder: Path, store: Store, *, console: str = "", html: str = HTML, text: str = TEXT
) -> Console:
    url = store.engine.url.render_as_string(hide_password=False)
    settings = write_instance(folder, url, console)
    ids = store_articles(store, 3)
    add_subscribers(store, 3, channel_name="world")
    draft, _ = save_edition(
        store,
        NewEdition(
            channel="world",
            slot=SLOT,
            article_ids=tuple(ids),
            related_ids=(),
            subject=SUBJECT,
            preheader="Three stories",
            html=html,
            text=text,
            created_at=SLOT - timedelta(hours=2),
            status="draft",
        ),
    )
    ops = Operators(store)
    ops.add(EDITOR, "editor", PASSWORD, SLOT)
    ops.add(ADMIN, "admin", PASSWORD, SLOT)
    clock = FixedClock(SLOT - timedelta(hours=1))
    mail = RecordingBackend()
    services = ConsoleServices(settings, clock=clock, make_backend=lambda: mail, store=store)
    return Console(settings, store, services, clock, mail, draft, ids)


def now(console: Console) -> datetime:
    return console.clock()
