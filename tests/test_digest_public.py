"""The public copy of an edition and the archive's addresses, tested directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from syndicate.digest.errors import TemplateError
from syndicate.digest.links import (
    PlaceholderLinks,
    Recipient,
    archive_path,
    edition_path,
    edition_stamp,
    edition_url,
    parse_edition_stamp,
)
from syndicate.digest.personalise import PLACEHOLDERS, Personaliser, placeholder
from syndicate.digest.public import (
    PUBLIC_EMAIL,
    PUBLIC_NAME,
    public_copy,
    public_values,
    subscribe_url,
)
from syndicate.store.editions import OWN

BASE = "https://news.example"
HTML = (
    "<p>Dear {name},</p><p>Sent to {email}.</p>"
    '<a href="{unsubscribe_url}">Unsubscribe</a> <a href="{preferences_url}">Preferences</a>'
).format(**{key: placeholder(key) for key in PLACEHOLDERS})
TEXT = "Dear {name},\nSent to {email}\n{unsubscribe_url}\n{preferences_url}\n".format(
    **{key: placeholder(key) for key in PLACEHOLDERS}
)


def test_every_placeholder_has_a_public_value() -> None:
    # A recipient value added to PLACEHOLDERS without a neutral one fails here.
    assert set(public_values(BASE, "daily")) == set(PLACEHOLDERS)


def test_public_copy_fills_every_placeholder_with_nothing_personal() -> None:
    copy = public_copy(HTML, TEXT, base_url=BASE, channel="daily")
    assert "%%syn:" not in copy.html + copy.text
    assert f"<p>Dear {PUBLIC_NAME},</p><p>Sent to {PUBLIC_EMAIL}.</p>" in copy.html
    assert copy.html.count('href="https://news.example/subscribe/daily"') == 2
    assert copy.text == (
        f"Dear {PUBLIC_NAME},\nSent to {PUBLIC_EMAIL}\n"
        "https://news.example/subscribe/daily\nhttps://news.example/subscribe/daily\n"
    )


def test_public_copy_shares_nothing_with_a_recipients_copy() -> None:
    who = Recipient("ana.ruiz@example.org", name="Ana Ruiz", token="tok-123-secret")
    personal = Personaliser(HTML, TEXT).for_recipient(who, PlaceholderLinks(BASE))
    assert who.email in personal.html and who.token in personal.html  # the copy is personal
    public = public_copy(HTML, TEXT, base_url=BASE, channel="daily")
    for value in (who.email, who.name, who.token, "/u/", "/p/"):
        assert value not in public.html
        assert value not in public.text


def test_subscribe_url_is_the_channels() -> None:
    assert subscribe_url(BASE, "world") == "https://news.example/subscribe/world"
    assert subscribe_url("", "world") == "/subscribe/world"


def test_unknown_placeholders_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="unknown recipient placeholder"):
        public_copy("<p>%%syn:shoe_size%%</p>", "", base_url=BASE, channel="daily")


def test_stamps_are_utc_minutes_and_round_trip() -> None:
    slot = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    local = slot.astimezone(timezone(timedelta(hours=-5)))  # same instant, other zone
    assert edition_stamp(slot) == edition_stamp(local) == "2026-11-25-0700"
    assert parse_edition_stamp("2026-11-25-0700") == slot
    for bad in (
        "2026-11-25T0700Z",
        "2026-1-25-0700",
        "2026-11-25-700",
        " 2026-11-25-0700",
        "2026-02-30-0700",
        "2026-11-25-2460",
        "",
    ):
        assert parse_edition_stamp(bad) is None, bad


def test_archive_paths() -> None:
    slot = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    assert archive_path("daily") == "/archive/daily/"
    assert archive_path("daily", OWN) == "/archive/daily/"
    assert archive_path("daily", "weekly") == "/archive/daily/weekly/"
    assert edition_path("daily", slot, "weekly") == "/archive/daily/weekly/2026-11-25-0700/"
    assert edition_url(BASE, "daily", slot) == f"{BASE}/archive/daily/2026-11-25-0700/"
    # A round-up composed in the same minute as an edition has its own address.
    assert (
        edition_url(BASE, "daily", slot, "daily") == f"{BASE}/archive/daily/daily/2026-11-25-0700/"
    )
