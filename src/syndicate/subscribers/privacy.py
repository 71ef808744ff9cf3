"""A subscriber's data on request: download everything held about them, and erase it.

* :func:`export_data` — the JSON a subscriber downloads from their preferences page
  (and ``syndicate subscribers export-data`` prints): profile, subscriptions, waiting
  requests, consent records, delivery history (which editions, when; never the
  message bodies), suppression and provider events.
* :func:`erasure_request` — the mail a subscriber gets after asking, from the
  preferences page, to be erased: one signed link (an ``erase`` token, valid 7 days)
  to a page with an **Erase** button. Nothing is erased before that button.
* :func:`erase` — deletes everything in one transaction and keeps only a hash of the
  address (:func:`syndicate.store.consents.email_hash`), so it is never mailed again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syndicate.delivery.notice import erasure_message
from syndicate.delivery.tokens import CONFIRM_MAX_AGE
from syndicate.models import OutboundMessage, Subscriber
from syndicate.store import Store
from syndicate.store.privacy import PrivacyStore
from syndicate.subscribers.signup import Signups

FORMAT_VERSION = 1


def export_data(store: Store, email: str, now: datetime) -> dict[str, Any] | None:
    """Everything held about ``email`` (normalised), or ``None`` if nothing is."""
    data = PrivacyStore(store).data_of(email)
    if data is None:
        return None
    return {
        "format": "syndicate.subscriber-data",
        "version": FORMAT_VERSION,
        "exported_at": now.isoformat(),
        **data,
    }


def erase(store: Store, email: str, now: datetime) -> bool:
    """Erase everything held about ``email``; True if anything was held. The address's
    hash is kept either way, so nothing is ever sent to it again."""
    return PrivacyStore(store).erase(email, now)


def erase_url(signups: Signups, subscriber_id: int) -> str:
    """The signed, expiring link that confirms a subscriber's erasure."""
    token = signups.tokens.make("erase", subscriber_id, "")
    return f"{signups.settings.site.base_url}/erase/{token}"


def erasure_request(signups: Signups, subscriber: Subscriber, now: datetime) -> OutboundMessage:
    """The message asking ``subscriber`` to confirm their erasure."""
    return erasure_message(
        sender=signups.sender,
        subscriber_id=subscriber.id,
        to_email=subscriber.email,
        site_name=signups.settings.site.name,
        postal_address=signups.settings.site.postal_address,
        url=erase_url(signups, subscriber.id),
        valid_days=CONFIRM_MAX_AGE // 86400,
        now=now,
        signer=signups.dkim,
    )
