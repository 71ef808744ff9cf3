"""Hostile content still gives well-formed XML and valid JSON (A7 SAXError, SE-3).

The renderer is fed articles straight, not through the store's cleaning, so these
tests prove it does not rely on its input's history.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from syndicate.feeds.documents import render
from syndicate.models import Article, Author, Image
from tests.feeds.fixtures import article, document

CONTROLS = "".join(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32)]) + "\ufffe\uffff"
RTL = "\u202eمرحبا بالعالم\u202c שלום עולם"

HOSTILE = {
    "cdata-end": "before ]]> after ]]]]><![CDATA[> <![CDATA[x]]>",
    "controls": f"a{CONTROLS}b",
    "lone-surrogate": "x\ud800y\udfffz",
    "entities": "&amp; &nbsp; &#x0; &#0; &bogus; &#xD800; &lt;script&gt; & < > \" '",
    "rtl": RTL,
    "markup-in-text": "<b>bold</b> <script>alert(1)</script> <!-- comment -->",
    "non-ascii": "naïve café — 東京 😀 \u2028\u2029",
}


def hostile_article(value: str, n: int = 1) -> Article:
    return article(
        n,
        title=f"T {value}",
        dek=f"D {value}",
        body_html=f"<p>B {value}</p>",
        authors=(Author(f"A {value}", url="https://news.example/a"),),
        tags=(f"tag {value}",),
        section=f"S {value}",
        image=Image("https://news.example/i.png", alt=f"alt {value}", credit=f"c {value}"),
    )


def assert_well_formed(outputs: dict[str, bytes]) -> None:
    strict = etree.XMLParser(recover=False, resolve_entities=False, huge_tree=False)
    for fmt, data in outputs.items():
        if fmt == "json":
            feed = json.loads(data.decode("utf-8"))
            assert isinstance(feed["items"], list)
            continue
        etree.fromstring(data, strict)  # libxml2, strict
        ET.fromstring(data)  # expat
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0, (fmt, parsed.get("bozo_exception"))


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_text_in_every_field_stays_well_formed(case: str) -> None:
    doc = document([hostile_article(HOSTILE[case])], title=f"Channel {HOSTILE[case]}")
    outputs = render(doc, ["rss", "atom", "json"])
    assert_well_formed(outputs)


def test_cdata_terminator_survives_as_text() -> None:
    doc = document([hostile_article(HOSTILE["cdata-end"])])
    outputs = render(doc, ["rss", "atom", "json"])
    parsed = feedparser.parse(outputs["atom"])
    assert "before ]]> after" in parsed.entries[0].title
    assert "before ]]> after" in json.loads(outputs["json"])["items"][0]["content_html"]


def test_right_to_left_text_is_kept_as_written() -> None:
    outputs = render(document([hostile_article(RTL)]), ["rss", "json"])
    assert feedparser.parse(outputs["rss"]).entries[0].title == f"T {RTL}"
    assert json.loads(outputs["json"])["items"][0]["title"] == f"T {RTL}"


def test_control_characters_are_dropped_not_escaped() -> None:
    outputs = render(document([hostile_article(HOSTILE["controls"])]), ["atom", "json"])
    assert feedparser.parse(outputs["atom"]).entries[0].title == "T ab"
    assert json.loads(outputs["json"])["items"][0]["title"] == "T ab"


def test_one_megabyte_bodies() -> None:
    paragraph = "<p>" + ("Lorem ipsum dolor sit amet, ]]> &amp; ü. " * 40) + "</p>\n"
    body = paragraph * (1_048_576 // len(paragraph) + 1)
    assert len(body) > 1_048_576
    articles = [article(n, body_html=body) for n in (2, 1)]
    outputs = render(document(articles), ["rss", "atom", "json"])
    assert_well_formed(outputs)
    parsed = feedparser.parse(outputs["rss"])
    assert len(parsed.entries[0].content[0].value) >= 1_000_000


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_any_text_gives_well_formed_documents(value: str) -> None:
    outputs = render(document([hostile_article(value)]), ["rss", "atom", "json"])
    strict = etree.XMLParser(recover=False)
    etree.fromstring(outputs["rss"], strict)
    etree.fromstring(outputs["atom"], strict)
    json.loads(outputs["json"].decode("utf-8"))
