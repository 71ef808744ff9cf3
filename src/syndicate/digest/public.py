"""The public copy of an edition: what the web archive shows to anyone who asks.

A stored edition still holds the per-recipient placeholders
(:mod:`syndicate.digest.personalise`). The archive fills every one of them with a
neutral value, never a subscriber's: a generic name, a generic phrase for the address,
and the channel's subscribe page where a recipient's copy has their signed unsubscribe
and preferences links. Nobody's token can appear in a public page, so nobody can be
unsubscribed by whoever reads it.
"""

from __future__ import annotations

from urllib.parse import quote

from syndicate.digest.personalise import Personalised, Personaliser

PUBLIC_NAME = "reader"
PUBLIC_EMAIL = "your email address"


def subscribe_url(base_url: str, channel: str) -> str:
    """The channel's subscribe page (a round-up's too: subscribers choose the cadence
    there)."""
    return f"{base_url}/subscribe/{quote(channel, safe='')}"


def public_values(base_url: str, channel: str) -> dict[str, str]:
    """The neutral value of every placeholder for ``channel``'s public copy.

    It has a value for each key of :data:`~syndicate.digest.personalise.PLACEHOLDERS`;
    a key added there without one here makes :func:`public_copy` raise ``KeyError``
    rather than leak a marker or a recipient's value.
    """
    subscribe = subscribe_url(base_url, channel)
    return {
        "name": PUBLIC_NAME,
        "email": PUBLIC_EMAIL,
        "unsubscribe_url": subscribe,
        "preferences_url": subscribe,
    }


def public_copy(html: str, text: str, *, base_url: str, channel: str) -> Personalised:
    """The edition's HTML and text with every placeholder filled by :func:`public_values`.

    Raises :class:`~syndicate.digest.errors.TemplateError` for an unknown placeholder, as
    personalising for a recipient does.
    """
    personaliser = Personaliser(html, text, origin=f"edition of {channel}")
    return personaliser.fill(public_values(base_url, channel))
