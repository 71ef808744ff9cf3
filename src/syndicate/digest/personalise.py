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

The "More from" block is marked the same way (:mod:`syndicate.digest.picks`): every
candidate pick is compiled once, and each recipient's copy joins the pieces of the picks
chosen for them (a bit mask; by default the first ``related_k``).
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass

from syndicate.digest.errors import TemplateError
from syndicate.digest.links import Recipient, SubscriberLinks
from syndicate.digest.picks import Layout, is_structural, same_picks

PLACEHOLDERS = ("name", "email", "unsubscribe_url", "preferences_url")
MARKER = re.compile(r"%%syn:([A-Za-z0-9_]*)%%")
# Markers that stand for fixed text, not a recipient's value: an escaped percent sign.
ESCAPES = {"percent": "%"}
ESCAPED_PERCENT = "%%syn:percent%%"
_PERCENT_RUN = re.compile(r"%{2,}")


def placeholder(key: str) -> str:
    """The marker a compiled part holds for the recipient value ``key`` (or for a marker
    of the "More from" block, :mod:`syndicate.digest.picks`)."""
    if key not in PLACEHOLDERS and not is_structural(key):
        raise KeyError(key)
    return f"%%syn:{key}%%"


def escape_percents(text: str) -> str:
    """``text`` with every run of two or more ``%`` escaped, so no marker can start or end
    in it; :func:`split_placeholders` restores them."""
    return _PERCENT_RUN.sub(lambda m: ESCAPED_PERCENT * len(m.group()), text)


def shown_length(line: str) -> int:
    """The length of ``line`` once its escaped percent signs are restored and the markers
    of the "More from" block are taken out."""
    hidden = sum(len(m.group()) for m in MARKER.finditer(line) if is_structural(m.group(1)))
    return len(line) - hidden - line.count(ESCAPED_PERCENT) * (len(ESCAPED_PERCENT) - 1)


class Markers:
    """The placeholders of one render, and the sealing of its output (module docstring)."""

    def __init__(self) -> None:
        self._nonce = secrets.token_hex(16)
        self._token = re.compile(rf"%%syn{self._nonce}:([a-z0-9_]+)%%")

    def token(self, key: str) -> str:
        """What a template prints for the recipient value ``key`` (or a block marker)
        during this render."""
        if key not in PLACEHOLDERS and not is_structural(key):
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


class _Part:
    """A compiled part split at its markers, joined per choice of picks.

    Each choice's plan (the literal pieces in order, with a slot per recipient value) is
    made once and kept, so a recipient costs one list copy, the values and a join.
    """

    __slots__ = ("_plans", "layout")

    def __init__(self, source: str, origin: str) -> None:
        self.layout = Layout(source, origin)
        unknown = sorted(key for key in self.layout.value_keys() if key not in PLACEHOLDERS)
        if unknown:
            raise TemplateError(
                f"unknown recipient placeholder(s) {', '.join(unknown)}; "
                f"known: {', '.join(PLACEHOLDERS)}",
                template=origin,
            )
        self._plans: dict[int, tuple[list[str], list[tuple[int, str]]]] = {}

    def plan(self, mask: int) -> tuple[list[str], list[tuple[int, str]]]:
        found = self._plans.get(mask)
        if found is None:
            pieces = self.layout.pieces
            sequence = self.layout.sequence(mask)
            strings = [pieces[t] if isinstance(t, int) else "" for t in sequence]
            slots = [(i, t) for i, t in enumerate(sequence) if isinstance(t, str)]
            if len(self._plans) >= 512:  # readers' choices vary; keep the memory bounded
                self._plans.clear()
            found = self._plans[mask] = (strings, slots)
        return found

    def fill(self, values: dict[str, str], mask: int) -> str:
        strings, slots = self.plan(mask)
        out = strings.copy()
        for index, key in slots:
            out[index] = values[key]
        return "".join(out)


class Personaliser:
    """An edition's compiled HTML and text, ready to be filled in per recipient."""

    def __init__(self, html_part: str, text_part: str, *, origin: str = "digest") -> None:
        self._html = _Part(html_part, f"{origin} (HTML part)")
        self._text = _Part(text_part, f"{origin} (text part)")
        same_picks(self._html.layout, self._text.layout)

    @property
    def layout(self) -> Layout:
        """The HTML part's layout: its "More from" candidates and how many are shown."""
        return self._html.layout

    def fill(self, values: dict[str, str], picks: int | None = None) -> Personalised:
        """Fill in raw ``values`` (every key of :data:`PLACEHOLDERS`); HTML gets them
        escaped. ``picks`` is the mask of "More from" candidates shown (default: the
        first ``related_k``, what a reader who received none of them sees)."""
        mask = self._html.layout.default if picks is None else picks
        escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
        return Personalised(html=self._html.fill(escaped, mask), text=self._text.fill(values, mask))

    def for_recipient(
        self, recipient: Recipient, links: SubscriberLinks, picks: int | None = None
    ) -> Personalised:
        """The copy for ``recipient`` with its subscription links (and ``picks``)."""
        return self.fill(recipient_values(recipient, links), picks)


def recipient_values(recipient: Recipient, links: SubscriberLinks) -> dict[str, str]:
    """The raw placeholder values for ``recipient``."""
    return {
        "name": recipient.name,
        "email": recipient.email,
        "unsubscribe_url": links.unsubscribe(recipient),
        "preferences_url": links.preferences(recipient),
    }
