"""Per-reader memory: a subscriber is never offered, as a "More from" pick, an article
they received (as a story or a pick, in any channel) in the last related_memory_days.

Editions here are rendered with the real templates and stored, then sent through the
real dispatcher, outbox and ledger; only the backend is a recording fake.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from syndicate.config import ChannelConfig, DispatchSettings, Settings
from syndicate.delivery.compose import EditionMessages
from syndicate.delivery.dispatch import Dispatcher, enqueue_edition
from syndicate.delivery.tokens import TokenSigner
from syndicate.digest.render import render_edition
from syndicate.digest.templates import DigestTemplates
from syndicate.models import Article, DeliveryResult, OutboundMessage, Subscription
from syndicate.store import Store
from syndicate.store.delivery_schema import deliveries
from syndicate.store.editions import EditionRecord, NewEdition, save_edition
from syndicate.store.ledger import Ledger, received_query
from syndicate.store.subscribers import SubscriberStore
from syndicate.testing import FixedClock, RecordingBackend, Script
from tests.deliveryhelpers import SECRET
from tests.digest.factory import article, edition, settings

SLOT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
A = [article(n) for n in range(40)]  # A[n] is titled "Story number n"
TITLE = re.compile(r"Story number (\d+)")


def channel(name: str, **digest: object) -> ChannelConfig:
    return ChannelConfig(name=name, title=f"The {name.title()} Gazette", digest=digest)


def save(
    store: Store,
    config: Settings,
    ch: ChannelConfig,
    slot: datetime,
    stories: Sequence[Article],
    related: Sequence[Article],
) -> EditionRecord:
    """Render an edition of ``ch`` with these stories and candidates, and store it."""
    made = replace(edition(stories, related, slot=slot), channel=ch.name)
    rendered = render_edition(made, config, ch, DigestTemplates(config))
    record, created = save_edition(
        store,
        NewEdition(
            channel=ch.name,
            slot=slot,
            article_ids=tuple(a.id for a in stories),
            related_ids=rendered.related_ids,
            subject=rendered.subject,
            preheader=rendered.preheader,
            html=rendered.html,
            text=rendered.text,
            created_at=slot,
        ),
    )
    assert created
    return record


def subscribe(store: Store, email: str, *channels: str) -> None:
    SubscriberStore(store).upsert(
        email,
        name=email.split("@")[0],
        status="active",
        timezone="UTC",
        subs=[Subscription(c, "edition", ()) for c in channels],
        now=SLOT - timedelta(days=400),
    )


def send(
    store: Store,
    config: Settings,
    channels: Sequence[ChannelConfig],
    record: EditionRecord,
    at: datetime,
    script: Script | None = None,
) -> list[OutboundMessage]:
    """Enqueue ``record`` for its channel's audience and dispatch every due delivery at
    ``at``; the accepted messages."""
    by_name = {c.name: c for c in channels}
    enqueue_edition(store, by_name[record.channel], record, at)
    backend = RecordingBackend(script)
    messages = EditionMessages(store, config, by_name, signer=None, tokens=TokenSigner(SECRET))
    Dispatcher(
        store, backend, messages, DispatchSettings(batch_size=10), clock=FixedClock(at)
    ).run()
    return backend.sent


def to(sent: list[OutboundMessage]) -> dict[str, OutboundMessage]:
    """The messages by address (one each)."""
    found = {m.to_email: m for m in sent}
    assert len(found) == len(sent)
    return found


def picks(message: OutboundMessage) -> list[int]:
    """The "More from" picks of a message, from its text part, after checking that its
    HTML part shows the same ones in the same order, in rows of at most two."""
    text = message.text.replace("\r\n", "\n")
    in_text: list[int] = []
    if "MORE FROM" in text:
        block = text.split("MORE FROM", 1)[1].split("____", 1)[0]
        in_text = [int(n) for n in re.findall(r"^\* Story number (\d+)", block, re.M)]
    html = message.html
    in_html = []
    for column in html.split('more-from-item"')[1:]:
        found = TITLE.search(column)
        assert found is not None
        in_html.append(int(found.group(1)))
    assert in_html == in_text, "the text part lists other picks than the HTML part"
    assert ("More from The Test Gazette" in html) == bool(in_text)
    # Each row (an Outlook table of columns) holds two picks, the last one or two.
    rows = [r.count('more-from-item"') for r in html.split("<!--[if mso | IE]><table")]
    rows = [n for n in rows if n]
    assert rows == [2] * (len(in_text) // 2) + [1] * (len(in_text) % 2)
    return in_text


def test_a_reader_of_two_channels_never_gets_a_pick_they_received_in_either(
    store: Store,
) -> None:
    config = settings()
    world, arts = channel("world"), channel("arts")
    subscribe(store, "both@example.org", "world", "arts")
    subscribe(store, "arts@example.org", "arts")
    first = save(store, config, world, SLOT, A[0:2], A[2:14])
    got = to(send(store, config, [world, arts], first, SLOT))
    assert picks(got["both@example.org"]) == [2, 3, 4, 5]

    # The arts edition's best candidates are the world edition's story 0 and picks 3
    # and 2 and 5: the reader of both channels got those, the arts-only reader did not.
    later = SLOT + timedelta(days=1)
    candidates = [A[0], A[3], A[14], A[2], A[15], A[16], A[5], A[17], A[18], A[19]]
    second = save(store, config, arts, later, [A[30]], candidates)
    got = to(send(store, config, [world, arts], second, later))
    assert picks(got["arts@example.org"]) == [0, 3, 14, 2]
    assert picks(got["both@example.org"]) == [14, 15, 16, 17]


def test_the_memory_ends_after_related_memory_days(store: Store) -> None:
    config = settings()
    world, arts = channel("world"), channel("arts", related_memory_days=30)
    subscribe(store, "both@example.org", "world", "arts")
    first = save(store, config, world, SLOT, A[0:2], A[2:14])
    send(store, config, [world, arts], first, SLOT)

    candidates = [A[0], A[3], A[14], A[2], A[15], A[16], A[5], A[17]]
    inside = SLOT + timedelta(days=29)
    second = save(store, config, arts, inside, [A[30]], candidates)
    got = to(send(store, config, [world, arts], second, inside))
    assert picks(got["both@example.org"]) == [14, 15, 16, 17]

    # 31 days after the world edition went out, what it carried may be offered again
    # (but not the arts edition's picks of two days before).
    outside = SLOT + timedelta(days=31)
    third = save(store, config, arts, outside, [A[31]], [A[0], A[14], A[3], A[18], A[2]])
    got = to(send(store, config, [world, arts], third, outside))
    assert picks(got["both@example.org"]) == [0, 3, 18, 2]


def test_no_memory_with_related_memory_days_0(store: Store) -> None:
    config = settings()
    world = channel("world", related_memory_days=0)
    subscribe(store, "reader@example.org", "world")
    first = save(store, config, world, SLOT, A[0:2], A[2:6])
    send(store, config, [world], first, SLOT)
    later = SLOT + timedelta(days=1)
    second = save(store, config, world, later, [A[30]], [A[2], A[3], A[20], A[21]])
    got = to(send(store, config, [world], second, later))
    assert picks(got["reader@example.org"]) == [2, 3, 20, 21]


@pytest.mark.parametrize(
    ("unseen", "shown"),
    [(3, [14, 15, 16]), (1, [14]), (0, [])],
)
def test_fewer_unseen_candidates_than_related_k(
    store: Store, unseen: int, shown: list[int]
) -> None:
    config = settings()
    world = channel("world")
    subscribe(store, "reader@example.org", "world")
    first = save(store, config, world, SLOT, A[0:2], A[2:14])
    send(store, config, [world], first, SLOT)
    later = SLOT + timedelta(days=1)
    candidates = [A[2], A[3], A[0], *A[14 : 14 + unseen], A[4], A[5], A[1]]
    second = save(store, config, world, later, [A[30]], candidates)
    got = to(send(store, config, [world], second, later))
    assert picks(got["reader@example.org"]) == shown


def test_a_retry_carries_the_picks_of_the_first_attempt(store: Store) -> None:
    config = settings()
    world, arts = channel("world"), channel("arts")
    subscribe(store, "reader@example.org", "world", "arts")
    candidates = A[2:14]
    first = save(store, config, world, SLOT, A[0:2], candidates)

    def defer(message: OutboundMessage) -> DeliveryResult:
        return DeliveryResult(message.delivery_id, "deferred", error="451 try later")

    assert send(store, config, [world, arts], first, SLOT, script=defer) == []
    with store.engine.connect() as conn:
        recorded = conn.execute(select(deliveries.c.picks)).scalar_one()
    assert recorded == 0b1111  # candidates 0-3: A[2], A[3], A[4], A[5]

    # Meanwhile the reader gets an arts edition whose story is world's first pick: had
    # the retry chosen again, it would leave that pick out.
    meanwhile = SLOT + timedelta(minutes=1)  # before the retry is due (backoff 240 s+)
    arts_edition = save(store, config, arts, meanwhile, [A[2]], A[20:24])
    send(store, config, [world, arts], arts_edition, meanwhile)

    retry = SLOT + timedelta(hours=2)
    backend = RecordingBackend()
    messages = EditionMessages(
        store, config, {"world": world, "arts": arts}, signer=None, tokens=TokenSigner(SECRET)
    )
    dispatcher = Dispatcher(
        store, backend, messages, DispatchSettings(batch_size=10), clock=FixedClock(retry)
    )
    with store.engine.connect() as conn:
        ids = conn.execute(
            select(deliveries.c.id).where(deliveries.c.edition_id == first.id)
        ).scalars()
        ids = list(ids)
    dispatcher.send(ids)  # the queue workers' path
    assert [picks(m) for m in backend.sent] == [[2, 3, 4, 5]]


def test_two_editions_in_one_batch_do_not_offer_the_same_pick(store: Store) -> None:
    config = settings()
    world, arts = channel("world"), channel("arts")
    subscribe(store, "reader@example.org", "world", "arts")
    one = save(store, config, world, SLOT, [A[0]], A[2:10])
    two = save(store, config, arts, SLOT, [A[1]], [A[3], A[2], *A[10:16]])
    enqueue_edition(store, world, one, SLOT)
    sent = send(store, config, [world, arts], two, SLOT)  # one batch carries both
    assert {m.edition_id: picks(m) for m in sent} == {
        one.id: [2, 3, 4, 5],
        two.id: [10, 11, 12, 13],  # not 3 and 2, which the world edition carries
    }


def test_ledger_is_one_indexed_query_and_counts_stories_and_shown_picks(store: Store) -> None:
    config = settings()
    world = channel("world")
    subscribe(store, "reader@example.org", "world")
    first = save(store, config, world, SLOT, A[0:2], A[2:14])
    send(store, config, [world], first, SLOT)
    reader = SubscriberStore(store).get("reader@example.org")
    assert reader is not None
    got = Ledger(store).received([reader.id], SLOT - timedelta(days=1))
    assert got == {reader.id: {a.id for a in A[0:6]}}
    assert Ledger(store).received([reader.id], SLOT + timedelta(seconds=1)) == {reader.id: set()}
    # A delivery sent before picks were recorded showed all of its related ids.
    with store.engine.begin() as conn:
        conn.execute(update(deliveries).values(picks=None))
    got = Ledger(store).received([reader.id], SLOT - timedelta(days=1))
    assert got == {reader.id: {a.id for a in A[0:14]}}
    if store.engine.dialect.name == "sqlite":
        query = received_query([reader.id], SLOT)
        with store.engine.connect() as conn:
            compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
        assert any("ix_deliveries_subscriber_sent" in str(row) for row in plan), plan


def test_another_sources_copy_of_a_story_received_is_not_offered_as_a_pick(
    store: Store,
) -> None:
    from syndicate.ingest.content import clean_entry
    from syndicate.models import Entry
    from tests.digest.factory import T0, store_articles

    config = settings()
    world, arts = channel("world"), channel("arts")
    subscribe(store, "both@example.org", "world", "arts")
    subscribe(store, "arts@example.org", "arts")
    ids = store_articles(store, 20)  # "Story number 0" .. 19, as stored
    stored = {n: store.get_article(i) for n, i in enumerate(ids)}
    # The wire's copy of story 0, in story 0's cluster.
    copy = clean_entry(
        Entry(
            key="copy-0",
            url="https://wire.example/0",
            title="Story number 90",
            body_html="<p>Body of story 0 about harbours.</p>",
            published_at=T0 + timedelta(hours=1),
        ),
        source="wire",
        authority="news.example,2026",
        site_url="https://wire.example",
    )
    store.save_entries([copy], now=T0 + timedelta(hours=1), stories={copy.id: ids[0]})
    wire_copy = store.get_article(copy.id)
    assert wire_copy is not None and wire_copy.story_key == ids[0]

    first = save(
        store, config, world, SLOT, [stored[0], stored[1]], [stored[n] for n in range(2, 14)]
    )
    assert picks(to(send(store, config, [world, arts], first, SLOT))["both@example.org"]) == [
        2,
        3,
        4,
        5,
    ]

    later = SLOT + timedelta(days=1)
    candidates = [wire_copy, *(stored[n] for n in range(14, 19))]
    second = save(store, config, arts, later, [stored[19]], candidates)
    got = to(send(store, config, [world, arts], second, later))
    assert picks(got["arts@example.org"]) == [90, 14, 15, 16]
    # The reader of both got story 0 from the world edition: its copy is no pick for them.
    assert picks(got["both@example.org"]) == [14, 15, 16, 17]
