"""Per-recipient values filled into an edition compiled once.

Templates write placeholders (``%%syn:name%%``, see :data:`PLACEHOLDERS`) where a
recipient's values go. :class:`Personaliser` splits the compiled HTML and text at those
placeholders once per edition; each recipient then costs one list copy, a few escapes and
a join: no Jinja, no MJML, no CSS inlining per recipient. The marker survives all three
untouched (no character in it is escaped by HTML or changed by MJML or css-inline).

Article text is untrusted and may spell a marker itself (``%%syn:unsubscribe_url%%`` in a
headline). It never shares the placeholders' namespace: while an edition renders, the
templates' placeholders are tokens with a random nonce no article can know
(:class:`Markers`), and :meth:`Markers.seal` turns the output into the stored form — every
run of two or more ``%`` (the only way text can start or end a marker) becomes
``%%syn:percent%%`` markers, which fill back to a literal ``%``, and only then do the
tokens become placeholders. So text that looks like a placeholder is shown as written.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass

from syndicate.digest.errors import TemplateError
from syndicate.digest.links import Recipient, SubscriberLinks

PLACEHOLDERS = ("name", "email", "unsubscribe_url", "preferences_url")
MARKER = re.compile(r"%%syn:([A-Za-z0-9_]*)%%")
# Markers that stand for fixed text, not a recipient's value: an escaped percent sign.
ESCAPES = {"percent": "%"}
ESCAPED_PERCENT = "%%syn:percent%%"
_PERCENT_RUN = re.compile(r"%{2,}")


def placeholder(key: str) -> str:
    """The marker a compiled part holds for the recipient value ``key``."""
    if key not in PLACEHOLDERS:
        raise KeyError(key)
    return f"%%syn:{key}%%"


def escape_percents(text: str) -> str:
    """``text`` with every run of two or more ``%`` escaped, so no marker can start or end
    in it; :func:`split_placeholders` restores them."""
    return _PERCENT_RUN.sub(lambda m: ESCAPED_PERCENT * len(m.group()), text)


def shown_length(line: str) -> int:
    """The length of ``line`` once its escaped percent signs are restored."""
    return len(line) - line.count(ESCAPED_PERCENT) * (len(ESCAPED_PERCENT) - 1)


class Markers:
    """The placeholders of one render, and the sealing of its output (module docstring)."""

    def __init__(self) -> None:
        self._nonce = secrets.token_hex(16)
        self._token = re.compile(rf"%%syn{self._nonce}:([a-z_]+)%%")

    def token(self, key: str) -> str:
        """What a template prints for the recipient value ``key`` during this render."""
        if key not in PLACEHOLDERS:
            raise KeyError(key)
        return f"%%syn{self._nonce}:{key}%%"

    def seal(self, rendered: str) -> str:
        """The rendered output in stored form: its own ``%%`` runs escaped, this render's
        tokens replaced by the placeholders."""
        parts = self._token.split(rendered)
        parts[0::2] = [escape_percents(text) for text in parts[0::2]]
        parts[1::2] = [placeholder(key) for key in parts[1::2]]
        return "".join(parts)


def split_placeholders(source: str) -> tuple[list[str], list[str]]:
    """``source`` split at its recipient placeholders: the literal pieces (one more than
    the keys) and the keys, in order. Escaped percent signs are restored into the literal
    pieces, so they cost nothing per recipient. Unknown keys are returned as keys (the
    callers refuse them)."""
    parts = MARKER.split(source)
    literals, keys = [parts[0]], []
    for index in range(1, len(parts), 2):
        key, after = parts[index], parts[index + 1]
        if key in ESCAPES:
            literals[-1] += ESCAPES[key] + after
        else:
            keys.append(key)
            literals.append(after)
    return literals, keys


@dataclass(frozen=True, slots=True)
class Personalised:
    """One recipient's copy of an edition."""

    html: str
    text: str


class _Compiled:
    """A text split at its placeholders: ``len(literals) == len(keys) + 1``."""

    __slots__ = ("keys", "literals")

    def __init__(self, source: str, origin: str) -> None:
        self.literals, self.keys = split_placeholders(source)
        unknown = sorted({key for key in self.keys if key not in PLACEHOLDERS})
        if unknown:
            raise TemplateError(
                f"unknown recipient placeholder(s) {', '.join(unknown)}; "
                f"known: {', '.join(PLACEHOLDERS)}",
                template=origin,
            )

    def fill(self, values: dict[str, str]) -> str:
        parts = [self.literals[0]]
        for key, literal in zip(self.keys, self.literals[1:], strict=True):
            parts += (values[key], literal)
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
