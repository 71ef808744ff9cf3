"""The hold window (``[digest] review`` and ``draft_hours``) against a real store, driven
by a controlled clock: drafts composed ahead of the slot, editors told once per draft,
``approve`` sending nothing until approval, ``auto`` sending at the slot unless held, a
never-approved draft missed and never sent late, and a held-then-approved edition sent
exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from syndicate.config import Settings, load_channels
from syndicate.delivery import Dispatcher, EditionMessages
from syndicate.delivery.dispatch import enqueue_edition
from syndicate.digest.errors import ReviewError
from syndicate.digest.review import approve, cancel, hold, revise
from syndicate.scheduler.jobs import EditionOutcome, run_schedules
from syndicate.store import Store
from syndicate.store.editions import (
    EditionRecord,
    articles_by_ids,
    get_edition_by_id,
    list_editions,
)
from syndicate.store.operators import Operators
from syndicate.store.outbox import Outbox
from syndicate.testing import RecordingBackend
from tests.deliveryhelpers import add_subscribers
from tests.digest.factory import store_articles
from tests.test_scheduler import instance, utc

SLOT = utc(2026, 11, 21, 7)


class Notices:
    """A backend factory recording every notice the scheduler sends."""

    def __init__(self) -> None:
        self.backend = RecordingBackend()

    def __call__(self) -> RecordingBackend:
        return self.backend

    @property
    def recipients(self) -> list[str]:
        return self.backend.recipients()


def make(tmp_path: Path, store: Store, digest: str, editors: int = 1) -> Settings:
    settings = instance(
        tmp_path,
        store.engine.url.render_as_string(hide_password=False),
        {"daily": 'schedule = "0 7 * * *"\nfirst_lookback_hours = 48\nrelated_k = 0\n' + digest},
    )
    add_subscribers(store, 10, channel_name="daily")
    store_articles(store, 40)  # 20 Nov 09:00 .. 22 Nov 00:00 UTC
    ops = Operators(store)
    for n in range(editors):
        ops.add(f"editor{n}@news.example", "editor", "a long enough password", SLOT)
    return settings


def drive(
    store: Store,
    settings: Settings,
    start: datetime,
    end: datetime,
    notices: Notices,
    step: timedelta = timedelta(minutes=5),
) -> list[EditionOutcome]:
    outcomes: list[EditionOutcome] = []
    now = start
    while now <= end:
        outcomes.extend(run_schedules(store, settings, now, make_backend=notices))
        now += step
    return outcomes


def the_edition(store: Store) -> EditionRecord:
    (edition,) = list_editions(store, "daily")
    return edition


def queued(store: Store) -> int:
    return sum(Outbox(store).status_counts().values())


def test_approve_mode_sends_nothing_until_approval(tmp_path: Path, store: Store) -> None:
    settings = make(tmp_path, store, 'review = "approve"\ndraft_hours = 2')
    notices = Notices()
    outcomes = drive(store, settings, utc(2026, 11, 20, 12), utc(2026, 11, 21, 7, 30), notices)
    # Composed as a draft two hours before the slot, and not sent at the slot.
    assert [(o.slot, o.status) for o in outcomes if o.status == "drafted"] == [(SLOT, "drafted")]
    edition = the_edition(store)
    assert edition.status == "draft" and edition.created_at == utc(2026, 11, 21, 5)
    assert queued(store) == 0
    approve(store, edition.id, "editor0@news.example", utc(2026, 11, 21, 7, 32))
    drive(store, settings, utc(2026, 11, 21, 7, 35), utc(2026, 11, 21, 9), notices)
    assert queued(store) == 10
    assert the_edition(store).status == "approved"


def test_a_never_approved_draft_is_missed_and_never_sent_late(tmp_path: Path, store: Store) -> None:
    settings = make(tmp_path, store, 'review = "approve"\ndraft_hours = 2')
    notices = Notices()
    outcomes = drive(store, settings, utc(2026, 11, 20, 12), utc(2026, 11, 21, 14), notices)
    edition = the_edition(store)
    assert edition.status == "missed"
    assert ("daily", SLOT, "missed") in [(o.schedule, o.slot, o.status) for o in outcomes]
    # Approving it now is refused, and nothing was ever queued.
    with pytest.raises(ReviewError):
        approve(store, edition.id, "editor0@news.example", utc(2026, 11, 21, 14))
    drive(store, settings, utc(2026, 11, 21, 14, 5), utc(2026, 11, 21, 18), notices)
    assert queued(store) == 0
    with pytest.raises(ReviewError):
        enqueue_edition(store, load_channels(settings)[0], edition, utc(2026, 11, 21, 18))
    assert queued(store) == 0


def test_auto_mode_sends_at_the_slot(tmp_path: Path, store: Store) -> None:
    settings = make(tmp_path, store, 'review = "auto"\ndraft_hours = 2')
    notices = Notices()
    drive(store, settings, utc(2026, 11, 20, 12), utc(2026, 11, 21, 6, 55), notices)
    assert the_edition(store).status == "draft" and queued(store) == 0
    drive(store, settings, utc(2026, 11, 21, 7), utc(2026, 11, 21, 7, 10), notices)
    assert the_edition(store).status == "approved" and queued(store) == 10


def test_auto_mode_holds_a_held_edition(tmp_path: Path, store: Store) -> None:
    settings = make(tmp_path, store, 'review = "auto"\ndraft_hours = 2')
    notices = Notices()
    drive(store, settings, utc(2026, 11, 20, 12), utc(2026, 11, 21, 6), notices)
    hold(store, the_edition(store).id, "editor0@news.example", utc(2026, 11, 21, 6), "typo")
    drive(store, settings, utc(2026, 11, 21, 6, 5), utc(2026, 11, 21, 12), notices)
    assert the_edition(store).status == "held" and queued(store) == 0


def test_held_then_approved_is_sent_once(tmp_path: Path, store: Store) -> None:
    settings = make(tmp_path, store, 'review = "auto"\ndraft_hours = 2')
    notices = Notices()
    drive(store, settings, utc(2026, 11, 20, 12), utc(2026, 11, 21, 6), notices)
    edition = the_edition(store)
    hold(store, edition.id, "editor0@news.example", utc(2026, 11, 21, 6))
    drive(store, settings, utc(2026, 11, 21, 6, 5), utc(2026, 11, 21, 8), notices)
    assert queued(store) == 0
    approve(store, edition.id, "editor0@news.example", utc(2026, 11, 21, 8, 1))
    drive(store, settings, utc(2026, 11, 21, 8, 5), utc(2026, 11, 21, 12), notices)
    mail = RecordingBackend()
    channels = {c.name: c for c in load_channels(settings)}
    Dispatcher(store, mail, EditionMessages(store, settings, channels), settings.dispatch).run()
    Dispatcher(store, mail, EditionMessages(store, settings, channels), settings.dispatch).run()
    assert len(mail.recipients()) == 10 and len(set(mail.recipients())) == 10
    assert Outbox(store).status_counts() == {"sent": 10}


def test_editors_are_told_once_per_draft(tmp_path: Path, store: Store) -> None:
    settings = make(tmp_path, store, 'review = "approve"\ndraft_hours = 3', editors=2)
    # An operator of another channel only is not told; one of this channel is.
    Operators(store).add("sport@news.example", "editor", "a long password", SLOT, ("sport",))
    Operators(store).add("desk@news.example", "admin", "a long password", SLOT, ("daily",))
    notices = Notices()
    drive(store, settings, utc(2026, 11, 20, 12), utc(2026, 11, 21, 6), notices)
    assert sorted(notices.recipients) == [
        "desk@news.example",
        "editor0@news.example",
        "editor1@news.example",
    ]
    (message,) = [m for m in notices.backend.sent if m.to_email == "editor0@news.example"]
    edition = the_edition(store)
    assert f"https://news.example/console/editions/{edition.id}" in message.text
    approve(store, edition.id, "editor1@news.example", utc(2026, 11, 21, 6, 1))
    drive(store, settings, utc(2026, 11, 21, 6, 5), utc(2026, 11, 22, 4, 5), notices)
    # The next day's draft: told once more each, not once per pass.
    assert len(notices.recipients) == 6


def test_a_draft_at_the_slot_without_draft_hours_waits_for_approval(
    tmp_path: Path, store: Store
) -> None:
    settings = make(tmp_path, store, 'review = "approve"')
    notices = Notices()
    drive(store, settings, utc(2026, 11, 20, 12), utc(2026, 11, 21, 8), notices)
    assert the_edition(store).status == "draft" and queued(store) == 0
    assert notices.recipients == ["editor0@news.example"]


def test_edits_rerender_and_approval_freezes(tmp_path: Path, store: Store) -> None:
    settings = make(tmp_path, store, 'review = "approve"\ndraft_hours = 2')
    (channel,) = load_channels(settings)
    drive(store, settings, utc(2026, 11, 20, 12), utc(2026, 11, 21, 5), Notices())
    edition = the_edition(store)
    first, second, *rest = edition.article_ids
    now = utc(2026, 11, 21, 5, 30)
    revised = revise(
        store,
        settings,
        channel,
        edition.id,
        actor="editor0@news.example",
        now=now,
        article_ids=[second, *rest],
        subject="A better subject",
    )
    assert revised.article_ids == (second, *rest)
    assert revised.subject == "A better subject" and "Story number" in revised.html
    (dropped,) = articles_by_ids(store, [first])
    assert dropped.title in edition.text and dropped.title not in revised.text
    stored = get_edition_by_id(store, edition.id)
    assert stored is not None and stored.status == "draft" and stored.text == revised.text
    approve(store, edition.id, "editor0@news.example", now)
    with pytest.raises(ReviewError):
        revise(store, settings, channel, edition.id, actor="x", now=now, subject="Too late")
    with pytest.raises(ReviewError):
        cancel(store, edition.id, "x", now)
    entries = Operators(store).audit_entries()
    assert [e.action for e in entries][:2] == ["edition.approved", "edition.edit"]
    assert entries[1].before["subject"] == edition.subject
    assert entries[1].after["subject"] == "A better subject"


def test_a_story_arriving_between_the_draft_and_its_slot_goes_in_the_next_edition(
    tmp_path: Path, store: Store
) -> None:
    settings = instance(
        tmp_path,
        store.engine.url.render_as_string(hide_password=False),
        {
            "daily": 'schedule = "0 7 * * *"\nfirst_lookback_hours = 48\nrelated_k = 0\n'
            'max_items = 50\nreview = "approve"\ndraft_hours = 2'
        },
    )
    add_subscribers(store, 2, channel_name="daily")
    store_articles(store, 20)  # published 20 Nov 09:00 .. 21 Nov 04:00
    notices = Notices()
    drive(store, settings, utc(2026, 11, 20, 12), utc(2026, 11, 21, 5), notices)
    draft = the_edition(store)
    # Published at 05:00 and polled after the draft was composed, before its slot.
    (late,) = store_articles(store, 1, start=20)
    assert late not in draft.article_ids
    approve(store, draft.id, "editor", utc(2026, 11, 21, 6))
    drive(store, settings, utc(2026, 11, 21, 6, 5), utc(2026, 11, 22, 7, 30), notices)
    following = [e for e in list_editions(store, "daily") if e.id != draft.id]
    assert [late] == [i for i in following[0].article_ids if i == late]
    assert not set(draft.article_ids) & set(following[0].article_ids)
