"""Links in a digest: subscription links per recipient, the browser copy, UTM tags.

The subscriber web app and signed tokens come with later work; until then
:class:`PlaceholderLinks` builds ``{base}/u/<token>`` and ``{base}/p/<token>`` from the
opaque token it is given. Delivery swaps in a builder with HMAC-signed tokens by passing
any object with the same two methods (:class:`SubscriberLinks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit


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


def edition_url(base_url: str, channel: str, slot: datetime) -> str:
    """The edition's "view in your browser" address (same for every recipient)."""
    return f"{base_url}/digests/{quote(channel, safe='')}/{slot:%Y-%m-%dT%H%MZ}"


def with_utm(url: str, params: dict[str, str]) -> str:
    """``url`` with UTM parameters added (existing query kept; existing utm_* replaced)."""
    if not params:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(sorted(params.items()))
    return urlunsplit(parts._replace(query=urlencode(query)))
