"""Notices: the double opt-in confirmation and the erasure confirmation, each one
message to one address, sent at once through the configured backend, outside the
digest outbox.

Such a message is not part of an edition, so it carries ``edition_id`` 0 and a
negative ``delivery_id`` (minus the request's id): it names the message (the file
backend writes ``<outbox>/0/-<request>.eml``) and can never be mistaken for an outbox
row when a provider reports on it.

Nothing the visitor typed appears in it (SE-6): not their name, only the address it is
sent to, the site's and channels' names and the signed links. It has no
List-Unsubscribe: the address is on no list until the link is used.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from jinja2 import Environment, PackageLoader, select_autoescape

from syndicate.delivery.base import Backend
from syndicate.delivery.dkim import DKIMSigner
from syndicate.delivery.message import Sender, check_header_value
from syndicate.models import DeliveryResult, OutboundMessage

NOTICE_EDITION = 0


@dataclass(frozen=True, slots=True)
class ConfirmLink:
    """One channel to confirm, and the signed link that confirms it."""

    channel_title: str
    url: str


_ENV = Environment(
    loader=PackageLoader("syndicate.delivery", "templates"),
    autoescape=select_autoescape(["html.j2"]),  # the .txt.j2 part is plain text
    keep_trailing_newline=True,
)


def confirmation_message(
    *,
    sender: Sender,
    request_id: int,
    to_email: str,
    site_name: str,
    postal_address: str,
    links: Sequence[ConfirmLink],
    valid_days: int,
    now: datetime,
    signer: DKIMSigner | None = None,
) -> OutboundMessage:
    """The confirmation message for ``links`` (one per channel asked for).

    Raises :class:`~syndicate.errors.MessageError` if a header value would be unsafe.
    """
    if len(links) == 1:
        subject = f"Confirm your subscription to {links[0].channel_title}"
    else:
        subject = f"Confirm your subscriptions to {site_name}"
    check_header_value("Subject", subject)
    check_header_value("To", to_email)
    values = {
        "site_name": site_name,
        "postal_address": postal_address,
        "links": links,
        "valid_days": valid_days,
        "subject": subject,
    }
    text = _ENV.get_template("confirm.txt.j2").render(values)
    html = _ENV.get_template("confirm.html.j2").render(values)
    return _notice(
        sender=sender,
        key=f"confirm.{request_id}",
        delivery_id=-request_id,
        to_email=to_email,
        subject=subject,
        text=text,
        html=html,
        now=now,
        signer=signer,
    )


# Erasure notices are numbered apart from confirmations (whose ids are request ids), so
# the file backend never writes one over the other.
ERASURE_ID_BASE = 1 << 40


def erasure_message(
    *,
    sender: Sender,
    subscriber_id: int,
    to_email: str,
    site_name: str,
    postal_address: str,
    url: str,
    valid_days: int,
    now: datetime,
    signer: DKIMSigner | None = None,
) -> OutboundMessage:
    """The message that asks a subscriber to confirm the erasure of their data: one
    signed, expiring link to a page with an **Erase** button. Nothing is erased until
    that button is pressed."""
    subject = f"Confirm: erase your data at {site_name}"
    check_header_value("Subject", subject)
    check_header_value("To", to_email)
    values = {
        "site_name": site_name,
        "postal_address": postal_address,
        "url": url,
        "valid_days": valid_days,
        "subject": subject,
    }
    return _notice(
        sender=sender,
        key=f"erase.{subscriber_id}",
        delivery_id=-(ERASURE_ID_BASE + subscriber_id),
        to_email=to_email,
        subject=subject,
        text=_ENV.get_template("erase.txt.j2").render(values),
        html=_ENV.get_template("erase.html.j2").render(values),
        now=now,
        signer=signer,
    )


def _notice(
    *,
    sender: Sender,
    key: str,
    delivery_id: int,
    to_email: str,
    subject: str,
    text: str,
    html: str,
    now: datetime,
    signer: DKIMSigner | None,
) -> OutboundMessage:
    message_id = f"<{key}.{secrets.token_hex(6)}@{sender.message_id_domain}>"
    mail = EmailMessage(policy=SMTP)
    mail["From"] = formataddr((sender.from_name, sender.from_email))
    mail["To"] = to_email
    mail["Subject"] = subject
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = message_id
    if sender.reply_to:
        mail["Reply-To"] = sender.reply_to
    # RFC 3834: machine-made, so vacation responders do not answer it.
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    raw = mail.as_bytes()
    if signer is not None:
        raw = signer.sign(raw)
    return OutboundMessage(
        delivery_id=delivery_id,
        edition_id=NOTICE_EDITION,
        channel="",
        to_email=to_email,
        to_name="",
        from_email=sender.from_email,
        from_name=sender.from_name,
        subject=subject,
        message_id=message_id,
        raw=raw,
        html=html,
        text=text,
    )


def send_notice(make_backend: Callable[[], Backend], message: OutboundMessage) -> DeliveryResult:
    """Send one message now through a backend from ``make_backend()``, opened and
    closed around it. A delivery problem is the result, not an exception; a backend
    whose credentials are refused raises :class:`~syndicate.errors.BackendConfigError`.
    """
    with make_backend() as backend:
        (result,) = backend.deliver([message])
    return result


def operator_notice(
    *,
    sender: Sender,
    to_email: str,
    subject: str,
    text: str,
    now: datetime,
    signer: DKIMSigner | None = None,
) -> OutboundMessage:
    """A plain-text notice to the operators (an alert, a draft waiting for review).

    Like a confirmation it is outside the outbox: ``edition_id`` 0 and a negative
    ``delivery_id`` (minus the notice's Unix time) that no outbox row can have.
    Raises :class:`~syndicate.errors.MessageError` if a header value would be unsafe.
    """
    check_header_value("Subject", subject)
    check_header_value("To", to_email)
    number = secrets.randbelow(2**31 - 1) + 1
    message_id = f"<notice.{number}@{sender.message_id_domain}>"
    mail = EmailMessage(policy=SMTP)
    mail["From"] = formataddr((sender.from_name, sender.from_email))
    mail["To"] = to_email
    mail["Subject"] = subject
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = message_id
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(text)
    raw = mail.as_bytes()
    if signer is not None:
        raw = signer.sign(raw)
    return OutboundMessage(
        delivery_id=-number,
        edition_id=NOTICE_EDITION,
        channel="",
        to_email=to_email,
        to_name="",
        from_email=sender.from_email,
        from_name=sender.from_name,
        subject=subject,
        message_id=message_id,
        raw=raw,
        html="",
        text=text,
    )
