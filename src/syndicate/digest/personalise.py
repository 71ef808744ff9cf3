"""Per-recipient values filled into an edition compiled once.

Templates write placeholders (``%%syn:name%%``, see :data:`PLACEHOLDERS`) where a
recipient's values go. :class:`Personaliser` splits the compiled HTML and text at those
placeholders once per edition; each recipient then costs one list copy, a few escapes and
a join: no Jinja, no MJML, no CSS inlining per recipient. The marker survives all three
untouched (no character in it is escaped by HTML or changed by MJML or css-inline).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from syndicate.digest.errors import TemplateError
from syndicate.digest.links import Recipient, SubscriberLinks

PLACEHOLDERS = ("name", "email", "unsubscribe_url", "preferences_url")
MARKER = re.compile(r"%%syn:([A-Za-z0-9_]*)%%")


def placeholder(key: str) -> str:
    """The marker a template writes for the recipient value ``key``."""
    if key not in PLACEHOLDERS:
        raise KeyError(key)
    return f"%%syn:{key}%%"


@dataclass(frozen=True, slots=True)
class Personalised:
    """One recipient's copy of an edition."""

    html: str
    text: str


class _Compiled:
    """A text split at its placeholders: literals at even, keys at odd positions."""

    __slots__ = ("keys", "parts")

    def __init__(self, source: str, origin: str) -> None:
        self.parts = MARKER.split(source)
        self.keys = [(i, self.parts[i]) for i in range(1, len(self.parts), 2)]
        unknown = sorted({key for _, key in self.keys if key not in PLACEHOLDERS})
        if unknown:
            raise TemplateError(
                f"unknown recipient placeholder(s) {', '.join(unknown)}; "
                f"known: {', '.join(PLACEHOLDERS)}",
                template=origin,
            )

    def fill(self, values: dict[str, str]) -> str:
        parts = self.parts.copy()
        for index, key in self.keys:
            parts[index] = values[key]
        return "".join(parts)


class Personaliser:
    """An edition's compiled HTML and text, ready to be filled in per recipient."""

    def __init__(self, html_part: str, text_part: str, *, origin: str = "digest") -> None:
        self._html = _Compiled(html_part, f"{origin} (HTML part)")
        self._text = _Compiled(text_part, f"{origin} (text part)")

    def fill(self, values: dict[str, str]) -> Personalised:
        """Fill in raw ``values`` (every key of :data:`PLACEHOLDERS`); HTML gets them escaped."""
        escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
        return Personalised(html=self._html.fill(escaped), text=self._text.fill(values))

    def for_recipient(self, recipient: Recipient, links: SubscriberLinks) -> Personalised:
        """The copy for ``recipient`` with its subscription links."""
        return self.fill(recipient_values(recipient, links))


def recipient_values(recipient: Recipient, links: SubscriberLinks) -> dict[str, str]:
    """The raw placeholder values for ``recipient``."""
    return {
        "name": recipient.name,
        "email": recipient.email,
        "unsubscribe_url": links.unsubscribe(recipient),
        "preferences_url": links.preferences(recipient),
    }
