"""From a stored edition to each subscriber's message.

:class:`EditionMessages` is the dispatcher's :class:`~syndicate.delivery.dispatch.MessageSource`:
per edition it encodes the stored parts and the message headers once (a
:class:`MessageTemplate`); per recipient it signs the subscription tokens and renders
the bytes.

Per-reader memory: an edition holds more "More from" candidates than a reader sees.
:meth:`EditionMessages.choose` reads, for a whole batch at once, what its readers
received in the last ``related_memory_days`` (:class:`~syndicate.store.ledger.Ledger`)
and picks each reader's first ``related_k`` unseen candidates; the dispatcher records
that choice on the delivery before the first send, and every retry shows it again.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from syndicate.config import ChannelConfig, DigestSettings, Settings, read_secret
from syndicate.delivery.dkim import DKIMSigner
from syndicate.delivery.message import MessageTemplate, Recipient, Sender
from syndicate.delivery.tokens import TokenSigner
from syndicate.digest.picks import ranks
from syndicate.errors import ConfigError, MessageError
from syndicate.models import OutboundMessage
from syndicate.store import Store
from syndicate.store.editions import EditionRecord, get_edition_by_id
from syndicate.store.ledger import Ledger
from syndicate.store.outbox import Claimed
from syndicate.store.stories import cluster_siblings

log = logging.getLogger(__name__)

GENERATED_KEY = Path("var/secret.key")


def signing_key(settings: Settings) -> str:
    """The instance's secret for signed links and forms.

    The key comes from ``SYNDICATE_SECURITY__SECRET_KEY`` or ``security.secret_key_file``.
    With neither, a random key is generated once into ``var/secret.key`` (mode 0600) so
    the embedded defaults work; links stay valid as long as that file is kept.
    """
    key = settings.secret_key()
    if key is not None:
        return key
    path = settings.resolve(GENERATED_KEY)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        log.warning(
            "generated a link-signing key at %s: it signs the unsubscribe, preferences and "
            "confirmation links in every message. Keep this file (or set "
            "SYNDICATE_SECURITY__SECRET_KEY to its contents): with a new key, the links in "
            "mail already sent stop working",
            path,
        )
    return path.read_text(encoding="utf-8").strip()


def token_signer(settings: Settings) -> TokenSigner:
    """The signer for subscriber links, keyed with :func:`signing_key`."""
    return TokenSigner(signing_key(settings))


def dkim_signer(settings: Settings) -> DKIMSigner | None:
    """The DKIM signer, or ``None`` when ``delivery.dkim_domain`` is empty."""
    d = settings.delivery
    if not d.dkim_domain:
        return None
    pem = read_secret(d.dkim_key, d.dkim_key_file, settings)
    if pem is None:
        raise ConfigError(
            "delivery.dkim_domain is set but there is no key: set SYNDICATE_DELIVERY__DKIM_KEY "
            "or delivery.dkim_key_file"
        )
    return DKIMSigner.from_pem(d.dkim_domain, d.dkim_selector, pem.encode("ascii"))


def sender(settings: Settings) -> Sender:
    """The instance's sending identity from ``[delivery]`` and ``[site]``."""
    d = settings.delivery
    return Sender(
        from_email=d.from_email,
        from_name=d.from_name or settings.site.name,
        message_id_domain=d.message_id_domain or d.sending_domain,
        list_id_domain=d.list_id_domain or d.sending_domain,
        reply_to=d.reply_to,
        feedback_id=d.feedback_id,
    )


class EditionMessages:
    """Builds each claimed delivery's message from its stored edition."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        channels: dict[str, ChannelConfig],
        *,
        signer: DKIMSigner | None = None,
        tokens: TokenSigner | None = None,
        parts: bool = True,
    ) -> None:
        self.store = store
        # False for a backend that sends only ``raw`` (``Backend.raw_only``): the
        # messages are then built without their ``html`` and ``text`` strings.
        self.parts = parts
        self.settings = settings
        self.channels = channels
        self.signer = signer if signer is not None else dkim_signer(settings)
        self.tokens = tokens or token_signer(settings)
        self.sender = sender(settings)
        self.ledger = Ledger(store)
        self._cache: dict[tuple[int, tuple[str, ...]], MessageTemplate] = {}
        # Each edition's (story ids, related ids): what a reader of it receives.
        self._ids: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        # Each edition's candidates' story-cluster siblings (other sources' copies).
        self._siblings: dict[int, dict[str, frozenset[str]]] = {}

    def _edition(self, edition_id: int, sections: tuple[str, ...] = ()) -> MessageTemplate:
        """The edition's message template; for subscribers who chose sections, the
        edition rendered with only their sections' stories and a subject and preheader
        about those (one render per distinct choice, cached), unless all its stories
        are in those sections anyway."""
        segment = tuple(sorted({s.casefold() for s in sections}))
        key = (edition_id, segment)
        if key not in self._cache:
            record = self._record(edition_id)
            channel = self.channels.get(record.channel)
            title = channel.title if channel else record.channel
            subject, html, text = record.subject, record.html, record.text
            if segment and channel is not None:
                subject, html, text = self._segment(record, channel, segment)
            template = MessageTemplate(
                sender=self.sender,
                edition_id=edition_id,
                channel=record.channel,
                channel_title=title,
                subject=subject,
                html=html,
                text=text,
                signer=self.signer,
                instance_key=self.settings.site.tag_authority,
                message_salt=record.message_salt,
            )
            if len(self._cache) >= 32:  # a long-running sender must not grow without bound
                self._cache.clear()
            self._cache[key] = template
        return self._cache[key]

    def _record(self, edition_id: int) -> EditionRecord:
        record = get_edition_by_id(self.store, edition_id)
        if record is None:
            raise MessageError(f"edition {edition_id} does not exist")
        if len(self._ids) >= 1024:
            self._ids.clear()
        self._ids[edition_id] = (record.article_ids, record.related_ids)
        return record

    def _articles(self, edition_id: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(story ids, related ids) of an edition."""
        if edition_id not in self._ids:
            self._record(edition_id)
        return self._ids[edition_id]

    def _cluster_siblings(self, edition_id: int) -> dict[str, frozenset[str]]:
        """The other members of each candidate's story cluster (absent: none)."""
        if edition_id not in self._siblings:
            if len(self._siblings) >= 1024:
                self._siblings.clear()
            candidates = self._articles(edition_id)[1]
            self._siblings[edition_id] = cluster_siblings(self.store, candidates)
        return self._siblings[edition_id]

    def _memory_days(self, channel: str) -> int:
        config = self.channels.get(channel)
        digest = config.digest if config is not None else DigestSettings()
        return digest.related_memory_days

    def choose(self, claimed: Sequence[Claimed], now: datetime) -> dict[int, int]:
        """The "More from" picks for each of ``claimed`` ({delivery id: mask}): the first
        ``related_k`` candidates its reader has not received in the last
        ``related_memory_days`` of its channel (every candidate counts as unseen when
        that is 0). What the batch's readers received is read in one query per distinct
        window; a reader with two deliveries in the batch has the first one counted for
        the second. Deliveries whose edition is gone are left out (building their
        message reports it)."""
        templates: dict[int, MessageTemplate] = {}
        by_window: dict[int, set[int]] = defaultdict(set)
        for item in claimed:
            try:
                templates[item.id] = self._edition(item.edition_id, item.sections)
            except MessageError:
                continue
            by_window[self._memory_days(item.channel)].add(item.subscriber_id)
        skip = [c.id for c in claimed]
        among: set[str] = set()
        for c in claimed:
            if c.id in templates:
                among.update(self._articles(c.edition_id)[1])
                for members in self._cluster_siblings(c.edition_id).values():
                    among.update(members)
        ledgers = {
            days: self.ledger.received(ids, now - timedelta(days=days), skip=skip, among=among)
            for days, ids in by_window.items()
            if days > 0
        }
        in_batch: dict[int, set[str]] = defaultdict(set)
        chosen: dict[int, int] = {}
        for item in claimed:
            template = templates.get(item.id)
            if template is None:
                continue
            stories, candidates = self._articles(item.edition_id)
            days = self._memory_days(item.channel)
            seen: Collection[str] = ()
            if days:
                got = ledgers[days][item.subscriber_id] | in_batch[item.subscriber_id]
                # Another source's copy of a story they received is that story.
                siblings = self._cluster_siblings(item.edition_id)
                seen = got | {c for c in candidates if siblings.get(c, frozenset()) & got}
            mask = chosen[item.id] = template.choose(candidates, seen)
            in_batch[item.subscriber_id].update(stories)
            in_batch[item.subscriber_id].update(
                candidates[n] for n in ranks(mask) if n < len(candidates)
            )
        return chosen

    def _segment(
        self, record: EditionRecord, channel: ChannelConfig, sections: tuple[str, ...]
    ) -> tuple[str, str, str]:
        """(subject, html, text) of the copy for readers of ``sections``."""
        from syndicate.digest import DigestTemplates, render_edition
        from syndicate.digest.compose import for_sections, load_edition  # load on use

        edition = load_edition(self.store, record)
        templates = DigestTemplates(self.settings)
        copy = for_sections(edition, sections, self.settings, channel, templates)
        if copy is edition:
            return record.subject, record.html, record.text  # nothing to leave out
        rendered = render_edition(copy, self.settings, channel, templates)
        return rendered.subject, rendered.html, rendered.text

    def recipient(self, claimed: Claimed) -> Recipient:
        """The recipient with signed unsubscribe and preference links."""
        base = self.settings.site.base_url
        unsub = self.tokens.make("unsubscribe", claimed.subscriber_id, claimed.channel)
        prefs = self.tokens.make("preferences", claimed.subscriber_id, claimed.channel)
        mailto = ""
        if self.settings.delivery.unsubscribe_mailto:
            mailto = (
                f"mailto:{self.settings.delivery.unsubscribe_mailto}"
                f"?subject={quote('unsubscribe ' + unsub)}"
            )
        return Recipient(
            delivery_id=claimed.id,
            subscriber_id=claimed.subscriber_id,
            email=claimed.email,
            name=claimed.name,
            unsubscribe_url=f"{base}/u/{unsub}",
            preferences_url=f"{base}/p/{prefs}",
            unsubscribe_mailto=mailto,
        )

    def message(self, claimed: Claimed, now: datetime) -> OutboundMessage:
        """The personalised, signed message for one claimed delivery, with the picks
        recorded for it (``claimed.picks``), else those :meth:`choose` gives."""
        template = self._edition(claimed.edition_id, claimed.sections)
        picks = claimed.picks
        if picks is None:
            picks = self.choose([claimed], now).get(claimed.id)
        return template.render(self.recipient(claimed), now, picks, parts=self.parts)
