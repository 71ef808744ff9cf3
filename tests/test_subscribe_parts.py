"""The pieces under the subscriber pages: the sliding-window limit, the confirmation
message, and the form rules (cadence and section choices per channel)."""

from __future__ import annotations

import base64

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from syndicate.config import ChannelConfig, ChannelFilters, DigestSettings
from syndicate.delivery.dkim import DKIMSigner
from syndicate.delivery.message import Sender
from syndicate.delivery.notice import ConfirmLink, confirmation_message
from syndicate.errors import MessageError
from syndicate.models import Subscriber, Subscription
from syndicate.subscribers.signup import (
    InvalidForm,
    cadence_choices,
    parse_preferences,
    parse_signup,
    section_choices,
    subscribable,
)
from syndicate.web.ratelimit import SlidingWindow
from tests.deliveryhelpers import SLOT
from tests.subscribehelpers import parse

SENDER = Sender("news@review.example", "The Review", "review.example", "review.example")
LINK = ConfirmLink("The Review — World", "https://review.example/confirm/abc.def")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_counts_per_key_and_frees_as_time_passes() -> None:
    clock = Clock()
    limit = SlidingWindow(2, 60.0, clock=clock)
    assert limit.hit("a") is None
    clock.now += 10
    assert limit.hit("a") is None
    assert limit.hit("a") == 50.0  # the first hit leaves the window in 50 s
    assert limit.hit("b") is None  # other keys are counted apart
    clock.now += 50
    assert limit.hit("a") is None  # the first hit has left the window
    assert limit.hit("a") == 10.0  # refused hits were not counted


def test_sliding_window_memory_is_bounded() -> None:
    clock = Clock()
    limit = SlidingWindow(1, 60.0, clock=clock, max_keys=3)
    for key in "abc":
        assert limit.hit(key) is None
    clock.now += 61  # a, b and c are idle now
    assert limit.hit("d") is None
    assert limit.hit("e") is None
    assert limit.hit("f") is None
    assert limit.hit("g") is None  # the oldest live key makes room
    assert limit.hit("d") is None  # ... so d's count was forgotten: the limit fails open


def confirm(**changes: object) -> bytes:
    values: dict[str, object] = {
        "sender": SENDER,
        "request_id": 7,
        "to_email": "ana@example.com",
        "site_name": "The Review",
        "postal_address": "1 Harbour Row",
        "links": [LINK],
        "valid_days": 7,
        "now": SLOT,
    }
    values.update(changes)
    return confirmation_message(**values).raw  # type: ignore[arg-type]


def test_confirmation_message_is_well_formed() -> None:
    raw = confirm()
    assert raw.count(b"\n") == raw.count(b"\r\n")  # CRLF only (RFC 5322 §2.3)
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    mail = parse(raw)
    assert mail["From"] == "The Review <news@review.example>"
    assert mail["To"] == "ana@example.com"
    assert mail["Subject"] == "Confirm your subscription to The Review — World"
    assert mail["Message-ID"].startswith("<confirm.7.") and mail["Date"]
    assert "List-Unsubscribe" not in mail
    assert mail.get_content_type() == "multipart/alternative"
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None and html is not None
    assert LINK.url in text.get_content() and f'href="{LINK.url}"' in html.get_content()
    assert "1 Harbour Row" in text.get_content() and "7 days" in text.get_content()
    several = parse(confirm(links=[LINK, ConfirmLink("Economy", "https://r.example/confirm/x")]))
    assert several["Subject"] == "Confirm your subscriptions to The Review"


def test_confirmation_message_escapes_and_refuses_injection() -> None:
    html = parse(confirm(links=[ConfirmLink("<b>A&B</b>", LINK.url)])).get_body(("html",))
    assert html is not None and "&lt;b&gt;A&amp;B&lt;/b&gt;" in html.get_content()
    with pytest.raises(MessageError):
        confirm(links=[ConfirmLink("World\r\nBcc: victim@example.com", LINK.url)])
    with pytest.raises(MessageError):
        confirm(to_email="ana@example.com\r\nBcc: victim@example.com")


def test_confirmation_message_is_dkim_signed() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    txt = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    raw = confirm(signer=DKIMSigner("review.example", "sel", key))
    assert raw.startswith(b"DKIM-Signature:")
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: txt)


def channel(
    name: str, schedule: str, sections: tuple[str, ...] = (), on: bool = True
) -> ChannelConfig:
    return ChannelConfig(
        name=name,
        title=name.title(),
        filters=ChannelFilters(sections=sections),
        digest=DigestSettings(schedule=schedule, enabled=on),
    )


def test_choices_follow_the_channel() -> None:
    on_new = channel("live", "on_new", ("World", "Economy"))
    daily = channel("daily", "0 7 * * *", ("World",))
    weekly = channel("weekly", "0 7 * * 1")
    assert cadence_choices(on_new, SLOT) == ("edition", "daily", "weekly")
    assert cadence_choices(daily, SLOT) == ("daily", "weekly")
    assert cadence_choices(weekly, SLOT) == ("weekly",)
    assert section_choices(on_new) == ("World", "Economy")
    assert section_choices(daily) == () and section_choices(weekly) == ()
    off = channel("off", "0 7 * * *", on=False)
    assert list(subscribable([on_new, off, weekly])) == ["live", "weekly"]


def test_signup_form_rules() -> None:
    live = channel("live", "on_new", ("World", "Economy"))
    form = parse_signup(live, {"email": [" Ana@Example.COM "], "name": ["  Ana   Ruiz "]}, SLOT)
    assert (form.email, form.name) == ("ana@example.com", "Ana Ruiz")
    assert form.subscription == Subscription("live", "edition", ())
    every = parse_signup(
        live, {"email": ["a@example.com"], "sections": ["Economy", "World", "World"]}, SLOT
    )
    assert every.subscription.sections == ()  # all ticked = every story, new sections too
    with pytest.raises(InvalidForm) as caught:
        parse_signup(live, {"email": ["x"], "cadence": ["hourly"], "sections": ["Sport"]}, SLOT)
    assert set(caught.value.problems) == {"email", "cadence", "sections"}
    weekly = channel("weekly", "0 7 * * 1")
    with pytest.raises(InvalidForm) as caught:
        parse_signup(weekly, {"email": ["a@example.com"], "cadence": ["edition"]}, SLOT)
    assert "weekly" in caught.value.problems["cadence"]


def test_preferences_form_rules() -> None:
    live = channel("live", "on_new", ("World", "Economy"))
    weekly = channel("weekly", "0 7 * * 1")
    ana = Subscriber(
        id=1,
        email="ana@example.com",
        name="Ana",
        status="active",
        subscriptions=(Subscription("live"), Subscription("retired", "daily")),
    )
    change = parse_preferences(
        ana,
        {"live": live, "weekly": weekly},
        {
            "channels": ["weekly", "retired"],
            "weekly.cadence": ["weekly"],
            "timezone": ["Asia/Tokyo"],
            "name": ["Ana R"],
        },
        SLOT,
    )
    assert change.leave == ("live",)
    assert change.add == (Subscription("weekly", "weekly"),)
    assert change.keep == (Subscription("retired", "daily"),)  # no longer offered: kept as is
    assert (change.name, change.timezone) == ("Ana R", "Asia/Tokyo")
