"""Previews: an edition rendered for a sample recipient, written as files, never stored.

``preview.html`` and ``preview.txt`` are the personalised parts; ``preview.eml`` is the
message a mail client would show (multipart/alternative, text first and HTML last, UTF-8,
quoted-printable so no line passes 76 characters).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import urlsplit

from syndicate.config import Settings
from syndicate.digest.links import SAMPLE_RECIPIENT, PlaceholderLinks, Recipient
from syndicate.digest.personalise import Personalised, Personaliser
from syndicate.digest.render import RenderedEdition


@dataclass(frozen=True, slots=True)
class PreviewFiles:
    """Where a preview was written."""

    html: Path
    text: Path
    eml: Path


def build_message(
    settings: Settings,
    rendered: RenderedEdition,
    copy: Personalised,
    recipient: Recipient,
    *,
    date: datetime,
    unsubscribe_url: str,
) -> EmailMessage:
    """A sample message for ``recipient``; delivery builds the real ones with DKIM."""
    domain = urlsplit(settings.site.base_url).hostname or "localhost"
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(settings.site.name, "digest", domain)
    message["To"] = Address(recipient.name, addr_spec=recipient.email)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = make_msgid(domain=domain)
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(copy.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(copy.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def write_preview(
    settings: Settings,
    rendered: RenderedEdition,
    out_dir: Path,
    *,
    date: datetime,
    recipient: Recipient = SAMPLE_RECIPIENT,
) -> PreviewFiles:
    """Personalise ``rendered`` for ``recipient`` and write the three preview files."""
    links = PlaceholderLinks(settings.site.base_url)
    copy = Personaliser(rendered.html, rendered.text).for_recipient(recipient, links)
    message = build_message(
        settings, rendered, copy, recipient, date=date, unsubscribe_url=links.unsubscribe(recipient)
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    files = PreviewFiles(out_dir / "preview.html", out_dir / "preview.txt", out_dir / "preview.eml")
    files.html.write_text(copy.html, encoding="utf-8")
    files.text.write_text(copy.text, encoding="utf-8")
    files.eml.write_bytes(message.as_bytes())
    return files
