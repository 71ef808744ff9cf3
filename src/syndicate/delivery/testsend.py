"""Test sends: an edition (a draft or any past one) sent to arbitrary addresses.

A test message is built by the same code as a delivery (:class:`MessageTemplate`) for
one segment (the copy of readers who chose some sections; none: the whole edition),
with the sample reader's placeholder links. It says it is a test where filters and
people look: ``[TEST]`` before the subject and a ``List-Id`` of its own
(``test-<channel>.<domain>``), so it never threads or filters with the real list. It
never touches the outbox: ``edition_id`` is 0 and ``delivery_id`` negative, like the
other notices. Every test send is written to the audit log, which is also what the
hourly limit (``[console] test_sends_per_hour``) counts, so the console and the CLI
share it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email

from syndicate.config import ChannelConfig, Settings
from syndicate.delivery.base import Backend
from syndicate.delivery.compose import sender
from syndicate.delivery.message import MessageTemplate
from syndicate.delivery.message import Recipient as MailRecipient
from syndicate.delivery.notice import NOTICE_EDITION
from syndicate.digest.links import SAMPLE_RECIPIENT, PlaceholderLinks
from syndicate.errors import MessageError
from syndicate.models import DeliveryResult, OutboundMessage
from syndicate.store import Store
from syndicate.store.editions import EditionRecord
from syndicate.store.operators import Operators

TEST_PREFIX = "[TEST] "
ACTION = "edition.test-send"
MAX_ADDRESSES = 20
"""The most addresses one test send may go to."""


class TestSendRefused(MessageError):
    """A test send that may not go: bad or too many addresses, or over the hourly limit."""

    __test__ = False  # not a pytest class


def segment_parts(
    store: Store,
    settings: Settings,
    channel: ChannelConfig,
    record: EditionRecord,
    sections: Sequence[str] = (),
) -> tuple[str, str, str, str]:
    """(subject, preheader, html, text) of the copy readers of ``sections`` get (all of
    it when they chose none, or every story is in them): what the console previews."""
    if not sections:
        return record.subject, record.preheader, record.html, record.text
    from syndicate.digest import DigestTemplates, render_edition
    from syndicate.digest.compose import for_sections, load_edition  # load on use

    edition = load_edition(store, record)
    templates = DigestTemplates(settings)
    copy = for_sections(edition, sections, settings, channel, templates)
    if copy is edition:
        return record.subject, record.preheader, record.html, record.text
    rendered = render_edition(copy, settings, channel, templates)
    return rendered.subject, rendered.preheader, rendered.html, rendered.text


def sample_parts(
    store: Store,
    settings: Settings,
    channel: ChannelConfig,
    record: EditionRecord,
    sections: Sequence[str] = (),
) -> tuple[str, str, str, str]:
    """(subject, preheader, html, text) of one segment's copy as the sample reader gets
    it: the message delivery would build, its placeholders filled."""
    subject, preheader, _, _ = segment_parts(store, settings, channel, record, sections)
    (message,) = test_messages(
        store, settings, channel, record, [SAMPLE_RECIPIENT.email], record.created_at, sections
    )
    return subject, preheader, message.html, message.text


def check_addresses(addresses: Sequence[str]) -> list[str]:
    """The addresses, normalised and de-duplicated; TestSendRefused for a bad one."""
    clean: list[str] = []
    for address in addresses:
        try:
            email = validate_email(address.strip(), check_deliverability=False).normalized
        except EmailNotValidError as err:
            raise TestSendRefused(f"{address.strip()!r} is not an email address: {err}") from err
        if email not in clean:
            clean.append(email)
    if not clean:
        raise TestSendRefused("no address to send the test to")
    if len(clean) > MAX_ADDRESSES:
        raise TestSendRefused(f"at most {MAX_ADDRESSES} addresses per test send")
    return clean


def test_messages(
    store: Store,
    settings: Settings,
    channel: ChannelConfig,
    record: EditionRecord,
    addresses: Sequence[str],
    now: datetime,
    sections: Sequence[str] = (),
) -> list[OutboundMessage]:
    """The test copies of ``record`` for ``addresses`` (already checked)."""
    subject, _, html, text = segment_parts(store, settings, channel, record, sections)
    template = MessageTemplate(
        sender=sender(settings),
        edition_id=NOTICE_EDITION,
        channel=f"test-{record.channel}",
        channel_title=f"TEST {channel.title}",
        subject=TEST_PREFIX + subject,
        html=html,
        text=text,
        instance_key=settings.site.tag_authority,
    )
    links = PlaceholderLinks(settings.site.base_url)
    messages = []
    for n, address in enumerate(addresses, 1):
        sample = replace(SAMPLE_RECIPIENT, email=address)
        message = template.render(
            MailRecipient(
                delivery_id=-n,
                subscriber_id=0,
                email=address,
                name=sample.name,
                unsubscribe_url=links.unsubscribe(sample),
                preferences_url=links.preferences(sample),
            ),
            now,
        )
        messages.append(replace(message, delivery_id=-n, edition_id=NOTICE_EDITION))
    return messages


def send_test(
    store: Store,
    settings: Settings,
    channel: ChannelConfig,
    record: EditionRecord,
    addresses: Sequence[str],
    *,
    actor: str,
    now: datetime,
    make_backend: Callable[[], Backend],
    sections: Sequence[str] = (),
) -> list[DeliveryResult]:
    """Send test copies of ``record`` to ``addresses`` now; the backend's results.

    Raises :class:`TestSendRefused` (nothing sent) for bad addresses or when the
    hourly limit would be passed.
    """
    clean = check_addresses(addresses)
    operators = Operators(store)
    limit = settings.console.test_sends_per_hour
    sent = sum(
        int((e.after or {}).get("messages", 0))
        for e in operators.audit_since(ACTION, now - timedelta(hours=1))
    )
    if sent + len(clean) > limit:
        raise TestSendRefused(
            f"test sends are limited to {limit} messages an hour ({sent} sent in the last hour)"
        )
    messages = test_messages(store, settings, channel, record, clean, now, sections)
    # Recorded before sending: a crash mid-send still counts against the limit.
    operators.audit(
        actor,
        ACTION,
        f"edition {record.id}",
        now,
        after={"messages": len(clean), "to": clean, "sections": list(sections)},
    )
    with make_backend() as backend:
        return backend.deliver(messages)
