"""An instance with channels to subscribe to, and helpers to read the subscriber pages
and the confirmation messages the file backend wrote."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

from syndicate.config import Settings, load_settings

SECRET = "subscribe-test-secret-0123456789"
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CONFIRM_LINK = re.compile(r"https://review\.example(/confirm/[A-Za-z0-9_.\-]+)")

CHANNELS = {
    # Weekly editions: the only cadence is "weekly".
    "world": 'title = "The Review — World"\n[filters]\nsections = ["World"]\n'
    '[digest]\nschedule = "0 7 * * 1"\n',
    # An edition per new article, two sections: every cadence, a section choice.
    "economy": 'title = "The Review — Economy"\ndescription = "Money and markets."\n'
    '[filters]\nsections = ["Economy", "Business"]\n[digest]\nschedule = "on_new"\n',
    # No digest: nothing to subscribe to by email.
    "quiet": 'title = "Quiet"\n[digest]\nenabled = false\n',
}


def make_instance(folder: Path, store_url: str, extra: str = "") -> Settings:
    """A config with three channels, the file backend and ``store_url``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feeds").mkdir(exist_ok=True)
    for name, body in CHANNELS.items():
        (folder / "feeds" / f"{name}.toml").write_text(body, encoding="utf-8")
    (folder / "syndicate.toml").write_text(
        '[site]\nname = "The Review"\nbase_url = "https://review.example"\n'
        'postal_address = "1 Harbour Row, Port Ellis"\n'
        f'[store]\nurl = "{store_url}"\n'
        '[delivery]\nfrom_email = "news@review.example"\n' + extra,
        encoding="utf-8",
    )
    return load_settings(folder / "syndicate.toml")


def form_token(html: str) -> str:
    """The form token in a page."""
    found = FORM_TOKEN.search(html)
    assert found is not None, html
    return found.group(1)


def outbox(settings: Settings) -> list[EmailMessage]:
    """Confirmation messages the file backend wrote, oldest first."""
    folder = settings.resolve(settings.delivery.outbox_dir) / "0"
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.eml"), key=lambda p: -int(p.stem))
    return [parse(p.read_bytes()) for p in files]


def parse(raw: bytes) -> EmailMessage:
    """A message as the email package reads it."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def confirm_paths(message: EmailMessage) -> list[str]:
    """The confirmation links' paths in the text part."""
    text = message.get_body(("plain",))
    assert text is not None
    return CONFIRM_LINK.findall(text.get_content())
