"""Benchmark of digest rendering: compile once, then personalise per recipient.

Measures, in one run on a 10-story edition with four related items:

* the time to compile the edition (Jinja → MJML → HTML + css-inline, and the text part);
* the per-recipient cost of :class:`~syndicate.digest.personalise.Personaliser` over
  100,000 recipients (µs per recipient, peak traced memory);
* the naive path — render and compile the whole edition per recipient, with the
  recipient's values in the template context — on fewer recipients (``--naive``, default
  200), its per-recipient cost extrapolated to 100,000, and the ratio between the two.

Run: ``.venv/bin/python bench/render.py [--recipients 100000] [--naive 200]``
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from syndicate.config import ChannelConfig, Settings
from syndicate.digest.compose import Edition
from syndicate.digest.links import PlaceholderLinks, Recipient
from syndicate.digest.personalise import Personaliser, recipient_values
from syndicate.digest.render import compile_mjml, render_context, render_edition, tidy_text
from syndicate.digest.templates import DigestTemplates
from syndicate.models import Article, Author, Image

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
    channel = ChannelConfig(name="daily", title="The Bench Review Daily")
    edition = Edition(
        channel="daily",
        slot=SLOT,
        articles=tuple(article(n) for n in range(10)),
        related=tuple(article(n) for n in range(20, 24)),
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
    context: dict[str, Any] = render_context(edition, settings, channel)
    context["recipient"] = {"name": who.name, "email": who.email}
    context["links"] = {
        **context["links"],
        "unsubscribe": links.unsubscribe(who),
        "preferences": links.preferences(who),
    }
    html = compile_mjml(templates.render("digest.mjml.j2", context), origin="digest.mjml.j2")
    text = tidy_text(templates.render("digest.txt.j2", context), origin="digest.txt.j2")
    return len(html) + len(text)


def main() -> None:
    """Print compile time, personalisation cost, naive cost and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    parts = setup()
    settings, channel, edition, templates = parts

    compiles = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        rendered = render_edition(edition, settings, channel, templates)
        compiles.append(time.perf_counter() - start)
    size = len(rendered.html.encode("utf-8"))
    print(f"edition: 10 stories + 4 related, HTML {size:,} bytes, text {len(rendered.text):,}")
    print(
        f"compile one edition, median of {args.repeat}: {statistics.median(compiles) * 1000:.1f} ms"
    )

    people = recipients(args.recipients)
    links = PlaceholderLinks(settings.site.base_url)
    start = time.perf_counter()
    personaliser = Personaliser(rendered.html, rendered.text)
    total = 0
    for who in people:
        copy = personaliser.fill(recipient_values(who, links))
        total += len(copy.html)  # use the result; a sender would hand it to the backend
    fast = (time.perf_counter() - start) / len(people)
    tracemalloc.start()
    for who in people[:10_000]:
        personaliser.fill(recipient_values(who, links))
    fast_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(
        f"personalise {len(people):,} recipients: {fast * 1e6:.1f} µs/recipient, "
        f"{fast * len(people):.2f} s in all, peak traced memory {fast_peak:.1f} MiB"
    )

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
