"""The welcome edition (issue 17 item 3): on confirmation, exactly once per subscriber
and channel, through the outbox, to a real SMTP server (aiosmtpd); its stories count as
received for the next edition's "More from" (per-reader memory)."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from syndicate.delivery.dispatch import enqueue_edition
from syndicate.digest import build_edition
from syndicate.digest.compose import Edition
from syndicate.digest.render import render_edition
from syndicate.digest.templates import DigestTemplates
from syndicate.digest.welcome import by_section
from syndicate.models import Subscription
from syndicate.scheduler.jobs import run_welcomes
from syndicate.store import open_store
from syndicate.store.archive import archived_channels
from syndicate.store.delivery_schema import deliveries
from syndicate.store.editions import NewEdition, get_edition_by_id, save_edition
from syndicate.store.schema import editions
from syndicate.store.signups import SignupStore
from syndicate.store.subscribers import SubscriberStore
from syndicate.store.welcomes import START_HERE, WELCOME
from tests.digest.factory import article, store_articles
from tests.smtpserver import SMTPTestServer
from tests.subscribehelpers import parse
from tests.welcomehelpers import NOW, SLOT, dispatch, sign_up, signups_for, write_instance

TITLE = re.compile(r"^\* (Story number \d+)", re.M)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def more_from(message: EmailMessage) -> list[str]:
    """The titles in the "More from" block of a message's text part."""
    text = text_of(message)
    if "MORE FROM" not in text:
        return []
    return TITLE.findall(text.split("MORE FROM", 1)[1].split("____", 1)[0])


def test_confirm_sends_exactly_one_welcome_with_the_latest_edition(
    tmp_path: Path, store_url: str
) -> None:
    with SMTPTestServer() as smtp:
        settings, world = write_instance(tmp_path, smtp.port, store_url=store_url)
        store = open_store(settings.store_url)
        store_articles(store, 30)
        built = build_edition(store, settings, world, SLOT)
        assert built is not None and built.record is not None
        signups = signups_for(store, settings, world)

        claims = sign_up(signups, "new@example.org")
        assert signups.confirm(claims, {}, NOW) == "confirmed"
        assert signups.confirm(claims, {}, NOW) == "already"  # a double click
        assert signups.welcome(claims.subscriber_id, "world", NOW) is None  # a retry
        dispatch(store, settings, world, NOW)
        dispatch(store, settings, world, NOW + timedelta(hours=1))

        # Leaving and coming back after a newer edition is no new welcome either.
        record = built.record
        newer = NewEdition(
            "world",
            SLOT + timedelta(days=1),
            record.article_ids,
            record.related_ids,
            "Newer",
            "",
            record.html,
            record.text,
            created_at=SLOT + timedelta(days=1),
        )
        save_edition(store, newer)
        SubscriberStore(store).unsubscribe(claims.subscriber_id, "world", source="web", now=NOW)
        again = sign_up(signups, "new@example.org", NOW + timedelta(days=2))
        assert signups.confirm(again, {}, NOW + timedelta(days=2)) == "confirmed"
        dispatch(store, settings, world, NOW + timedelta(days=2))

        assert smtp.counts() == {"new@example.org": 1}
        mail = parse(smtp.messages[0].content)
        assert mail["Subject"].startswith("Welcome to The World Gazette: ")
        text = " ".join(text_of(mail).split())
        assert "Welcome to The World Gazette, and thank you for subscribing" in text
        stories = store.get_articles(list(built.record.article_ids))
        assert all(a.title in text for a in stories)
        # The view-in-browser link is the copied edition's archive page.
        assert "https://news.example/archive/world/2026-11-25-0700/" in text
        # The welcome is an edition of its own, sent to one reader, not archived.
        assert {a.cadence for a in archived_channels(store)} == {"edition"}
        store.close()


def test_welcome_off_sends_nothing(tmp_path: Path) -> None:
    with SMTPTestServer() as smtp:
        settings, world = write_instance(tmp_path, smtp.port, 'welcome = "off"\n')
        store = open_store(settings.store_url)
        store_articles(store, 30)
        build_edition(store, settings, world, SLOT)
        signups = signups_for(store, settings, world)
        assert signups.confirm(sign_up(signups, "new@example.org"), {}, NOW) == "confirmed"
        dispatch(store, settings, world, NOW)
        assert smtp.counts() == {}
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 0
        store.close()


def test_no_edition_yet_means_no_welcome(tmp_path: Path) -> None:
    with SMTPTestServer() as smtp:
        settings, world = write_instance(tmp_path, smtp.port)
        store = open_store(settings.store_url)
        signups = signups_for(store, settings, world)
        claims = sign_up(signups, "new@example.org")
        assert signups.confirm(claims, {}, NOW) == "confirmed"
        assert signups.welcome(claims.subscriber_id, "world", NOW) is None
        store.close()


@pytest.mark.parametrize("status", ["draft", "held", "cancelled", "missed"])
def test_an_edition_never_released_is_never_a_welcome(tmp_path: Path, status: str) -> None:
    """An edition an editor has not released (the hold window) or stopped is not sent to
    a new subscriber as their welcome either."""
    with SMTPTestServer() as smtp:
        settings, world = write_instance(tmp_path, smtp.port)
        store = open_store(settings.store_url)
        store_articles(store, 30)
        record = build_edition(store, settings, world, SLOT).record
        assert record is not None
        with store.engine.begin() as conn:
            conn.execute(update(editions).where(editions.c.id == record.id).values(status=status))
        signups = signups_for(store, settings, world)
        claims = sign_up(signups, "new@example.org")
        assert signups.confirm(claims, {}, NOW) == "confirmed"
        dispatch(store, settings, world, NOW)
        assert smtp.counts() == {}
        store.close()


def test_a_welcome_a_crash_left_out_is_sent_late_once(tmp_path: Path) -> None:
    """The confirmation is committed but the process dies before its welcome is queued:
    the scheduler's catch-up queues it once; an operator's add gets none."""
    with SMTPTestServer() as smtp:
        settings, world = write_instance(tmp_path, smtp.port)
        store = open_store(settings.store_url)
        store_articles(store, 30)
        build_edition(store, settings, world, SLOT)
        signups = signups_for(store, settings, world)
        claims = sign_up(signups, "new@example.org")
        # What Signups.confirm does before its welcome: the crash comes in between.
        done = SignupStore(store).confirm(claims.subscriber_id, "world", consent={}, now=NOW)
        assert done == "confirmed"
        SubscriberStore(store).upsert(
            "added@example.org",
            name="",
            status="active",
            timezone="UTC",
            subs=[Subscription("world", "daily")],
            now=NOW,
        )
        later = NOW + timedelta(minutes=10)
        assert run_welcomes(store, settings, later) == 1
        assert run_welcomes(store, settings, later) == 0
        dispatch(store, settings, world, later)
        assert smtp.counts() == {"new@example.org": 1}
        # Confirmations older than the catch-up window are left alone.
        old = sign_up(signups, "old@example.org")
        done = SignupStore(store).confirm(old.subscriber_id, "world", consent={}, now=NOW)
        assert done == "confirmed"
        assert run_welcomes(store, settings, NOW + timedelta(days=2)) == 0
        store.close()


def test_start_here_sends_the_pinned_articles(tmp_path: Path) -> None:
    with SMTPTestServer() as smtp:
        settings, world = write_instance(
            tmp_path,
            smtp.port,
            'welcome = "start_here"\nwelcome_pins = ["tag:news.example,2026:desk/k003", '
            '"tag:news.example,2026:desk/k001"]\n',
        )
        store = open_store(settings.store_url)
        ids = store_articles(store, 12)
        signups = signups_for(store, settings, world)
        claims = sign_up(signups, "new@example.org")
        signups.confirm(claims, {}, NOW)
        delivery = signups.welcome(claims.subscriber_id, "world", NOW)
        assert delivery is None  # already queued by the confirmation
        dispatch(store, settings, world, NOW)
        assert smtp.counts() == {"new@example.org": 1}
        text = " ".join(text_of(parse(smtp.messages[0].content)).split())
        assert "here are a few of our stories to start with" in text
        assert text.index("Story number 3 ") < text.index("Story number 1 ")
        with store.engine.connect() as conn:
            edition_id = conn.execute(select(deliveries.c.edition_id)).scalar_one()
        record = get_edition_by_id(store, edition_id)
        assert record is not None and record.cadence == START_HERE
        assert record.article_ids == (ids[3], ids[1])
        store.close()


def test_start_here_without_pins_takes_the_best_of_each_section(tmp_path: Path) -> None:
    with SMTPTestServer() as smtp:
        settings, world = write_instance(tmp_path, smtp.port, 'welcome = "start_here"\n')
        store = open_store(settings.store_url)
        store_articles(store, 10, section="World")
        store_articles(store, 10, start=10, section="Arts")
        store_articles(store, 10, start=20, section="Sport")  # not in the channel
        signups = signups_for(store, settings, world)
        signups.confirm(sign_up(signups, "all@example.org"), {}, NOW)
        signups.confirm(sign_up(signups, "arts@example.org", sections=("Arts",)), {}, NOW)
        dispatch(store, settings, world, NOW)
        assert smtp.counts() == {"all@example.org": 1, "arts@example.org": 1}
        with store.engine.connect() as conn:
            edition_ids = {r[0] for r in conn.execute(select(deliveries.c.edition_id))}
        assert len(edition_ids) == 1
        record = get_edition_by_id(store, edition_ids.pop())
        assert record is not None and len(record.article_ids) == 4
        chosen = {a.id: a for a in store.get_articles(list(record.article_ids))}
        in_order = [chosen[i] for i in record.article_ids]
        assert {a.section for a in in_order} == {"World", "Arts"}  # each section, no Sport
        got = {m.rcpt_tos[0]: parse(m.content) for m in smtp.messages}
        arts = " ".join(text_of(got["arts@example.org"]).split("MORE FROM")[0].split())
        everyone = " ".join(text_of(got["all@example.org"]).split("MORE FROM")[0].split())
        for story in in_order:
            assert f"{story.title} " in everyone
            assert (f"{story.title} " in arts) == (story.section == "Arts")
        store.close()


def test_the_next_edition_does_not_repeat_the_welcome_stories_in_more_from(
    tmp_path: Path, store_url: str
) -> None:
    with SMTPTestServer() as smtp:
        settings, world = write_instance(tmp_path, smtp.port, store_url=store_url)
        store = open_store(settings.store_url)
        ids = store_articles(store, 30)
        built = build_edition(store, settings, world, SLOT)
        assert built is not None and built.record is not None
        signups = signups_for(store, settings, world)
        signups.confirm(sign_up(signups, "new@example.org"), {}, NOW)
        dispatch(store, settings, world, NOW)
        assert smtp.counts() == {"new@example.org": 1}
        welcomed = store.get_articles(list(built.record.article_ids))
        # A reader who joined without a welcome (added by the operator): the control.
        SubscriberStore(store).upsert(
            "control@example.org",
            name="",
            status="active",
            timezone="UTC",
            subs=[Subscription("world", "daily", ())],
            now=NOW,
        )

        # The next edition's best "More from" candidates are the welcome's stories.
        later = SLOT + timedelta(days=1)
        others = [a for a in store.get_articles(ids) if a.id not in built.record.article_ids]
        new_story, spare = others[-1], others[:8]
        edition = Edition("world", later, (new_story,), (*welcomed, *spare), "Next", "Next one")
        rendered = render_edition(edition, settings, world, DigestTemplates(settings))
        record, _ = save_edition(
            store,
            NewEdition(
                channel="world",
                slot=later,
                article_ids=(new_story.id,),
                related_ids=rendered.related_ids,
                subject=rendered.subject,
                preheader=rendered.preheader,
                html=rendered.html,
                text=rendered.text,
                created_at=later,
            ),
        )
        assert enqueue_edition(store, world, record, later) == 2
        dispatch(store, settings, world, later)

        got = {m.rcpt_tos[0]: parse(m.content) for m in smtp.messages[1:]}
        titles = [a.title for a in welcomed]
        assert more_from(got["control@example.org"]) == titles  # the best four
        shown = more_from(got["new@example.org"])
        assert len(shown) == 4 and not set(shown) & set(titles)
        store.close()


def test_welcome_edition_is_shared_until_the_next_edition(tmp_path: Path) -> None:
    with SMTPTestServer() as smtp:
        settings, world = write_instance(tmp_path, smtp.port)
        store = open_store(settings.store_url)
        store_articles(store, 30)
        build_edition(store, settings, world, SLOT)
        signups = signups_for(store, settings, world)
        for n in range(3):
            signups.confirm(sign_up(signups, f"r{n}@example.org"), {}, NOW)
        with store.engine.connect() as conn:
            editions_used = conn.execute(select(deliveries.c.edition_id).distinct()).all()
        assert len(editions_used) == 1
        record = get_edition_by_id(store, editions_used[0][0])
        assert record is not None and record.cadence == WELCOME and record.slot == SLOT
        store.close()


def test_by_section_takes_turns_in_rank_order() -> None:
    w = [article(n, section="World") for n in range(3)]
    a = [article(n, section="arts") for n in range(10, 12)]
    ranked = [w[0], w[1], a[0], w[2], a[1]]
    assert by_section(ranked, ("World", "Arts"), 4) == [w[0], a[0], w[1], a[1]]
    assert by_section(ranked, ("World", "Arts"), 5) == [w[0], a[0], w[1], a[1], w[2]]
    assert by_section(ranked, ("World",), 2) == [w[0], w[1]]  # no choice: rank order
    assert by_section(ranked, (), 3) == ranked[:3]


def test_a_welcome_that_cannot_be_rendered_leaves_the_confirmation_standing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with SMTPTestServer() as smtp:
        settings, world = write_instance(tmp_path, smtp.port)
        store = open_store(settings.store_url)
        store_articles(store, 30)
        build_edition(store, settings, world, SLOT)
        # An instance template broken after the edition went out.
        (tmp_path / "templates").mkdir()
        (tmp_path / "templates" / "digest.mjml.j2").write_text("{% if %}", encoding="utf-8")
        signups = signups_for(store, settings, world)
        claims = sign_up(signups, "new@example.org")
        assert signups.confirm(claims, {}, NOW) == "confirmed"
        assert "could not queue the welcome edition of world" in caplog.text
        people = SubscriberStore(store).get("new@example.org")
        assert people is not None and people.status == "active"
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 0
        store.close()
