"""The lead image where readers look for it, read back by a real parser (feedparser).

RSS readers and podcast-style clients look for ``<enclosure>`` (RSS-8), Atom readers for
``link rel="enclosure"`` (RFC 4287 §4.2.7.2); ``media:content`` stays beside them. The
image's alt text must never be taken for the item's summary or content.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import feedparser
import pytest

from syndicate.feeds.render import ATOM_NS, MEDIA_NS, render_xml
from syndicate.models import Image
from tests.feeds.fixtures import BASE, article, document

A = f"{{{ATOM_NS}}}"
ALT = "Harbour cranes at dusk (1)"
DEK = "Dek of story 1, with an ampersand & a <tag> in plain text."


def _entry(data: bytes) -> Any:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == 1
    return parsed.entries[0]


def test_rss_item_has_one_enclosure_with_url_length_and_type() -> None:
    data = render_xml(document([article(1)]), ["rss"])["rss"]
    item = ET.fromstring(data).find("./channel/item")
    assert item is not None
    enclosures = item.findall("enclosure")
    assert len(enclosures) == 1  # RSS-8: at most one per item
    # RSS-8: all three attributes are required; the byte size is unknown, so 0, as the
    # RSS Advisory Board profile recommends.
    assert enclosures[0].attrib == {
        "url": f"{BASE}/img/1.jpg",
        "length": "0",
        "type": "image/jpeg",
    }
    assert item.find(f"{{{MEDIA_NS}}}content") is not None  # still beside it
    assert _entry(data).enclosures == [
        {"href": f"{BASE}/img/1.jpg", "length": "0", "type": "image/jpeg"}
    ]


def test_atom_entry_has_an_enclosure_link_and_keeps_one_alternate() -> None:
    data = render_xml(document([article(1)]), ["atom"])["atom"]
    entry = ET.fromstring(data).find(f"{A}entry")
    assert entry is not None
    links = [dict(link.attrib) for link in entry.findall(f"{A}link")]
    # length is optional in Atom: left out rather than claiming 0 bytes.
    assert {"rel": "enclosure", "href": f"{BASE}/img/1.jpg", "type": "image/jpeg"} in links
    assert entry.find(f"{{{MEDIA_NS}}}content") is not None
    parsed = _entry(data)
    assert parsed.enclosures == [{"href": f"{BASE}/img/1.jpg", "type": "image/jpeg"}]
    assert parsed.link == f"{BASE}/stories/1/"  # the enclosure is not the alternate link
    assert [x.rel for x in parsed.links] == ["alternate", "enclosure"]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_an_image_of_unknown_type_has_no_enclosure(fmt: str) -> None:
    # RSS-8 requires a type; an extension-less URL says none, so media:content alone.
    image = Image("https://cdn.example/image?id=7", alt=ALT)
    data = render_xml(document([article(1, image=image)]), [fmt])[fmt]
    parsed = _entry(data)
    assert parsed.enclosures == []
    assert parsed.media_content[0]["url"] == "https://cdn.example/image?id=7"


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_a_summary_only_item_reads_as_its_summary_not_the_alt_text(fmt: str) -> None:
    data = render_xml(document([article(1)], summary_only=True), [fmt])[fmt]
    parsed = _entry(data)
    assert parsed.summary == parsed.summary_detail.value
    assert "Dek of story 1" in parsed.summary
    assert ALT not in parsed.summary
    # No content was published, so the parser must not invent one from the image.
    assert [c.value for c in parsed.get("content", [])] == []


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_a_full_item_keeps_its_summary_and_content(fmt: str) -> None:
    data = render_xml(document([article(1)]), [fmt])[fmt]
    parsed = _entry(data)
    assert "Dek of story 1" in parsed.summary_detail.value
    assert [c.value for c in parsed.content] == [article(1).body_html]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_the_alt_text_and_credit_stay_on_the_media_content(fmt: str) -> None:
    data = render_xml(document([article(1)]), [fmt])[fmt]
    media = ET.fromstring(data).find(f".//{{{MEDIA_NS}}}content")
    assert media is not None
    title = media.find(f"{{{MEDIA_NS}}}title")
    assert title is not None and (title.text, title.get("type")) == (ALT, "plain")
    assert media.findtext(f"{{{MEDIA_NS}}}credit") == "Photo: Desk"
    assert _entry(data).title == "Story 1: harbour talks resume"
