"""The renderers: what every item and channel carries, in RSS, Atom and JSON Feed (A1-A3)."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import feedparser
import pytest

from syndicate.feeds.jsonfeed import render_json
from syndicate.feeds.render import (
    ATOM_NS,
    DC_NS,
    HISTORY_NS,
    MEDIA_NS,
    DocumentLinks,
    RelatedLink,
    render_atom,
    render_rss,
    render_xml,
)
from tests.feeds.fixtures import BASE, article, document, golden_articles

CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
A = f"{{{ATOM_NS}}}"


def rss_items(data: bytes) -> list[ET.Element]:
    return ET.fromstring(data).findall("./channel/item")


def test_rss_item_carries_guid_title_link_summary_then_content() -> None:
    item = rss_items(render_rss(document([article(1)])))[0]
    guid = item.find("guid")
    assert guid is not None and guid.text == article(1).id
    assert guid.get("isPermaLink") == "false"  # RSS-5: a tag: URI is not a permalink
    assert item.findtext("title") == "Story 1: harbour talks resume"
    assert item.findtext("link") == f"{BASE}/stories/1/"
    tags = [child.tag for child in item]
    # RSS-7: description (the dek) comes before content:encoded (the body).
    assert tags.index("description") < tags.index(f"{{{CONTENT_NS}}}encoded")
    # RSS-3: the dek is escaped as HTML, so "<tag>" is text, not markup.
    assert item.findtext("description") == (
        "Dek of story 1, with an ampersand &amp; a &lt;tag&gt; in plain text."
    )
    assert item.findtext(f"{{{CONTENT_NS}}}encoded") == article(1).body_html
    assert item.find("author") is None  # RSS-7: dc:creator, never both
    assert [c.text for c in item.findall(f"{{{DC_NS}}}creator")] == ["Ana Ruiz", "Li Wei"]
    assert [c.text for c in item.findall("category")] == ["World", "diplomacy", "shipping"]


def test_rss_dates_are_rfc822_and_last_build_date_is_the_newest_update() -> None:
    newer = article(2, updated_at=datetime(2026, 4, 1, 12, 0, tzinfo=UTC))
    root = ET.fromstring(render_rss(document([newer, article(1)])))
    build_date = root.findtext("./channel/lastBuildDate")
    assert build_date == "Wed, 01 Apr 2026 12:00:00 +0000"  # RSS-4, HT-4
    pub = root.findtext("./channel/item/pubDate")
    assert pub is not None and parsedate_to_datetime(pub) == newer.published_at


def test_rss_channel_has_self_hub_language_generator_and_image() -> None:
    doc = document(
        [article(1)],
        hubs=("https://hub.example/", "https://hub2.example/"),
        logo=f"{BASE}/logo.png",
        icon=f"{BASE}/icon.png",
    )
    channel = ET.fromstring(render_rss(doc)).find("channel")
    assert channel is not None
    links = [(x.get("rel"), x.get("href")) for x in channel.findall(f"{A}link")]
    assert links == [
        ("self", f"{BASE}/feeds/golden.xml"),
        ("hub", "https://hub.example/"),
        ("hub", "https://hub2.example/"),
    ]
    self_link = channel.find(f"{A}link")
    assert self_link is not None and self_link.get("type") == "application/rss+xml"  # RSS-6
    assert channel.findtext("language") == "en"
    assert channel.findtext("generator") == "syndicate"
    assert channel.findtext("image/url") == f"{BASE}/logo.png"


def test_lead_image_is_media_content_with_alt_text() -> None:
    for data in render_xml(document([article(1)])).values():
        media = ET.fromstring(data).find(f".//{{{MEDIA_NS}}}content")
        assert media is not None
        assert media.get("url") == f"{BASE}/img/1.jpg"
        assert media.get("medium") == "image" and media.get("type") == "image/jpeg"
        assert (media.get("width"), media.get("height")) == ("1200", "800")
        assert media.findtext(f"{{{MEDIA_NS}}}title") == "Harbour cranes at dusk (1)"
        assert media.findtext(f"{{{MEDIA_NS}}}credit") == "Photo: Desk"
    item = json.loads(render_json(document([article(1)])))["items"][0]
    assert item["image"] == f"{BASE}/img/1.jpg"
    assert item["_syndicate"]["image"]["alt"] == "Harbour cranes at dusk (1)"


def test_atom_entry_has_id_updated_html_content_and_summary() -> None:
    root = ET.fromstring(render_atom(document([article(1)])))
    assert root.findtext(f"{A}id") == "tag:news.example,2026:feed/golden"
    assert root.findtext(f"{A}author/{A}name") == "The Example News"  # AT-1
    entry = root.find(f"{A}entry")
    assert entry is not None
    assert entry.findtext(f"{A}id") == article(1).id
    assert entry.findtext(f"{A}updated") == "2026-03-01T09:30:00+00:00"  # AT-4, RFC 3339
    assert entry.findtext(f"{A}published") == "2026-03-01T09:00:00+00:00"
    content = entry.find(f"{A}content")
    assert content is not None and content.get("type") == "html"  # AT-5
    assert content.text == article(1).body_html
    summary = entry.find(f"{A}summary")
    assert summary is not None and summary.get("type") == "html"
    assert [a.findtext(f"{A}name") for a in entry.findall(f"{A}author")] == ["Ana Ruiz", "Li Wei"]
    assert [c.get("term") for c in entry.findall(f"{A}category")] == [
        "World",
        "diplomacy",
        "shipping",
    ]
    links = {x.get("rel"): x.get("href") for x in root.findall(f"{A}link")}
    assert links["self"] == f"{BASE}/feeds/golden.atom"
    assert links["alternate"] == BASE


def test_json_feed_has_the_required_fields() -> None:
    doc = document([article(2), article(1)], hubs=("https://hub.example/",))
    feed = json.loads(render_json(doc))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"  # JF-1
    assert feed["feed_url"] == f"{BASE}/feeds/golden.json"
    assert feed["home_page_url"] == BASE
    assert feed["hubs"] == [{"type": "WebSub", "url": "https://hub.example/"}]
    assert [i["id"] for i in feed["items"]] == [article(2).id, article(1).id]
    item = feed["items"][1]
    assert item["content_html"] == article(1).body_html  # JF-2
    assert item["summary"] == article(1).dek
    assert item["date_published"] == "2026-03-01T09:00:00+00:00"
    assert item["date_modified"] == "2026-03-01T09:30:00+00:00"
    assert item["tags"] == ["World", "diplomacy", "shipping"]
    assert item["authors"][0] == {"name": "Ana Ruiz", "url": f"{BASE}/authors/ana-ruiz"}


def test_summary_channels_carry_only_the_dek() -> None:
    doc = document([article(1)], summary_only=True)
    item = rss_items(render_rss(doc))[0]
    assert item.find(f"{{{CONTENT_NS}}}encoded") is None
    assert item.findtext("description", "").startswith("Dek of story 1")
    entry = ET.fromstring(render_atom(doc)).find(f"{A}entry")
    assert entry is not None and entry.find(f"{A}content") is None
    assert entry.find(f"{A}link") is not None  # AT-2: no content, so an alternate link
    json_item = json.loads(render_json(doc))["items"][0]
    assert json_item["content_html"] == (
        "<p>Dek of story 1, with an ampersand &amp; a &lt;tag&gt; in plain text.</p>"
    )


def test_an_article_without_a_dek_gets_an_excerpt_of_its_body() -> None:
    long_body = "<p>" + " ".join(["word"] * 200) + "</p>"
    item = rss_items(render_rss(document([article(1, dek="", body_html=long_body)])))[0]
    description = item.findtext("description", "")
    assert description.startswith("word word") and description.endswith("…")
    assert len(description) <= 301


def test_same_document_same_bytes_and_no_build_time() -> None:
    articles = golden_articles()
    first = {**render_xml(document(articles)), "json": render_json(document(articles))}
    second = {**render_xml(document(articles)), "json": render_json(document(articles))}
    assert first == second
    # HT-4: the only document-level date is the newest item's update, never "now".
    newest = max(a.updated_at for a in articles)
    assert ET.fromstring(first["atom"]).findtext(f"{A}updated") == newest.isoformat()


def test_empty_channel_has_a_fixed_updated_date() -> None:
    root = ET.fromstring(render_atom(document([])))
    assert root.findtext(f"{A}updated") == "1970-01-01T00:00:00+00:00"
    assert ET.fromstring(render_rss(document([]))).find("./channel/item") is None
    assert json.loads(render_json(document([])))["items"] == []


def test_ids_survive_a_change_of_host_and_scheme() -> None:
    """DD-3: the id is the same whether the site is http://old or https://new."""
    moved = [
        dataclasses.replace(a, url=a.url.replace("https://news.example", "http://old.example"))
        for a in golden_articles()
    ]
    before = feedparser.parse(render_rss(document(golden_articles())))
    after = feedparser.parse(render_rss(document(moved)))
    assert [e.id for e in before.entries] == [e.id for e in after.entries]
    assert [e.link for e in before.entries] != [e.link for e in after.entries]


def test_archive_documents_carry_fh_archive_and_rfc5005_links() -> None:
    def links(fmt: str, ext: str) -> DocumentLinks:
        return DocumentLinks(
            f"{BASE}/feeds/golden/archive/2.{ext}",
            current=f"{BASE}/feeds/golden.{ext}",
            prev_archive=f"{BASE}/feeds/golden/archive/1.{ext}",
            next_archive=f"{BASE}/feeds/golden/archive/3.{ext}",
        )

    doc = document(
        [article(1)],
        archive=True,
        links={
            "rss": links("rss", "xml"),
            "atom": links("atom", "atom"),
            "json": links("json", "json"),
        },
    )
    atom = ET.fromstring(render_atom(doc))
    assert atom.find(f"{{{HISTORY_NS}}}archive") is not None  # PG-3
    rels = {x.get("rel"): x.get("href") for x in atom.findall(f"{A}link")}
    assert rels["current"] == f"{BASE}/feeds/golden.atom"
    assert rels["prev-archive"] == f"{BASE}/feeds/golden/archive/1.atom"
    assert rels["next-archive"] == f"{BASE}/feeds/golden/archive/3.atom"
    rss = ET.fromstring(render_rss(doc)).find("channel")
    assert rss is not None and rss.find(f"{{{HISTORY_NS}}}archive") is not None
    feed = json.loads(render_json(doc))
    assert feed["feed_url"] == f"{BASE}/feeds/golden.json"  # the feed's identity
    assert feed["next_url"] == f"{BASE}/feeds/golden/archive/1.json"  # older items


def test_related_links_end_the_content_of_full_items_only() -> None:
    related = {article(1).id: [RelatedLink("Older & wiser", f"{BASE}/stories/0/")]}
    doc = document([article(1)], related=related)
    html = json.loads(render_json(doc))["items"][0]["content_html"]
    assert html.startswith(article(1).body_html)
    assert html.endswith(
        '<section><h2>More from The Example News</h2><ul><li><a href="'
        f'{BASE}/stories/0/">Older &amp; wiser</a></li></ul></section>'
    )
    summary = json.loads(render_json(dataclasses.replace(doc, summary_only=True)))
    assert "More from" not in summary["items"][0]["content_html"]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_feedparser_reads_every_item_without_complaint(fmt: str) -> None:
    data = render_xml(document(golden_articles()), [fmt])[fmt]
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")  # TE-2
    assert [e.id for e in parsed.entries] == [a.id for a in golden_articles()]
    assert all(e.content[0].value for e in parsed.entries)  # full content, every item
