"""Previews: an edition rendered for a sample recipient, written as files, never stored.

``preview.html`` and ``preview.txt`` are the personalised parts; ``preview.eml`` is the
message exactly as delivery would build it for that recipient (without DKIM).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from syndicate.config import Settings
from syndicate.digest import RenderedEdition
from syndicate.digest.links import SAMPLE_RECIPIENT, PlaceholderLinks, Recipient
from syndicate.models import OutboundMessage


@dataclass(frozen=True, slots=True)
class PreviewFiles:
    """Where a preview was written."""

    html: Path
    text: Path
    eml: Path


def write_preview(
    settings: Settings,
    rendered: RenderedEdition,
    out_dir: Path,
    *,
    date: datetime,
    recipient: Recipient = SAMPLE_RECIPIENT,
    channel: str = "preview",
    channel_title: str = "",
) -> PreviewFiles:
    """Personalise ``rendered`` for ``recipient`` and write the three preview files
    (the message of :func:`preview_message`)."""
    message = preview_message(
        settings,
        rendered,
        date=date,
        recipient=recipient,
        channel=channel,
        channel_title=channel_title,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    files = PreviewFiles(out_dir / "preview.html", out_dir / "preview.txt", out_dir / "preview.eml")
    files.html.write_text(message.html, encoding="utf-8")
    files.text.write_text(message.text, encoding="utf-8")
    files.eml.write_bytes(message.raw)
    return files


def preview_message(
    settings: Settings,
    rendered: RenderedEdition,
    *,
    date: datetime,
    recipient: Recipient = SAMPLE_RECIPIENT,
    channel: str = "preview",
    channel_title: str = "",
) -> OutboundMessage:
    """``rendered`` personalised for ``recipient``: the message exactly as delivery would
    build it (:class:`~syndicate.delivery.message.MessageTemplate`, unsigned)."""
    # Imported here: delivery builds on the digest package, not the other way round.
    from syndicate.delivery.compose import sender
    from syndicate.delivery.message import MessageTemplate
    from syndicate.delivery.message import Recipient as MailRecipient

    links = PlaceholderLinks(settings.site.base_url)
    template = MessageTemplate(
        sender=sender(settings),
        edition_id=0,
        channel=channel,
        channel_title=channel_title or settings.site.name,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        instance_key=settings.site.tag_authority,
    )
    return template.render(
        MailRecipient(
            delivery_id=0,
            subscriber_id=0,
            email=recipient.email,
            name=recipient.name,
            unsubscribe_url=links.unsubscribe(recipient),
            preferences_url=links.preferences(recipient),
        ),
        date,
    )
