"""Outbound messages for backend tests: realistic CRLF bytes with the awkward parts.

The raw body has lines that start with a dot, a line that is only a dot, and a line
"..", so dot-stuffing must happen on the wire and be undone exactly by the server.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from syndicate.models import OutboundMessage

CRLF = "\r\n"


def make_message(n: int = 1, to: str | None = None, **overrides: Any) -> OutboundMessage:
    """Message ``n`` (delivery id ``n``, edition 7) to ``to`` (default ``reader<n>@...``)."""
    to = to or f"reader{n}@example.com"
    unsubscribe = (
        f"<https://news.example.org/unsubscribe/t{n}>, "
        f"<mailto:unsubscribe@news.example.org?subject=t{n}>"
    )
    headers = (
        ("List-Unsubscribe", unsubscribe),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("List-Id", "Morning digest <morning.news.example.org>"),
    )
    lines = [
        "From: The Example News <news@news.example.org>",
        f"To: Reader {n} <{to}>",
        "Subject: Morning digest",
        "Date: Tue, 02 Jun 2026 07:00:00 +0000",
        f"Message-ID: <7.{n}@news.example.org>",
        *(f"{name}: {value}" for name, value in headers),
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: 7bit",
        "",
        f"Hello reader {n}.",
        ".a line that starts with a dot",
        ".",
        "..",
        "The end.",
        "",
    ]
    message = OutboundMessage(
        delivery_id=n,
        edition_id=7,
        channel="morning",
        to_email=to,
        to_name=f"Reader {n}",
        from_email="news@news.example.org",
        from_name="The Example News",
        subject="Morning digest",
        message_id=f"<7.{n}@news.example.org>",
        raw=CRLF.join(lines).encode(),
        html=f"<p>Hello reader {n}.</p>",
        text=f"Hello reader {n}.",
        headers=headers,
    )
    return replace(message, **overrides) if overrides else message


def make_messages(count: int, start: int = 1) -> list[OutboundMessage]:
    """``count`` messages with delivery ids from ``start``."""
    return [make_message(n) for n in range(start, start + count)]
