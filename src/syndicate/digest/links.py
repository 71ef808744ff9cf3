"""Links in a digest: subscription links per recipient, the browser copy, UTM tags.

The browser copy of an edition is its page in the public web archive,
``/archive/<channel>/<YYYY-MM-DD-HHMM>/`` (a round-up's under
``/archive/<channel>/<cadence>/``) with the slot in UTC: one format, built and parsed
here, so the links in mail and the routes that answer them cannot drift apart.

The subscriber web app and signed tokens come with later work; until then
:class:`PlaceholderLinks` builds ``{base}/u/<token>`` and ``{base}/p/<token>`` from the
opaque token it is given. Delivery swaps in a builder with HMAC-signed tokens by passing
any object with the same two methods (:class:`SubscriberLinks`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from syndicate.store.editions import OWN


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who a personalised copy is for. ``token`` identifies them in subscription links."""

    email: str
    name: str = ""
    token: str = ""


SAMPLE_RECIPIENT = Recipient(email="reader@example.com", name="Sample Reader", token="preview")


class SubscriberLinks(Protocol):
    """Builds a recipient's subscription links (absolute https URLs)."""

    def unsubscribe(self, recipient: Recipient) -> str:
        """The one-click unsubscribe page for ``recipient``."""
        ...

    def preferences(self, recipient: Recipient) -> str:
        """The page where ``recipient`` manages sections and cadence."""
        ...


@dataclass(frozen=True, slots=True)
class PlaceholderLinks:
    """``{base}/u/<token>`` and ``{base}/p/<token>``: a stand-in until signed links exist."""

    base_url: str

    def unsubscribe(self, recipient: Recipient) -> str:
        """The unsubscribe URL with the recipient's token."""
        return f"{self.base_url}/u/{quote(recipient.token, safe='')}"

    def preferences(self, recipient: Recipient) -> str:
        """The preferences URL with the recipient's token."""
        return f"{self.base_url}/p/{quote(recipient.token, safe='')}"


EDITION_STAMP = "%Y-%m-%d-%H%M"
_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{4}")


def edition_stamp(slot: datetime) -> str:
    """The slot as it appears in archive URLs: ``2026-11-25-0700``, in UTC.

    UTC rather than the channel's time: a local time repeats when clocks go back, and a
    link must never name two editions.
    """
    return slot.astimezone(UTC).strftime(EDITION_STAMP)


def parse_edition_stamp(stamp: str) -> datetime | None:
    """The UTC minute an :func:`edition_stamp` names, or ``None`` when it is not one."""
    if not _STAMP.fullmatch(stamp):  # strptime alone accepts unpadded digits and spaces
        return None
    try:
        return datetime.strptime(stamp, EDITION_STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def archive_path(channel: str, cadence: str = OWN) -> str:
    """The path of an archive index: a channel's own editions (``/archive/all/``) or one
    of its round-ups (``/archive/all/weekly/``)."""
    path = f"/archive/{quote(channel, safe='')}/"
    return path if cadence == OWN else f"{path}{quote(cadence, safe='')}/"


def edition_path(channel: str, slot: datetime, cadence: str = OWN) -> str:
    """The path of one edition's archive page, e.g. ``/archive/all/2026-11-25-0700/``."""
    return f"{archive_path(channel, cadence)}{edition_stamp(slot)}/"


def edition_url(base_url: str, channel: str, slot: datetime, cadence: str = OWN) -> str:
    """The edition's "view in your browser" address (same for every recipient): its
    page in the public archive. A round-up's page is under its cadence, so it never
    shares an address with the channel's own edition of the same minute."""
    return base_url + edition_path(channel, slot, cadence)


def with_utm(url: str, params: dict[str, str]) -> str:
    """``url`` with UTM parameters added (existing query kept; existing utm_* replaced)."""
    if not params:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(sorted(params.items()))
    return urlunsplit(parts._replace(query=urlencode(query)))
