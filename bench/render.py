"""Benchmark of digest rendering: compile once, then personalise per recipient.

Measures, in one run on a 10-story edition with four related items shown out of twelve
candidates (``related_k`` 4 and the spares of per-reader memory):

* the time to compile the edition (Jinja → MJML → HTML + css-inline, and the text part);
* the per-recipient cost of :class:`~syndicate.digest.personalise.Personaliser` over
  100,000 recipients (µs per recipient, peak traced memory), with every reader shown the
  first four picks, and with per-reader memory: choosing each reader's picks from what
  they received (a fifth of them received some of the first four) and splicing them;
* the same two for the message bytes a sender builds
  (:class:`~syndicate.delivery.message.MessageTemplate`, without DKIM), on fewer
  recipients;
* the ledger query a sender runs per batch (``--ledger``: what a batch of readers
  received in 60 days, from a SQLite outbox of two daily channels);
* the naive path — render and compile the whole edition per recipient, with the
  recipient's values in the template context — on fewer recipients (``--naive``, default
  200), its per-recipient cost extrapolated to 100,000, and the ratio between the two.

Run: ``.venv/bin/python bench/render.py [--recipients 100000] [--naive 200] [--ledger 2000]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from syndicate.config import ChannelConfig, Settings
from syndicate.delivery.compose import sender
from syndicate.delivery.message import MessageTemplate
from syndicate.delivery.message import Recipient as MailRecipient
from syndicate.digest.compose import Edition
from syndicate.digest.links import PlaceholderLinks, Recipient
from syndicate.digest.personalise import Markers, Personaliser, recipient_values
from syndicate.digest.render import (
    RenderedEdition,
    compile_mjml,
    render_context,
    render_edition,
    tidy_text,
)
from syndicate.digest.templates import DigestTemplates
from syndicate.models import Article, Author, Image
from syndicate.store import Store, open_store
from syndicate.store.delivery_schema import deliveries
from syndicate.store.delivery_schema import subscribers as subscriber_rows
from syndicate.store.ledger import Ledger
from syndicate.store.schema import editions

SLOT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
BASE = "https://bench.example"


def article(n: int) -> Article:
    """A realistic-sized story: long headline, two-sentence dek, image, author with bio."""
    return Article(
        id=f"tag:bench.example,2026:desk/{n}",
        source="desk",
        url=f"{BASE}/2026/11/story-number-{n}-with-a-long-readable-slug/",
        title=f"Story {n}: a headline of ordinary length about harbours, trade and politics",
        dek=(
            "Two sentences of summary, as editors write them for the front page. "
            "The second one adds the detail that makes a reader click."
        ),
        body_html="<p>Body.</p>",
        authors=(Author("Ana Ruiz", "Ana Ruiz covers ports and shipping from Lisbon."),),
        section="World",
        tags=("trade",),
        image=Image(f"{BASE}/img/{n}.jpg", f"A photograph for story {n}", "Desk", "", 1600, 900),
        published_at=SLOT - timedelta(hours=n),
        updated_at=SLOT,
        content_hash=str(n),
    )


def setup() -> tuple[Settings, ChannelConfig, Edition, DigestTemplates]:
    """The settings, channel, 10-story edition and templates every measure shares."""
    settings = Settings(
        site={
            "name": "The Bench Review",
            "base_url": BASE,
            "postal_address": "1 Quay Street, Portsmouth PO1 1AA, UK",
        }
    )
    channel = ChannelConfig(name="daily", title="The Bench Review Daily", digest={"related_k": 4})
    edition = Edition(
        channel="daily",
        slot=SLOT,
        articles=tuple(article(n) for n in range(10)),
        related=tuple(article(n) for n in range(20, 32)),
        subject="Story 0 — 25 November 2026",
        preheader="Two sentences of summary, as editors write them. Plus 9 more stories.",
    )
    return settings, channel, edition, DigestTemplates(settings)


def recipients(count: int) -> list[Recipient]:
    """Distinct recipients with names that need escaping now and then."""
    return [
        Recipient(
            f"reader{n}@example.org", f"Reader {n}" + (" & Co" if n % 7 == 0 else ""), f"t{n:08x}"
        )
        for n in range(count)
    ]


def naive_once(
    parts: tuple[Settings, ChannelConfig, Edition, DigestTemplates], who: Recipient
) -> int:
    """Render and compile the whole edition with ``who``'s values in the context."""
    settings, channel, edition, templates = parts
    links = PlaceholderLinks(settings.site.base_url)
    markers = Markers()
    context: dict[str, Any] = render_context(edition, settings, channel, markers)
    context["recipient"] = {"name": who.name, "email": who.email}
    context["links"] = {
        **context["links"],
        "unsubscribe": links.unsubscribe(who),
        "preferences": links.preferences(who),
    }
    html = compile_mjml(templates.render("digest.mjml.j2", context), origin="digest.mjml.j2")
    text = markers.seal(templates.render("digest.txt.j2", context))
    text = tidy_text(text, origin="digest.txt.j2")
    return len(markers.seal(html)) + len(text)


def per_recipient(people: list[Recipient], build: Callable[[Recipient, int], object]) -> float:
    """Seconds per recipient of ``build`` over ``people``."""
    start = time.perf_counter()
    for n, who in enumerate(people):
        build(who, n)
    return (time.perf_counter() - start) / len(people)


def received_sets(candidates: Sequence[str]) -> list[set[str]]:
    """What readers received: four in five none of the candidates (60 days of other
    stories), one in five some of the first four as well."""
    history = {f"tag:bench.example,2026:old/{n}" for n in range(1500)}
    return [
        history,
        history,
        history,
        history,
        history | {candidates[0], candidates[2]},
        history,
        history,
        history,
        history,
        history | {candidates[1], candidates[3], candidates[5]},
    ]


def message_costs(
    settings: Settings,
    rendered: RenderedEdition,
    people: list[Recipient],
    candidates: Sequence[str],
    seen: list[set[str]],
) -> None:
    """The message bytes per recipient (MessageTemplate, no DKIM): same picks for all,
    then each reader's own."""
    template = MessageTemplate(
        sender=sender(settings),
        edition_id=1,
        channel="daily",
        channel_title="The Bench Review Daily",
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
    )
    now = datetime.now(UTC)
    mail = [
        MailRecipient(n, n, who.email, who.name, f"{BASE}/u/{who.token}", f"{BASE}/p/{who.token}")
        for n, who in enumerate(people)
    ]
    same = per_recipient(people, lambda _, n: template.render(mail[n], now))
    own = per_recipient(
        people,
        lambda _, n: template.render(
            mail[n], now, template.choose(candidates, seen[n % len(seen)])
        ),
    )
    print(
        f"message bytes, {len(people):,} recipients: {same * 1e6:.1f} µs/recipient with "
        f"the same picks, {own * 1e6:.1f} µs with each reader's ({own / same:.2f}×)"
    )


def ledger_cost(subscribers: int, days: int = 60) -> None:
    """The ledger query per batch: ``subscribers`` readers of two daily channels, each
    sent every edition of ``days`` days, in a SQLite outbox."""
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{folder}/ledger.db")
        ids = fill_outbox(store, subscribers, days)
        ledger = Ledger(store)
        since = SLOT - timedelta(days=days)
        # The candidates of the edition being sent: two are stories the readers got.
        among = {"tag:b,2026:a/5", "tag:b,2026:a/99"} | {f"tag:new/{n}" for n in range(10)}
        for size in (100, 500):
            batches = [ids[i : i + size] for i in range(0, len(ids) - size + 1, size)][:7]
            times = []
            for batch in batches:
                start = time.perf_counter()
                ledger.received(batch, since, among=among)
                times.append(time.perf_counter() - start)
            per = statistics.median(times)
            print(
                f"ledger query, batch of {size} readers x {2 * days} deliveries each: "
                f"{per * 1000:.1f} ms median ({per / size * 1e6:.0f} µs/reader)"
            )
        store.close()


def fill_outbox(store: Store, subscribers: int, days: int) -> list[int]:
    """Two channels' daily editions of ``days`` days, each sent to every subscriber."""
    now = SLOT
    editions_rows = []
    for day in range(days):
        for channel in ("world", "arts"):
            first = (day * 2 + (channel == "arts")) * 22
            editions_rows.append(
                {
                    "channel": channel,
                    "slot": SLOT - timedelta(days=days - day),
                    "article_ids": [f"tag:b,2026:a/{first + n}" for n in range(10)],
                    "related_ids": [f"tag:b,2026:a/{first + n}" for n in range(10, 22)],
                    "subject": "s",
                    "preheader": "",
                    "html": "",
                    "text": "",
                    "status": "sent",
                    "created_at": now,
                    "cadence": "edition",
                    "message_salt": "00",
                }
            )
    with store.engine.begin() as conn:
        conn.execute(insert(editions), editions_rows)
        edition_ids = [r[0] for r in conn.execute(select(editions.c.id))]
        conn.execute(
            insert(subscriber_rows),
            [
                {
                    "email": f"r{n}@example.org",
                    "name": "",
                    "status": "active",
                    "timezone": "UTC",
                    "consent": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(subscribers)
            ],
        )
        people = [r[0] for r in conn.execute(select(subscriber_rows.c.id))]
        rows = [
            {
                "edition_id": e,
                "subscriber_id": p,
                "status": "sent",
                "attempts": 1,
                "next_attempt_at": now,
                "created_at": now,
                "sent_at": now - timedelta(days=days // 2),
                "picks": 0b1111,
            }
            for p in people
            for e in edition_ids
        ]
        for start in range(0, len(rows), 20_000):
            conn.execute(insert(deliveries), rows[start : start + 20_000])
    return people


def main() -> None:
    """Print compile time, personalisation cost, naive cost and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--ledger", type=int, default=2000, help="subscribers in the ledger's outbox (0: skip)"
    )
    args = parser.parse_args()
    parts = setup()
    settings, channel, edition, templates = parts

    compiles = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        rendered = render_edition(edition, settings, channel, templates)
        compiles.append(time.perf_counter() - start)
    size = len(rendered.html.encode("utf-8"))
    print(
        f"edition: 10 stories + 4 related of {len(edition.related)} candidates, stored HTML "
        f"{size:,} bytes, text {len(rendered.text):,}"
    )
    print(
        f"compile one edition, median of {args.repeat}: {statistics.median(compiles) * 1000:.1f} ms"
    )

    people = recipients(args.recipients)
    links = PlaceholderLinks(settings.site.base_url)
    personaliser = Personaliser(rendered.html, rendered.text)
    fast = per_recipient(people, lambda who, _: personaliser.fill(recipient_values(who, links)))
    tracemalloc.start()
    for who in people[:10_000]:
        personaliser.fill(recipient_values(who, links))
    fast_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(
        f"personalise {len(people):,} recipients: {fast * 1e6:.1f} µs/recipient, "
        f"{fast * len(people):.2f} s in all, peak traced memory {fast_peak:.1f} MiB"
    )
    candidates = rendered.related_ids
    seen = received_sets(candidates)
    layout = personaliser.layout

    def remembered(who: Recipient, n: int) -> object:
        picks = layout.choose(candidates, seen[n % len(seen)])
        return personaliser.fill(recipient_values(who, links), picks)

    memory = per_recipient(people, remembered)
    hit = sum(1 for got in seen if got & set(candidates))
    print(
        f"personalise with per-reader memory (choose + splice; {hit} in {len(seen)} "
        f"readers received some of the first picks): {memory * 1e6:.1f} "
        f"µs/recipient, {memory / fast:.2f}× the same-picks copy"
    )
    message_costs(settings, rendered, people[:20_000], candidates, seen)
    if args.ledger:
        ledger_cost(args.ledger)

    start = time.perf_counter()
    for who in people[: args.naive]:
        naive_once(parts, who)
    naive = (time.perf_counter() - start) / args.naive
    tracemalloc.start()
    naive_once(parts, people[0])
    naive_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(
        f"naive (render + compile per recipient), measured on {args.naive}: "
        f"{naive * 1e6:,.0f} µs/recipient, extrapolated to {len(people):,}: "
        f"{naive * len(people) / 60:.1f} min, peak traced memory {naive_peak:.1f} MiB"
    )
    print(f"ratio naive / personalise: {naive / fast:,.0f}×")


if __name__ == "__main__":
    main()
