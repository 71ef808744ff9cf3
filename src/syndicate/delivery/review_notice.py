"""Telling the editors that a draft is waiting: one message per operator, once per draft.

Sent through the configured backend, outside the outbox, as an operator notice
(:func:`syndicate.delivery.notice.operator_notice`: ``edition_id`` 0 and a negative
``delivery_id``, so it can never be mistaken for a delivery). The draft's notice is
claimed in the store before anything is sent, so however many scheduler passes (or
schedulers) see the draft, its editors hear of it once; a send that fails is logged
and not retried (the draft is on the console's Today page all the same).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from syndicate.config import ChannelConfig, Settings
from syndicate.delivery.base import Backend
from syndicate.delivery.compose import dkim_signer, sender
from syndicate.delivery.dkim import DKIMSigner
from syndicate.delivery.message import check_header_value
from syndicate.delivery.notice import operator_notice
from syndicate.models import OutboundMessage
from syndicate.store import Store
from syndicate.store.editions import EditionRecord
from syndicate.store.operators import Operators
from syndicate.store.reviews import claim_notice

log = logging.getLogger(__name__)


def edition_link(settings: Settings, edition_id: int) -> str:
    """The console page of an edition, as a full URL."""
    base = settings.site.base_url.rstrip("/")
    return f"{base}{settings.console.path}/editions/{edition_id}"


def draft_message(
    settings: Settings,
    channel: ChannelConfig,
    record: EditionRecord,
    to_email: str,
    now: datetime,
    signer: DKIMSigner | None = None,
) -> OutboundMessage:
    """The notice to one editor that ``record`` waits for review (an operator notice,
    DKIM-signed like every message when a key is configured)."""
    who = sender(settings)
    digest = channel.digest
    subject = check_header_value("Subject", f"Draft to review: {channel.title} — {record.subject}")
    if digest.review == "approve":
        rule = "It goes out only once an editor approves it."
    else:
        rule = "It goes out at its slot unless an editor holds it."
    text = (
        f"The next edition of {channel.title} is ready for review.\n\n"
        f"Subject: {record.subject}\n"
        f"Slot: {record.slot:%Y-%m-%d %H:%M} UTC\n\n"
        f"{rule}\n\n"
        f"Review it: {edition_link(settings, record.id)}\n"
    )
    return operator_notice(
        sender=who, to_email=to_email, subject=subject, text=text, now=now, signer=signer
    )


def notify_editors(
    store: Store,
    settings: Settings,
    channel: ChannelConfig,
    record: EditionRecord,
    make_backend: Callable[[], Backend],
    now: datetime,
) -> int:
    """Tell the channel's operators (those with no channels named, and those who named
    this one) about the draft ``record``, unless that was done already; returns how
    many messages were handed to the backend."""
    editors = [op for op in Operators(store).all() if op.edits(channel.name)]
    if not editors or not claim_notice(store, record.id, now):
        return 0
    signer = dkim_signer(settings)
    messages = [draft_message(settings, channel, record, op.email, now, signer) for op in editors]
    try:
        with make_backend() as backend:
            results = backend.deliver(messages)
    except Exception:  # the draft stays reviewable on the console; never stop a pass
        log.exception("edition %d: the editors could not be told of the draft", record.id)
        return 0
    for message, result in zip(messages, results, strict=False):
        if result.status not in ("sent", "queued"):
            log.error("draft notice to %s not sent: %s", message.to_email, result.error)
    return len(messages)
