"""Message bytes: structure, limits, encodings, header injection, DKIM verification."""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import UTC, datetime

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from syndicate.delivery.dkim import DKIMSigner
from syndicate.delivery.message import MessageTemplate, Recipient, Sender
from syndicate.digest.personalise import MARKER, PLACEHOLDERS
from syndicate.errors import MessageError

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
SENDER = Sender(
    "digest@meridian.example",
    "The Meridian Review",
    "meridian.example",
    "lists.meridian.example",
    feedback_id="world:digest:meridian",
)


HTML = (
    "<p>Hello %%syn:name%%</p><p>" + "A long paragraph.  With  runs of spaces. " * 200 + "</p>"
    '<a href="%%syn:unsubscribe_url%%">Unsubscribe</a>\n.\n.leading dot \n'
    '<a href="%%syn:preferences_url%%">Preferences</a>%%syn:email%%'
)
TEXT = (
    "Hello %%syn:name%%\n\n"
    + "A long paragraph. " * 50
    + "\nUnsubscribe: %%syn:unsubscribe_url%%\n"
)


def template(
    subject: str = "Moscow Eyes a Launch Pad… in the Caribbean?", signer: DKIMSigner | None = None
) -> MessageTemplate:
    return MessageTemplate(
        sender=SENDER,
        edition_id=9,
        channel="world",
        channel_title="The Meridian Review — World",
        subject=subject,
        html=HTML,
        text=TEXT,
        signer=signer,
        instance_key="meridian.example,2026",
    )


def recipient(name: str = "Zoë Ðorđević", email_: str = "zoe@example.com") -> Recipient:
    return Recipient(
        5,
        77,
        email_,
        name,
        "https://meridian.example/u/TOKEN",
        "https://meridian.example/p/TOKEN",
        "mailto:unsubscribe@meridian.example?subject=unsubscribe%20TOKEN",
    )


def test_message_parses_back_with_everything_in_place() -> None:
    m = template().render(recipient(), NOW)
    msg = email.message_from_bytes(m.raw, policy=email.policy.default)
    assert msg["Subject"] == "Moscow Eyes a Launch Pad… in the Caribbean?"
    assert msg["From"] == "The Meridian Review <digest@meridian.example>"
    assert msg["To"] == "Zoë Ðorđević <zoe@example.com>"
    assert msg["Date"] == "Wed, 25 Nov 2026 07:00:00 +0000"
    assert msg["Message-ID"] == m.message_id and m.message_id.endswith("@meridian.example>")
    assert msg["List-Id"] == "The Meridian Review — World <world.lists.meridian.example>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsub = msg["List-Unsubscribe"]
    assert unsub.startswith("<https://meridian.example/u/TOKEN>") and "<mailto:" in unsub
    assert msg["MIME-Version"] == "1.0"
    assert msg["Feedback-ID"] == "world:digest:meridian"
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]  # EM-5
    assert parts[0].get_content().startswith("Hello Zoë Ðorđević")
    html = parts[1].get_content()
    assert ".leading dot" in html
    assert '<a href="https://meridian.example/u/TOKEN">' in html
    assert html.endswith("zoe@example.com")
    assert all(p.get_content_charset() == "utf-8" for p in parts)


def test_wire_format_limits() -> None:
    raw = template("x" * 300).render(recipient("N" * 120), NOW).raw
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only (EM-1)
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 78  # SHOULD 78, MUST 998
    headers, _, _ = raw.partition(b"\r\n\r\n")
    for word in headers.split():
        if word.startswith(b"=?"):
            assert len(word) <= 75  # EM-6


def test_message_id_is_stable_per_delivery() -> None:
    t = template()
    a = t.render(recipient(), NOW)
    b = t.render(recipient(), datetime(2026, 11, 26, tzinfo=UTC))
    assert a.message_id == b.message_id
    other = t.render(Recipient(6, 78, "x@example.com", "", "https://u", "https://p"), NOW)
    assert other.message_id != a.message_id


@pytest.mark.parametrize(
    ("name", "mail", "subject"),
    [
        ("Eve\r\nBcc: victim@example.com", "eve@example.com", "ok"),
        ("Eve", "eve@example.com\nBcc: x@example.com", "ok"),
        ("Eve", "eve@example.com", "Hi\r\nBcc: victim@example.com"),
    ],
)
def test_header_injection_is_refused(name: str, mail: str, subject: str) -> None:
    with pytest.raises(MessageError):
        template(subject).render(recipient(name, mail), NOW)


def _key() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def test_dkim_signature_verifies_with_dkimpy_and_covers_list_headers() -> None:
    key, txt = _key()

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"sel._domainkey.meridian.example."
        return txt

    signer = DKIMSigner("meridian.example", "sel", key)
    raw = template(signer=signer).render(recipient(), NOW).raw
    assert raw.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert dkim.verify(raw, dnsfunc=dns)
    sig = email.message_from_bytes(raw)["DKIM-Signature"]
    signed = [h.strip() for h in sig.split("h=")[1].split(";")[0].replace("\r\n", "").split(":")]
    for header in (
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "mime-version",
        "content-type",
    ):
        assert header in signed
    assert signed.count("from") == 2  # over-signed (DK-1)
    tampered = raw.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Clack",
    )
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_dkim_key_loading_rejects_non_rsa_and_bad_pem() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from syndicate.errors import ConfigError

    with pytest.raises(ConfigError):
        DKIMSigner.from_pem("d.example", "s", b"not a key")
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ConfigError, match="RSA"):
        DKIMSigner.from_pem("d.example", "s", pem)


_KEY, _TXT = _key()
_SIGNER = DKIMSigner("meridian.example", "sel", _KEY)
_pieces = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=90)
_marker = st.sampled_from(
    ["%%syn:name%%", "%%syn:email%%", "%%syn:unsubscribe_url%%", "%%syn:preferences_url%%"]
)


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(st.one_of(_pieces, _marker, st.just("  \t "), st.just("\n")), max_size=12),
    name=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=40
    ),
)
def test_piecewise_body_hash_and_encoding_hold_for_any_content(parts: list[str], name: str) -> None:
    source = "".join(parts)
    assume(set(MARKER.findall(source)) <= set(PLACEHOLDERS))  # editions hold only these
    t = MessageTemplate(
        sender=SENDER,
        edition_id=1,
        channel="world",
        channel_title="World",
        subject="s",
        html=source,
        text=source,
        signer=_SIGNER,
    )
    m = t.render(recipient(name=name.strip()), NOW)
    assert dkim.verify(m.raw, dnsfunc=lambda name, timeout=5: _TXT)
    lines = m.raw.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines)
    _, _, body = m.raw.partition(b"\r\n\r\n")
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))  # QP lines (EM-5)
    msg = email.message_from_bytes(m.raw, policy=email.policy.default)
    plain = msg.get_body(("plain",)).get_content()
    # (the email package drops a part's leading blank lines when it decodes)
    expected = m.text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\n")
    assert plain.replace("\r\n", "\n").lstrip("\n") == expected


def _header_lines(raw: bytes) -> list[str]:
    head, _, _ = raw.partition(b"\r\n\r\n")
    return head.decode("ascii").split("\r\n")


def test_every_header_line_is_folded_at_78_and_reads_back_unchanged() -> None:
    token = "WzEyMzQ1Niwid29ybGQtZWNvbm9teSJd.axOYKQ.Ftpk17g25MxNHb090GFoVX_sszE"
    who = Recipient(
        5,
        123456,
        "a.very.long.address.for.a.reader@subscribers.meridian-review.example",
        "Zoë Ðorđević-Longname of the Very Long Family Name Society",
        f"https://news.meridian-review.example/u/{token}",
        f"https://news.meridian-review.example/p/{token}",
        f"mailto:unsubscribe@meridian-review.example?subject=unsubscribe%20{token}",
    )
    subject = "Moscow Eyes a Launch Pad… in the Caribbean? " * 3 + "And a long ASCII tail " * 3
    t = MessageTemplate(
        sender=Sender(
            "digest@meridian-review.example",
            "The Meridian Review",
            "meridian-review.example",
            "lists.meridian-review.example",
            feedback_id="world-economy-and-business:digest:meridian-review:2026-11-25",
        ),
        edition_id=12345678,
        channel="world-economy-and-business",
        channel_title="The Meridian Review — World, Economy and Business, every morning",
        subject=subject.strip(),
        html=HTML,
        text=TEXT,
        signer=_SIGNER,
        instance_key="meridian-review.example,2026",
    )
    m = t.render(who, NOW)
    for line in _header_lines(m.raw):
        # Over 78 only where nothing can be folded: one token (a long URL) on its line,
        # after the header's name on the first line (never left alone on its line).
        item = line.strip() if line[0] in " \t" else line.partition(": ")[2]
        assert len(line) <= 78 or (" " not in item and len(line) <= 998), line
    msg = email.message_from_bytes(m.raw, policy=email.policy.default)
    assert msg["Subject"] == subject.strip()
    assert msg["To"] == f"{who.name} <{who.email}>"
    assert msg["List-Id"] == (
        "The Meridian Review — World, Economy and Business, every morning "
        "<world-economy-and-business.lists.meridian-review.example>"
    )
    unsubscribe = f"<{who.unsubscribe_url}>, <{who.unsubscribe_mailto}>"
    assert msg["List-Unsubscribe"] == unsubscribe
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Message-ID"] == m.message_id
    assert msg["Feedback-ID"] == t.sender.feedback_id
    assert dkim.verify(m.raw, dnsfunc=lambda name, timeout=5: _TXT)
    # What API backends send as extra headers is the same logical value, unfolded.
    assert dict(m.headers)["List-Unsubscribe"] == unsubscribe
