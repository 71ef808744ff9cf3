"""Building messages: once per edition as a byte template, then per recipient by
substitution, never running the email package's generator again for each recipient.

What is fixed per edition (From, Subject, List-Id, MIME structure, the boundary) is
encoded and folded once with the email package. The two bodies are split at their
recipient placeholders and each literal piece is quoted-printable encoded once, ending in
a soft line break, so a recipient's body is the pre-encoded pieces joined with only that
recipient's few values encoded (:class:`EncodedBody`). The DKIM body hash is built the
same way from pre-canonicalised pieces: relaxed body canonicalisation (RFC 6376 §3.4.4)
never crosses a soft line break, so hashing the pieces in order equals hashing the whole
canonical body, and dkimpy then only parses the headers. Everything is joined as bytes
with CRLF line ends (STANDARDS EM-1..EM-6, LU-1, LU-2).

A Message-ID is derived from (edition, subscriber) and the edition's random salt, stored
with the edition: if a crash forces a resend of the same delivery, the copy carries the
same Message-ID and receivers can drop the duplicate, while a rebuilt database or another
install (whose edition and subscriber ids start again at 1) never reuses one (EM-3).
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from html import escape as html_escape

from syndicate.delivery.dkim import DKIMSigner
from syndicate.digest.errors import TemplateError
from syndicate.digest.personalise import PLACEHOLDERS
from syndicate.digest.picks import Layout, same_picks
from syndicate.errors import MessageError
from syndicate.models import OutboundMessage

CRLF = b"\r\n"


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who one message is for, and the links only they may use."""

    delivery_id: int
    subscriber_id: int
    email: str
    name: str
    unsubscribe_url: str
    preferences_url: str
    unsubscribe_mailto: str = ""


_LINE_END_WSP = re.compile(rb"[ \t]+\r\n")
_WSP_RUN = re.compile(rb"[ \t]+")
SOFT_BREAK = b"=" + CRLF


def relaxed_body(piece: bytes) -> bytes:
    """RFC 6376 §3.4.4 relaxed canonicalisation of a piece of body that ends in CRLF
    (all of it but the "no trailing empty lines" rule, which only the end can need)."""
    return _WSP_RUN.sub(b" ", _LINE_END_WSP.sub(CRLF, piece))


# Printable ASCII but "=", not ending in white space: quoted-printable leaves it as it is
# but for soft line breaks. Names, addresses and signed links nearly always are.
_QP_PLAIN = re.compile(r"[!-<>-~ ]*[!-<>-~]")


def _plain_qp(data: bytes) -> bytes:
    """:func:`qp_encode` of plain text (see ``_QP_PLAIN``): lines of 75 characters and
    a soft break, the last one up to 76, exactly as ``binascii.b2a_qp`` cuts them."""
    lines = []
    while len(data) > 76:
        lines.append(data[:75] + b"=")
        data = data[75:]
    lines.append(data)
    return CRLF.join(lines)


def _qp_piece(text: str, *, last: bool) -> bytes:
    """``text`` quoted-printable encoded; unless ``last``, it ends in a line break (the
    soft one ``=CRLF`` when the text does not end in a newline itself)."""
    # The per-recipient values take this fast path (same bytes; the test holds it).
    # (b2a_qp encodes a "." alone on its last line: such text takes the general path.)
    plain = len(text) < 1000 and not text.endswith(".") and _QP_PLAIN.fullmatch(text) is not None
    encoded = _plain_qp(text.encode("ascii")) if plain else qp_encode(text)
    if last or not encoded or encoded.endswith(CRLF):
        return encoded
    head, sep, tail = encoded.rpartition(CRLF)
    if len(tail) > 75:  # tail + "=" must stay within 76 characters (RFC 2045 §6.7)
        cut = 70
        while cut > 60 and b"=" in tail[cut - 2 : cut]:
            cut -= 1  # never split an =XX escape
        tail = tail[:cut] + SOFT_BREAK + tail[cut:]
    return head + sep + tail + SOFT_BREAK


class EncodedBody:
    """A body with recipient placeholders (``%%syn:key%%``), encoded once per edition.
    Escaped percent signs (``%%syn:percent%%``) are restored into the literal pieces here.

    Every literal piece, "More from" candidates included (:mod:`syndicate.digest.picks`),
    is encoded once; a choice of picks joins its pieces (each ends in a line break, so
    any order of them is valid quoted-printable and canonicalises piece by piece).
    :meth:`fill` returns the recipient's text, its quoted-printable bytes, and the
    relaxed-canonical bytes of those for the DKIM body hash. HTML bodies get their
    values HTML-escaped, as :class:`~syndicate.digest.personalise.Personaliser` does.
    """

    def __init__(self, source: str, *, html: bool) -> None:
        try:
            self.layout = Layout(source, "html part" if html else "text part")
        except TemplateError as err:
            raise MessageError(str(err)) from err
        unknown = sorted(self.layout.value_keys() - set(PLACEHOLDERS))
        if unknown:
            raise MessageError(f"unknown recipient placeholder(s): {', '.join(unknown)}")
        self.html = html
        pieces = self.layout.pieces
        last = len(pieces) - 1
        self.encoded = [_qp_piece(t, last=i == last) for i, t in enumerate(pieces)]
        self.canonical = [relaxed_body(e) for e in self.encoded]
        self._plans: dict[int, _Plan] = {}

    def _plan(self, mask: int) -> _Plan:
        found = self._plans.get(mask)
        if found is None:
            sequence = self.layout.sequence(mask)
            text, encoded, canonical = [], [], []
            for token in sequence:
                if isinstance(token, int):
                    piece = (self.layout.pieces[token], self.encoded[token], self.canonical[token])
                else:
                    piece = ("", b"", b"")
                text.append(piece[0])
                encoded.append(piece[1])
                canonical.append(piece[2])
            slots = [(i, t) for i, t in enumerate(sequence) if isinstance(t, str)]
            if len(self._plans) >= 512:  # readers' choices vary; keep the memory bounded
                self._plans.clear()
            found = self._plans[mask] = _Plan(text, encoded, canonical, slots)
        return found

    def fill(
        self,
        values: dict[str, str],
        picks: int | None = None,
        *,
        text: bool = True,
        canonical: bool = True,
    ) -> tuple[str, list[bytes], list[bytes]]:
        """(text, encoded pieces, canonical pieces) for one recipient's ``values``, with
        the "More from" picks in the mask ``picks`` (default: the first ``related_k``).

        Without ``text`` the text comes back empty, without ``canonical`` the canonical
        pieces: joining a 70 KB body into a string and canonicalising the values are
        most of a message's cost when nothing reads them (a raw-only backend, no DKIM).
        """
        if self.html:
            values = {k: html_escape(v, quote=True) for k, v in values.items()}
        plan = self._plan(self.layout.default if picks is None else picks)
        text_parts = plan.text.copy() if text else []
        encoded = plan.encoded.copy()
        canon = plan.canonical.copy() if canonical else []
        for index, key in plan.slots:
            value = values[key]
            piece = _qp_piece(value, last=False) if value else b""
            encoded[index] = piece
            if text:
                text_parts[index] = value
            if canonical:
                canon[index] = relaxed_body(piece)
        return "".join(text_parts), encoded, canon


@dataclass(frozen=True, slots=True)
class _Plan:
    """One choice of picks: the body's pieces in order, with a slot per recipient value."""

    text: list[str]
    encoded: list[bytes]
    canonical: list[bytes]
    slots: list[tuple[int, str]]


@dataclass(frozen=True, slots=True)
class Sender:
    """The sending identity and list headers of an instance."""

    from_email: str
    from_name: str
    message_id_domain: str
    list_id_domain: str
    reply_to: str = ""
    feedback_id: str = ""


_UNSAFE_IN_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _crlf_only(data: bytes) -> bool:
    """True when ``data`` (its CRLFs taken out by the caller) has no CR or LF left."""
    return b"\r" not in data and b"\n" not in data


def check_header_value(name: str, value: str) -> str:
    """``value`` unchanged, or :class:`MessageError` if it could inject a header (SE-2)."""
    if _UNSAFE_IN_HEADER.search(value):
        raise MessageError(f"{name} header value contains a line break or control character")
    return value


def _too_long(folded: str, first: int) -> bool:
    lines = folded.split("\r\n")
    return first + len(lines[0]) > 78 or any(len(line) > 78 for line in lines[1:])


def _encoded_header(name: str, value: str) -> bytes:
    """``Name: value`` folded at 78 columns, RFC 2047-encoded when not ASCII or when a
    word is too long to fold (EM-1, EM-6)."""
    check_header_value(name, value)
    folded = ""
    if value.isascii():
        folded = Header(value, header_name=name, maxlinelen=78).encode(linesep="\r\n")
    if not folded or _too_long(folded, len(name) + 2):
        folded = Header(value, "utf-8", header_name=name, maxlinelen=76).encode(linesep="\r\n")
    return f"{name}: {folded}".encode("ascii") + CRLF


def _fold(name: str, items: list[str]) -> str:
    """``Name: item item …`` folded between items so lines stay within 78 columns (EM-1,
    EM-2); the items are the header's own tokens (a ``<URL>``, an encoded-word), never
    split. The first item always shares the name's line: folding before it would leave
    the name alone on its line, which some readers (Python's email package among them)
    then take as white space in the value. So an item too long for any line (a long URL)
    makes the one line that passes 78 columns, and it stays far within 998."""
    lines = [f"{name}: {items[0]}"]
    for item in items[1:]:
        if len(lines[-1]) + 1 + len(item) <= 78:
            lines[-1] += " " + item
        else:
            lines.append(" " + item)
    return "\r\n".join(lines)


def _folded(name: str, items: list[str]) -> bytes:
    """:func:`_fold` as the header's bytes, CRLF included."""
    return _fold(name, items).encode("ascii") + CRLF


_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,70}")  # RFC 5322 atext, fits a line


def _phrase(name: str, field: str) -> list[str]:
    """A display name as foldable tokens (EM-6): words that are plain atoms stay as they
    are; each run of other words (non-ASCII, specials, too long) becomes RFC 2047
    encoded-words, one run at a time, since the space between two encoded-words is not
    text. Folding then happens at the spaces between tokens."""
    tokens: list[str] = []
    run: list[str] = []
    for word in [*name.split(" "), None]:
        if word is not None and not _ATOM.fullmatch(word):
            run.append(word)
            continue
        if run:
            # Each encoded-word within 75 (EM-6), the first one after "Field: " too.
            first = None if tokens else field
            header = Header(" ".join(run), "utf-8", maxlinelen=75, header_name=first)
            encoded = header.encode(linesep="\r\n")
            tokens += encoded.split("\r\n ")
            run = []
        if word is not None:
            tokens.append(word)
    return tokens


def _address(name: str, email: str, field: str = "To") -> bytes:
    """The ``Field: Name <email>`` header line, CRLF included: the name quoted or
    RFC 2047-encoded as needed, folded at 78 columns between words (EM-1, EM-6)."""
    check_header_value(field, name)
    check_header_value(field, email)
    if not email.isascii():
        raise MessageError(f"{email!r} needs SMTPUTF8, which is not supported")
    value = formataddr((name, email), charset="utf-8")
    if len(field) + 2 + len(value) <= 78 and "\n" not in value:
        return f"{field}: {value}".encode("ascii") + CRLF
    return _folded(field, [*_phrase(name, field), f"<{email}>"] if name else [email])


def qp_encode(text: str) -> bytes:
    """Quoted-printable with CRLF line ends and lines of at most 76 characters (EM-5)."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True)
    # b2a_qp can exceed 76 characters when it encodes a line's trailing whitespace
    # ("...  \t=20" at 77): break such lines again.
    lines = [_fit_qp_line(line) for line in encoded.split(b"\n")]
    return CRLF.join(lines)


def _fit_qp_line(line: bytes) -> bytes:
    """An encoded line cut with soft breaks into lines of at most 76 characters."""
    out = []
    while len(line) > 76:
        cut = 75  # the piece and its "=" make 76
        while b"=" in line[cut - 2 : cut]:
            cut -= 1  # never split an =XX escape
        out.append(line[:cut] + b"=")
        line = line[cut:]
    out.append(line)
    return CRLF.join(out)


class MessageTemplate:
    """An edition's message, encoded once; :meth:`render` makes one recipient's copy."""

    def __init__(
        self,
        *,
        sender: Sender,
        edition_id: int,
        channel: str,
        channel_title: str,
        subject: str,
        html: str,
        text: str,
        signer: DKIMSigner | None = None,
        instance_key: str = "",
        message_salt: str = "",
    ) -> None:
        self.sender = sender
        self.edition_id = edition_id
        self.channel = channel
        self.subject = check_header_value("Subject", subject)
        self.html_body = EncodedBody(html, html=True)
        self.text_body = EncodedBody(text, html=False)
        try:
            same_picks(self.html_body.layout, self.text_body.layout)
        except TemplateError as err:
            raise MessageError(str(err)) from err
        self.signer = signer
        # Distinguishes two instances sending from one domain (Message-ID uniqueness).
        self._mid_tag = hashlib.sha256(f"{instance_key}|{channel}".encode()).hexdigest()[:10]
        # The edition's random salt makes the id unique across databases; without one (a
        # preview, which is never sent) the instance tag stands in.
        self._mid_unique = message_salt or self._mid_tag
        self.boundary = f"=_syndicate_{edition_id}_{self._mid_tag}"
        self.list_id = f"{channel}.{sender.list_id_domain}"
        self._head = self._fixed_headers(channel_title)
        self._parts = self._part_headers()
        # Every per-recipient header value is checked for line breaks as it is made and
        # the bodies are quoted-printable with CRLF: if the fixed parts are clean too,
        # every message of this template has CRLF line ends only (``crlf_only``).
        ids = f"{self._mid_unique}@{sender.message_id_domain}"
        fixed = b"".join((self._head, *self._parts)).replace(CRLF, b"")
        self._crlf_only = _crlf_only(fixed) and not _UNSAFE_IN_HEADER.search(ids)
        # The body starts after the blank line, i.e. without text_head's leading CRLF.
        _, text_head, html_head, close = self._parts
        self._canonical_heads = (
            relaxed_body(text_head[2:]),
            relaxed_body(html_head),
            relaxed_body(close),
        )

    def _fixed_headers(self, channel_title: str) -> bytes:
        s = self.sender
        head = _address(s.from_name, s.from_email, "From")
        head += _encoded_header("Subject", self.subject)
        # RFC 2919: a phrase, then <list-id>; only the phrase may be encoded.
        head += _address(channel_title, self.list_id, "List-Id")
        if s.reply_to:
            head += b"Reply-To: " + check_header_value("Reply-To", s.reply_to).encode() + CRLF
        if s.feedback_id:
            head += _encoded_header("Feedback-ID", s.feedback_id)
        return head

    def _part_headers(self) -> tuple[bytes, bytes, bytes, bytes]:
        b = self.boundary.encode("ascii")
        mime = (
            b"MIME-Version: 1.0"
            + CRLF
            + _folded("Content-Type", ["multipart/alternative;", f'boundary="{self.boundary}"'])
        )
        part = (
            b'Content-Type: text/%s; charset="utf-8"'
            + CRLF
            + b"Content-Transfer-Encoding: quoted-printable"
            + CRLF
            + CRLF
        )
        text_head = CRLF + b"--" + b + CRLF + part % b"plain"
        html_head = CRLF + b"--" + b + CRLF + part % b"html"
        close = CRLF + b"--" + b + b"--" + CRLF
        return mime, text_head, html_head, close

    def _sign(self, head: bytes, text: list[bytes], html: list[bytes]) -> bytes:
        assert self.signer is not None
        text_head, html_head, close = self._canonical_heads
        digest = hashlib.sha256(text_head)
        # Each part's last piece ends without a line break; the CRLF that ends its line
        # opens the next canonical head. Quoted-printable never leaves whitespace at the
        # end of data, so canonicalising the two apart gives the same bytes.
        for piece in text:
            digest.update(piece)
        digest.update(html_head)
        for piece in html:
            digest.update(piece)
        digest.update(close)
        return self.signer.signature(head, digest.digest())

    def message_id(self, subscriber_id: int) -> str:
        """The Message-ID of this edition's copy for one subscriber (stable on resend)."""
        domain = self.sender.message_id_domain
        return f"<{self.edition_id}.{subscriber_id}.{self._mid_unique}@{domain}>"

    def list_unsubscribe(self, recipient: Recipient) -> list[str]:
        """The List-Unsubscribe items: the one-click https URL, then a mailto (LU-1),
        each ``<…>`` and all but the last followed by the separating comma."""
        uris = [recipient.unsubscribe_url]
        if recipient.unsubscribe_mailto:
            uris.append(recipient.unsubscribe_mailto)
        items = [f"<{check_header_value('List-Unsubscribe', uri)}>," for uri in uris]
        items[-1] = items[-1].rstrip(",")
        return items

    def choose(self, candidates: Sequence[str], received: Container[str]) -> int:
        """The "More from" picks for a reader who received ``received`` (a mask over the
        edition's related ids ``candidates``): the first ``related_k`` unseen ones."""
        return self.html_body.layout.choose(candidates, received)

    def render(
        self,
        recipient: Recipient,
        now: datetime,
        picks: int | None = None,
        *,
        parts: bool = True,
    ) -> OutboundMessage:
        """One recipient's message, showing the "More from" picks in the mask ``picks``
        (default: the first ``related_k``); :class:`MessageError` if a header would be
        unsafe. Without ``parts`` only ``raw`` is made (``html`` and ``text`` are left
        empty), for backends that send ``raw`` as it is."""
        values = {
            "name": recipient.name,
            "email": recipient.email,
            "unsubscribe_url": recipient.unsubscribe_url,
            "preferences_url": recipient.preferences_url,
        }
        if picks is None:
            picks = self.html_body.layout.default
        signed = self.signer is not None
        text, text_qp, text_canon = self.text_body.fill(values, picks, text=parts, canonical=signed)
        html, html_qp, html_canon = self.html_body.fill(values, picks, text=parts, canonical=signed)
        to = _address(recipient.name, recipient.email)
        message_id = self.message_id(recipient.subscriber_id)
        unsubscribe_items = self.list_unsubscribe(recipient)
        unsubscribe = " ".join(unsubscribe_items)
        mime, text_head, html_head, close = self._parts
        head = b"".join(
            (
                self._head,
                to,
                b"Date: " + format_datetime(now).encode("ascii") + CRLF,
                _folded("Message-ID", [message_id]),
                _folded("List-Unsubscribe", unsubscribe_items),
                b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" + CRLF,
                mime,
            )
        )
        signature = self._sign(head, text_canon, html_canon) if signed else b""
        crlf_only = self._crlf_only and _crlf_only(signature.replace(CRLF, b""))
        # One join: the 70 KB message is copied once.
        raw = b"".join((signature, head, text_head, *text_qp, html_head, *html_qp, close))
        headers = [
            ("List-Unsubscribe", unsubscribe),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("List-Id", f"<{self.list_id}>"),
        ]
        if self.sender.feedback_id:
            headers.append(("Feedback-ID", self.sender.feedback_id))
        return OutboundMessage(
            delivery_id=recipient.delivery_id,
            edition_id=self.edition_id,
            channel=self.channel,
            to_email=recipient.email,
            to_name=recipient.name,
            from_email=self.sender.from_email,
            from_name=self.sender.from_name,
            subject=self.subject,
            message_id=message_id,
            raw=raw,
            html=html,
            text=text,
            headers=tuple(headers),
            crlf_only=crlf_only,
        )
