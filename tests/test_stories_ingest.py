"""One story from two sources, end to end: ingest → one cluster → one edition item, and
neither copy is ever a "More from" pick for the other.

The publisher's folder carries two stories; an upstream feed, served on 127.0.0.1,
carries each again: one under the same page's link with tracking parameters and a
rewritten headline, the other as another outlet's rewrite (headline and lead reworded,
its own link). The feed's articles are allowed as picks (``related = true``), so only
the clusters keep the copies apart.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

from syndicate.config import Settings, SourceConfig
from syndicate.digest import DigestTemplates
from syndicate.digest.compose import compose_edition
from syndicate.ingest.run import ingest
from syndicate.models import Article
from syndicate.related import RelatedIndex
from syndicate.store import Store
from syndicate.store.channels import related_pool
from tests.digest.factory import channel, settings
from tests.httpserver import LocalServer

pytest_plugins = ["tests.httpserver"]

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
SLOT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
SITE = "https://gazette.example"
DESK = "tag:news.example,2026:desk/"
WIRE = "tag:news.example,2026:wire/"

OWN_STORIES = {
    "harbour-strike": (
        "Harbour cranes stop as dockers strike over pay",
        "Dockers at the Harbourside container terminal walked out at dawn on Monday, "
        "stopping all twelve cranes in a dispute over a 3% pay offer. The union said the "
        "strike would last 48 hours; the port authority warned that ships would queue in "
        "the estuary and that supermarket deliveries could be delayed by the weekend.",
        f"{SITE}/business/harbour-strike/",
    ),
    "quake-chile": (
        "Magnitude 6.8 earthquake strikes off northern Chile coast",
        "A magnitude 6.8 earthquake struck off the coast of northern Chile on Tuesday, "
        "shaking buildings in Antofagasta and Iquique, the national seismology centre "
        "said. There were no immediate reports of casualties or major damage, and the "
        "navy said the quake did not meet the conditions to generate a tsunami along the "
        "Chilean coast.",
        f"{SITE}/world/quake-chile/",
    ),
}
# Older articles of our own: the pool the picks come from.
ARCHIVE = {
    f"archive-{n}": (
        f"{topic} report number {n}",
        f"{topic} {topic} and more about {topic.lower()} in the archive, item {n}, "
        + " ".join(f"detail{n}x{i}" for i in range(8)),
    )
    for n, topic in enumerate(["Port strike", "Dockers pay", "Earthquake Chile", "Tsunami navy"])
}
WIRE_ITEMS = [
    (
        "wire-1",
        # The same page, with tracking parameters, from the www. host, headline rewritten.
        "https://www.gazette.example/business/harbour-strike/?utm_source=wire&utm_medium=rss",
        "Port paralysed: Harbourside dockers walk out",
        "Container traffic stopped on Monday as dockers struck for two days; the port "
        "warns of queues of ships and late deliveries to supermarkets.",
    ),
    (
        "wire-2",
        # Another outlet's rewrite of the quake story, under its own link.
        "https://wire.example/2026/11/strong-quake-shakes-antofagasta",
        "Strong quake shakes Antofagasta, no tsunami threat",
        "Buildings swayed in Antofagasta and Iquique on Tuesday when a 6.8-magnitude "
        "earthquake hit offshore in northern Chile. Chile's seismology centre reported "
        "the tremor; authorities said no deaths or serious damage had been reported so "
        "far, and the navy ruled out a tsunami.",
    ),
    (
        "wire-3",
        "https://wire.example/2026/11/rail-fares",
        "Rail fares to rise 4.9% in January",
        "Regulated rail fares will rise by 4.9% in January, the transport department "
        "announced on Wednesday, adding about 250 pounds a year to many season tickets.",
    ),
]


def write_folder(base: Path) -> None:
    content = base / "content"
    content.mkdir()
    for n, (slug, (title, lead, url)) in enumerate(OWN_STORIES.items()):
        published = NOW - timedelta(hours=3 + n)
        (content / f"{slug}.md").write_text(
            f"---\ntitle: {title}\nslug: {slug}\nurl: {url}\n"
            f"published: {published.isoformat()}\n---\n\n{lead}\n",
            encoding="utf-8",
        )
    for n, (slug, (title, body)) in enumerate(ARCHIVE.items()):
        published = NOW - timedelta(days=20 + n)
        (content / f"{slug}.md").write_text(
            f"---\ntitle: {title}\nslug: {slug}\npublished: {published.isoformat()}\n---\n\n"
            f"{body}\n",
            encoding="utf-8",
        )


def rss(items: list[tuple[str, str, str, str]]) -> bytes:
    entries = "".join(
        f"<item><guid isPermaLink='false'>{guid}</guid><link>{escape(link)}</link>"
        f"<title>{escape(title)}</title><description>{escape(text)}</description>"
        f"<pubDate>{format_datetime(NOW - timedelta(hours=1))}</pubDate></item>"
        for guid, link, title, text in items
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Wire</title><link>https://wire.example/</link>{entries}</channel></rss>"
    ).encode()


def instance(base: Path, server: LocalServer) -> Settings:
    write_folder(base)
    server.route("/wire.xml", body=rss(WIRE_ITEMS), headers={"Content-Type": "application/rss+xml"})
    sources = (
        SourceConfig(name="desk", kind="folder", path="content"),
        SourceConfig(
            name="wire",
            kind="feed",
            url=server.url("/wire.xml"),
            allow_private=True,
            related=True,
        ),
    )
    config = settings(base_url=SITE, tag_authority="news.example,2026")
    return config.model_copy(update={"sources": sources, "base_dir": base})


def article(store: Store, article_id: str) -> Article:
    found = store.get_article(article_id)
    assert found is not None, article_id
    return found


def test_one_story_from_two_sources_is_one_cluster(
    store: Store, tmp_path: Path, http_server: LocalServer
) -> None:
    config = instance(tmp_path, http_server)
    reports = ingest(store, config, clock=lambda: NOW)
    assert [(r.name, r.error, r.new) for r in reports] == [("desk", None, 6), ("wire", None, 3)]

    harbour, quake = article(store, DESK + "harbour-strike"), article(store, DESK + "quake-chile")
    wire_harbour, wire_quake = article(store, WIRE + "wire-1"), article(store, WIRE + "wire-2")
    # The publisher's articles came first: each names its cluster, the copies join it.
    assert harbour.story == "" and quake.story == ""
    assert wire_harbour.story == harbour.id  # the same page, tracking and www. aside
    assert wire_quake.story == quake.id  # the same story, reworded
    assert article(store, WIRE + "wire-3").story == ""
    assert wire_harbour.url.endswith("?utm_source=wire&utm_medium=rss")  # link kept as given
    archive = [a for a in store.list_articles(source="desk") if "archive" in a.id]
    assert len(archive) == 4 and all(a.story == "" for a in archive)

    # The edition carries one member of each cluster: the publisher's own.
    templates = DigestTemplates(config)
    daily = channel(related_k=4, first_lookback_hours=48)
    edition = compose_edition(store, config, daily, SLOT, templates)
    assert edition is not None
    assert {a.id for a in edition.articles} == {harbour.id, quake.id, WIRE + "wire-3"}
    # ... and its picks never hold a member of a story's cluster.
    assert not {wire_harbour.id, wire_quake.id} & {a.id for a in edition.related}

    # Neither copy is ever picked for the other, in either direction.
    pool = list(related_pool(store, config, daily, until=SLOT))
    index = RelatedIndex(pool)
    for story, copy in [
        (harbour, wire_harbour),
        (wire_harbour, harbour),
        (quake, wire_quake),
        (wire_quake, quake),
    ]:
        picks = index.pick_per_story([story], k=4)[story.id]
        assert copy.id not in {p.id for p in picks}, (story.id, copy.id)
    # Control: without the clusters the copy would be picked (so the test can fail).
    unclustered = RelatedIndex([replace(a, story="") for a in pool])
    plain = replace(wire_harbour, story="")
    assert harbour.id in {p.id for p in unclustered.pick_per_story([plain], k=4)[plain.id]}


def test_a_later_copy_joins_and_the_cluster_is_never_renamed(
    store: Store, tmp_path: Path, http_server: LocalServer
) -> None:
    config = instance(tmp_path, http_server)
    ingest(store, config, clock=lambda: NOW)
    # A second run: an agency item of the harbour story arrives, under an AMP link.
    later = [
        *WIRE_ITEMS,
        (
            "wire-4",
            "https://amp.gazette.example/business/harbour-strike/amp/?fbclid=abc",
            "Dock strike halts Harbourside cranes",
            "All twelve cranes at the container terminal stood idle on Monday.",
        ),
    ]
    http_server.route("/wire.xml", body=rss(later), headers={"Content-Type": "application/rss+xml"})
    ingest(store, config, clock=lambda: NOW + timedelta(hours=1))
    harbour = article(store, DESK + "harbour-strike")
    assert harbour.story == ""
    assert article(store, WIRE + "wire-1").story == harbour.id
    assert article(store, WIRE + "wire-4").story == harbour.id


def test_clusters_can_be_turned_off(store: Store, tmp_path: Path, http_server: LocalServer) -> None:
    config = instance(tmp_path, http_server)
    off = config.model_copy(
        update={"stories": config.stories.model_copy(update={"enabled": False})}
    )
    ingest(store, off, clock=lambda: NOW)
    assert all(a.story == "" for a in store.list_articles())
