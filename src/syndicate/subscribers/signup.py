"""Subscribing from the web: request, double opt-in confirmation, preferences.

Plain functions over the store and the settings; the web layer (``syndicate.web.
subscribe`` and ``syndicate.web.preferences``) only turns HTTP into these calls.

* :func:`parse_signup` / :func:`parse_preferences` validate a submitted form against the
  channel's choices; :class:`InvalidForm` names each bad field and why.
* :meth:`Signups.request` records the request and returns the confirmation message to
  send, or ``None`` when nothing may be sent (already subscribed, bounced, complained).
  Callers answer the visitor the same way in every case (SE-6: no enumeration).
* :meth:`Signups.confirm` is the click; only it starts a subscription.
* :meth:`Signups.update_preferences` applies a subscriber's changes: cadence, sections,
  name, timezone and leaving channels at once; new channels take a confirmation mail.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from syndicate.config import ChannelConfig, Settings
from syndicate.delivery.compose import dkim_signer, sender
from syndicate.delivery.dkim import DKIMSigner
from syndicate.delivery.notice import ConfirmLink, confirmation_message
from syndicate.delivery.tokens import (
    CONFIRM_MAX_AGE,
    BadToken,
    Purpose,
    TokenClaims,
    TokenSigner,
)
from syndicate.digest import cadences_offered, edition_cadence
from syndicate.errors import SyndicateError
from syndicate.models import OutboundMessage, Subscriber, Subscription
from syndicate.store import Store
from syndicate.store.editions import OWN
from syndicate.store.signups import ConfirmOutcome, PendingRequest, SignupStore
from syndicate.store.subscribers import SubscriberStore
from syndicate.store.welcomes import enqueue_welcome, unwelcomed, welcomed
from syndicate.subscribers.roster import InvalidRow, check_timezone, normalise_email

log = logging.getLogger(__name__)

FormFields = Mapping[str, Sequence[str]]
MAX_NAME = 200
# How far back the scheduler looks for confirmations whose welcome a crash left out.
WELCOME_CATCH_UP = timedelta(days=1)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

CADENCE_LABELS = {
    "edition": "Every edition, as it comes out",
    "daily": "A daily round-up",
    "weekly": "A weekly round-up",
}


class InvalidForm(SyndicateError):
    """A submitted form that cannot be used. ``problems`` maps each bad field to why."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def subscribable(channels: Sequence[ChannelConfig]) -> dict[str, ChannelConfig]:
    """The channels one can subscribe to by email: those with their digest enabled.

    A channel whose digest is off sends no mail, so offering it would ask people to
    confirm a subscription that never delivers anything.
    """
    return {c.name: c for c in channels if c.digest.enabled}


def cadence_choices(channel: ChannelConfig, at: datetime) -> tuple[str, ...]:
    """The cadences a subscriber of ``channel`` can choose: its own (how often its
    editions come) and each longer one the scheduler serves as a round-up (a round-up
    turned off in the channel's ``[digest]`` is not offered: it would never send)."""
    natural = edition_cadence(channel, at)
    return tuple(natural if c == OWN else c for c in cadences_offered(channel, at))


def section_choices(channel: ChannelConfig) -> tuple[str, ...]:
    """The sections a subscriber may narrow ``channel`` to: its section filter, when it
    has two or more (a channel of any section, or of one, offers no choice)."""
    sections = channel.filters.sections
    return sections if len(sections) > 1 else ()


@dataclass(frozen=True, slots=True)
class SignupForm:
    """A valid subscribe form: who, and the subscription they asked for."""

    email: str
    name: str
    subscription: Subscription


def _first(fields: FormFields, key: str) -> str:
    values = fields.get(key) or ()
    return values[0] if values else ""


def _name(raw: str, problems: dict[str, str]) -> str:
    name = " ".join(raw.split())
    if len(name) > MAX_NAME:
        problems["name"] = f"at most {MAX_NAME} characters"
    elif _CONTROL.search(name):
        problems["name"] = "must not contain control characters"
    return name


def _subscription(
    channel: ChannelConfig, fields: FormFields, prefix: str, at: datetime
) -> tuple[Subscription, dict[str, str]]:
    """The cadence and sections for ``channel`` from fields ``<prefix>cadence`` and
    ``<prefix>sections``, checked against the channel's choices."""
    problems: dict[str, str] = {}
    cadences = cadence_choices(channel, at)
    cadence = _first(fields, f"{prefix}cadence") or cadences[0]
    if cadence not in cadences:
        problems[f"{prefix}cadence"] = f"choose one of: {', '.join(cadences)}"
    offered = section_choices(channel)
    picked = tuple(dict.fromkeys(fields.get(f"{prefix}sections") or ()))
    unknown = [s for s in picked if s not in offered]
    if unknown:
        choices = ", ".join(offered) or "none for this channel"
        problems[f"{prefix}sections"] = f"unknown section {unknown[0]!r} (choices: {choices})"
    # All sections ticked is the same as none: every story, including new sections.
    if set(picked) == set(offered):
        picked = ()
    return Subscription(channel.name, cadence, picked), problems


def parse_signup(channel: ChannelConfig, fields: FormFields, at: datetime) -> SignupForm:
    """Validate a subscribe form (``email``, ``name``, ``cadence``, ``sections``)."""
    problems: dict[str, str] = {}
    email = ""
    try:
        email = normalise_email(_first(fields, "email"))
    except InvalidRow:
        problems["email"] = "enter an email address such as name@example.com"
    name = _name(_first(fields, "name"), problems)
    subscription, more = _subscription(channel, fields, "", at)
    problems.update(more)
    if problems:
        raise InvalidForm(problems)
    return SignupForm(email, name, subscription)


@dataclass(frozen=True, slots=True)
class PreferencesChange:
    """A valid preferences form: what to keep (with new settings), leave and add."""

    name: str
    timezone: str
    keep: tuple[Subscription, ...] = ()
    leave: tuple[str, ...] = ()
    add: tuple[Subscription, ...] = ()


def parse_preferences(
    subscriber: Subscriber,
    channels: Mapping[str, ChannelConfig],
    fields: FormFields,
    at: datetime,
) -> PreferencesChange:
    """Validate a preferences form: ``name``, ``timezone``, ``channels`` (the ticked
    ones) and per channel ``<channel>.cadence`` and ``<channel>.sections``.

    A channel the subscriber has but that is no longer offered keeps its settings
    unless it is unticked.
    """
    problems: dict[str, str] = {}
    name = _name(_first(fields, "name"), problems)
    timezone = _first(fields, "timezone") or subscriber.timezone
    try:
        check_timezone(timezone)
    except InvalidRow:
        problems["timezone"] = f"unknown timezone {timezone!r}"
    ticked = set(fields.get("channels") or ())
    current = {s.channel: s for s in subscriber.subscriptions}
    unknown = sorted(ticked - set(channels) - set(current))
    if unknown:
        problems["channels"] = f"unknown channel {unknown[0]!r}"
    keep: list[Subscription] = []
    add: list[Subscription] = []
    for name_, channel in channels.items():
        if name_ not in ticked:
            continue
        sub, more = _subscription(channel, fields, f"{name_}.", at)
        problems.update(more)
        (keep if name_ in current else add).append(sub)
    keep += [s for c, s in current.items() if c in ticked and c not in channels]
    leave = tuple(c for c in current if c not in ticked)
    if problems:
        raise InvalidForm(problems)
    return PreferencesChange(name, timezone, tuple(keep), leave, tuple(add))


@dataclass
class PreferencesResult:
    """What :meth:`Signups.update_preferences` did; ``confirm`` is the message that
    asks the subscriber to confirm the channels in ``asked`` (``None`` if none)."""

    changed: bool = False
    left: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    confirm: OutboundMessage | None = None


class Signups:
    """Sign-ups for one instance: its store, channels, link signer and sender."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        channels: Sequence[ChannelConfig],
        tokens: TokenSigner,
        *,
        signer: DKIMSigner | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.channels = subscribable(channels)
        self.all_channels = {c.name: c for c in channels}
        self.tokens = tokens
        self.dkim = signer if signer is not None else dkim_signer(settings)
        self.sender = sender(settings)

    def request(
        self,
        email: str,
        name: str,
        subs: Sequence[Subscription],
        consent: Mapping[str, Any],
        now: datetime,
    ) -> OutboundMessage | None:
        """Record the requests and return the confirmation message to send, with one
        link per channel that needs confirming; ``None`` when there is nothing to send.
        The caller must answer the visitor the same way whatever this returns."""
        signups = SignupStore(self.store)
        signups.purge_expired(now - timedelta(seconds=CONFIRM_MAX_AGE))
        waiting: list[PendingRequest] = []
        for sub in subs:
            done = signups.request(email, name=name, subscription=sub, consent=consent, now=now)
            if done.pending is not None:
                waiting.append(done.pending)
        if not waiting:
            return None
        links = [
            ConfirmLink(
                self.channel_title(p.subscription.channel),
                self.confirm_url(p.subscriber_id, p.subscription.channel),
            )
            for p in waiting
        ]
        return confirmation_message(
            sender=self.sender,
            request_id=waiting[0].id,
            to_email=email,
            site_name=self.settings.site.name,
            postal_address=self.settings.site.postal_address,
            links=links,
            valid_days=CONFIRM_MAX_AGE // 86400,
            now=now,
            signer=self.dkim,
        )

    def confirm_url(self, subscriber_id: int, channel: str) -> str:
        """A signed, expiring link to confirm ``channel`` for the subscriber."""
        token = self.tokens.make("confirm", subscriber_id, channel)
        return f"{self.settings.site.base_url}/confirm/{token}"

    def channel_title(self, name: str) -> str:
        """The channel's title, or its name when it is no longer configured."""
        channel = self.all_channels.get(name)
        return channel.title if channel else name

    def claims(self, token: str, purpose: Purpose) -> TokenClaims:
        """The claims of ``token`` for ``purpose``; :class:`BadToken` if it is forged,
        altered, for another purpose or (a confirmation) expired."""
        return self.tokens.verify(token, purpose)

    def pending(self, claims: TokenClaims) -> PendingRequest | None:
        """The request a confirmation link is for, if it is still waiting."""
        return SignupStore(self.store).pending(claims.subscriber_id, claims.channel)

    def confirm(
        self, claims: TokenClaims, consent: Mapping[str, Any], now: datetime
    ) -> ConfirmOutcome:
        """The confirmation click: start the subscription the link is for, and queue
        the channel's welcome edition (:meth:`welcome`) when this click started it."""
        outcome = SignupStore(self.store).confirm(
            claims.subscriber_id, claims.channel, consent=consent, now=now
        )
        if outcome == "confirmed":
            self.welcome(claims.subscriber_id, claims.channel, now)
        return outcome

    def welcome(self, subscriber_id: int, channel: str, now: datetime) -> int | None:
        """Queue the welcome edition of ``channel`` (``[digest] welcome``) for the
        subscriber in the outbox, once per subscriber and channel ever; returns the
        delivery's id, or ``None`` when none is sent (off, nothing to send yet, already
        welcomed, or it could not be built: that is logged, and the subscription stands).

        A crash between the confirmation's commit and this enqueue leaves the welcome
        to :meth:`welcome_missed`, which the scheduler runs; it never doubles it.
        """
        config = self.channels.get(channel)
        if config is None or config.digest.welcome == "off":
            return None
        if welcomed(self.store, subscriber_id, channel):
            return None  # the usual case of a second click: skip building
        from syndicate.digest.welcome import build_welcome  # MJML and ranking: on use

        try:
            edition = build_welcome(self.store, self.settings, config, now)
            if edition is None:
                return None
            return enqueue_welcome(self.store, subscriber_id, channel, edition.id, now)
        except (SyndicateError, SQLAlchemyError):
            # The confirmation is committed: a welcome that cannot be made must not
            # turn it into an error page. Nothing was queued, so none is sent.
            log.exception("could not queue the welcome edition of %s", channel)
            return None

    def welcome_missed(self, now: datetime, window: timedelta = WELCOME_CATCH_UP) -> int:
        """Queue the welcomes of confirmations made within ``window`` before ``now``
        that have none (a crash came between the confirmation's commit and
        :meth:`welcome`); returns how many were queued. Run by the scheduler, so a
        welcome is late after a crash, never lost and never doubled."""
        queued = 0
        for subscriber_id, channel in unwelcomed(self.store, now - window):
            if self.welcome(subscriber_id, channel, now) is not None:
                queued += 1
        return queued

    def preferences_url(self, subscriber_id: int, channel: str) -> str:
        """A signed link to the subscriber's preferences page."""
        token = self.tokens.make("preferences", subscriber_id, channel)
        return f"{self.settings.site.base_url}/p/{token}"

    def subscriber(self, claims: TokenClaims) -> Subscriber | None:
        """The subscriber a preferences link belongs to."""
        return SubscriberStore(self.store).get_by_id(claims.subscriber_id)

    def update_preferences(
        self,
        subscriber: Subscriber,
        change: PreferencesChange,
        consent: Mapping[str, Any],
        now: datetime,
    ) -> PreferencesResult:
        """Apply ``change``: settings at once, unticked channels left at once (the
        last one suppresses the address, as unsubscribing does), new channels by a
        confirmation mail (returned in the result, to send)."""
        result = PreferencesResult()
        result.changed = SignupStore(self.store).update_preferences(
            subscriber.id,
            name=change.name,
            timezone=change.timezone,
            subs=change.keep,
            now=now,
        )
        people = SubscriberStore(self.store)
        for channel in change.leave:
            if people.unsubscribe(subscriber.id, channel, source="preferences", now=now):
                result.left.append(channel)
        if change.add:
            result.asked = [s.channel for s in change.add]
            result.confirm = self.request(subscriber.email, "", change.add, consent, now)
        return result


def claims_or_none(signups: Signups, token: str, purpose: Purpose) -> TokenClaims | None:
    """:meth:`Signups.claims`, with ``None`` for a bad token."""
    try:
        return signups.claims(token, purpose)
    except BadToken:
        return None
