"""Task-shaped queries for double opt-in (STANDARDS SE-6) and the preferences page.

A web sign-up never writes ``subscriptions`` directly: it leaves a request in
``subscription_requests`` and only the confirmation click turns it into a subscription,
so nothing can be sent to an address before its owner has clicked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from syndicate.models import Subscription
from syndicate.store.consent_schema import erased_addresses
from syndicate.store.consents import ConsentRecord, email_hash, record_in
from syndicate.store.core import Store
from syndicate.store.delivery_schema import subscribers, subscriptions, suppressions
from syndicate.store.signup_schema import subscription_requests

RequestOutcome = Literal["mail", "subscribed", "blocked"]
ConfirmOutcome = Literal["confirmed", "already", "missing"]
# Addresses that get no confirmation mail at all: mail to a hard-bounced address
# bounces again, and a complainer must not be mailed because a stranger typed their
# address in (SU-2). Both can still be re-added by the operator on request.
BLOCKED = frozenset({"bounced", "complained"})


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A subscription waiting for its confirmation click."""

    id: int
    subscriber_id: int
    email: str
    subscription: Subscription
    requested_at: datetime


@dataclass(frozen=True, slots=True)
class Requested:
    """What :meth:`SignupStore.request` did.

    ``mail``: a request is waiting and ``pending`` must be sent a confirmation;
    ``subscribed``: the address already receives the channel, nothing to send;
    ``blocked``: the address bounced or complained, nothing to send.
    """

    outcome: RequestOutcome
    pending: PendingRequest | None = None


class SignupStore:
    """Subscription requests, their confirmation, and subscribers' own changes."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine

    def request(
        self,
        email: str,
        *,
        name: str,
        subscription: Subscription,
        consent: Mapping[str, Any],
        now: datetime,
    ) -> Requested:
        """Record that ``email`` asked for ``subscription``, replacing an earlier request
        for the same channel. A new address becomes a ``pending`` subscriber (its name
        is kept only while it is pending: nobody may rename a confirmed subscriber by
        typing their address). Changes nothing that is already confirmed."""
        try:
            return self._request(email, name, subscription, consent, now)
        except IntegrityError:
            # Two requests for one new address (or channel) raced; the loser retries
            # once and now finds the winner's row.
            return self._request(email, name, subscription, consent, now)

    def _request(
        self,
        email: str,
        name: str,
        subscription: Subscription,
        consent: Mapping[str, Any],
        now: datetime,
    ) -> Requested:
        with self.engine.begin() as conn:
            reason = conn.execute(
                select(suppressions.c.reason).where(suppressions.c.email == email)
            ).scalar_one_or_none()
            if reason in BLOCKED:
                return Requested("blocked")
            row = conn.execute(select(subscribers).where(subscribers.c.email == email)).first()
            if row is None:
                sid = conn.execute(
                    insert(subscribers)
                    .returning(subscribers.c.id)
                    .values(
                        email=email,
                        name=name,
                        status="pending",
                        timezone="UTC",
                        consent={},
                        created_at=now,
                        updated_at=now,
                    )
                ).scalar_one()
            else:
                sid = row.id
                if row.status in BLOCKED:
                    return Requested("blocked")
                if row.status == "active" and _subscribed(conn, sid, subscription.channel):
                    return Requested("subscribed")
                if row.status == "pending" and name and name != row.name:
                    conn.execute(
                        update(subscribers)
                        .where(subscribers.c.id == sid)
                        .values(name=name, updated_at=now)
                    )
            conn.execute(
                delete(subscription_requests).where(
                    subscription_requests.c.subscriber_id == sid,
                    subscription_requests.c.channel == subscription.channel,
                )
            )
            request_id = conn.execute(
                insert(subscription_requests)
                .returning(subscription_requests.c.id)
                .values(
                    subscriber_id=sid,
                    channel=subscription.channel,
                    cadence=subscription.cadence,
                    sections=list(subscription.sections),
                    consent=dict(consent),
                    requested_at=now,
                )
            ).scalar_one()
        return Requested("mail", PendingRequest(request_id, sid, email, subscription, now))

    def pending(self, subscriber_id: int, channel: str) -> PendingRequest | None:
        """The request waiting for ``subscriber_id``'s click on ``channel``, if any."""
        query = (
            select(subscription_requests, subscribers.c.email)
            .join(subscribers, subscribers.c.id == subscription_requests.c.subscriber_id)
            .where(
                subscription_requests.c.subscriber_id == subscriber_id,
                subscription_requests.c.channel == channel,
            )
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        sub = Subscription(row.channel, row.cadence, tuple(row.sections))
        return PendingRequest(row.id, row.subscriber_id, row.email, sub, row.requested_at)

    def confirm(
        self,
        subscriber_id: int,
        channel: str,
        *,
        consent: Mapping[str, Any],
        now: datetime,
    ) -> ConfirmOutcome:
        """Turn the waiting request into a subscription, in one transaction.

        The subscriber becomes ``active`` and leaves the suppression list (a fresh
        confirmed opt-in, SU-2); the proof of consent (request and confirmation: time,
        address, user agent, form) is kept in ``subscribers.consent["web"][channel]``.
        ``already`` when there is no request but the subscription exists (a second
        click), ``missing`` when there is neither.
        """
        with self.engine.begin() as conn:
            # Deleting first claims the request: of two clicks at once, one gets the
            # row and the other finds nothing and answers "already".
            claimed = conn.execute(
                delete(subscription_requests)
                .where(
                    subscription_requests.c.subscriber_id == subscriber_id,
                    subscription_requests.c.channel == channel,
                )
                .returning(
                    subscription_requests.c.cadence,
                    subscription_requests.c.sections,
                    subscription_requests.c.consent,
                    subscription_requests.c.requested_at,
                )
            ).first()
            row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
            if row is None:
                return "missing"
            if claimed is None:
                active = row.status == "active" and _subscribed(conn, subscriber_id, channel)
                return "already" if active else "missing"
            conn.execute(
                delete(subscriptions).where(
                    subscriptions.c.subscriber_id == subscriber_id,
                    subscriptions.c.channel == channel,
                )
            )
            conn.execute(
                insert(subscriptions).values(
                    subscriber_id=subscriber_id,
                    channel=channel,
                    cadence=claimed.cadence,
                    sections=list(claimed.sections),
                    created_at=now,
                )
            )
            proof = dict(row.consent or {})
            web = dict(proof.get("web") or {})
            web[channel] = {
                "requested": {**claimed.consent, "at": claimed.requested_at.isoformat()},
                "confirmed": {**consent, "at": now.isoformat()},
            }
            proof["web"] = web
            values: dict[str, Any] = {"status": "active", "consent": proof, "updated_at": now}
            if row.status != "active":
                values["confirmed_at"] = now
            conn.execute(
                update(subscribers).where(subscribers.c.id == subscriber_id).values(values)
            )
            conn.execute(delete(suppressions).where(suppressions.c.email == row.email))
            # A fresh confirmed opt-in also lifts an earlier erasure's "never again".
            conn.execute(
                delete(erased_addresses).where(
                    erased_addresses.c.email_hash == email_hash(row.email)
                )
            )
            record_in(conn, subscriber_id, _form_record(channel, claimed, consent, now))
        return "confirmed"

    def purge_expired(self, before: datetime) -> int:
        """Drop requests made before ``before`` (their links have expired) and pending
        subscribers left with nothing: an unconfirmed address is not kept. Returns the
        number of requests dropped."""
        with self.engine.begin() as conn:
            dropped = conn.execute(
                delete(subscription_requests).where(subscription_requests.c.requested_at < before)
            ).rowcount
            waiting = select(subscription_requests.c.subscriber_id)
            having = select(subscriptions.c.subscriber_id)
            conn.execute(
                delete(subscribers).where(
                    subscribers.c.status == "pending",
                    subscribers.c.created_at < before,
                    subscribers.c.id.not_in(waiting),
                    subscribers.c.id.not_in(having),
                )
            )
        return int(dropped)

    def update_preferences(
        self,
        subscriber_id: int,
        *,
        name: str,
        timezone: str,
        subs: Sequence[Subscription],
        now: datetime,
    ) -> bool:
        """Set the name, timezone and the cadence and sections of subscriptions the
        subscriber already has. Never adds a channel (that takes a confirmation) and
        never ends one (see :meth:`SubscriberStore.unsubscribe`). True if anything
        changed."""
        changed = False
        with self.engine.begin() as conn:
            done = conn.execute(
                update(subscribers)
                .where(
                    subscribers.c.id == subscriber_id,
                    (subscribers.c.name != name) | (subscribers.c.timezone != timezone),
                )
                .values(name=name, timezone=timezone, updated_at=now)
            )
            changed |= bool(done.rowcount)
            current = {
                r.channel: Subscription(r.channel, r.cadence, tuple(r.sections))
                for r in conn.execute(
                    select(subscriptions).where(subscriptions.c.subscriber_id == subscriber_id)
                )
            }
            for sub in subs:
                if sub.channel not in current or current[sub.channel] == sub:
                    continue
                conn.execute(
                    update(subscriptions)
                    .where(
                        subscriptions.c.subscriber_id == subscriber_id,
                        subscriptions.c.channel == sub.channel,
                    )
                    .values(cadence=sub.cadence, sections=list(sub.sections))
                )
                changed = True
        return changed


def _form_record(
    channel: str, claimed: Any, confirmed: Mapping[str, Any], now: datetime
) -> ConsentRecord:
    """The consent record of a web sign-up confirmed by its link (double opt-in): the
    form, the user agent and the client's network (never its address) at both steps."""
    requested = claimed.consent or {}
    return ConsentRecord(
        channel=channel,
        method="form",
        source=str(requested.get("form") or "web"),
        given_at=claimed.requested_at,
        confirmed_at=now,
        recorded_at=now,
        detail={
            "optin": "double",
            "network": requested.get("network", ""),
            "user_agent": requested.get("user_agent", ""),
            "confirm_form": confirmed.get("form", ""),
            "confirm_network": confirmed.get("network", ""),
        },
    )


def _subscribed(conn: Connection, subscriber_id: int, channel: str) -> bool:
    found = conn.execute(
        select(subscriptions.c.channel).where(
            subscriptions.c.subscriber_id == subscriber_id, subscriptions.c.channel == channel
        )
    )
    return found.first() is not None
