"""Canonical URL keys: two links to one page compare equal, two pages never do."""

from __future__ import annotations

import pytest

from syndicate.ingest.canonical import TRACKING_PARAMS, canonical_form, is_tracking, url_key
from syndicate.ingest.content import clean_entry
from syndicate.ingest.sources.feed import parse_feed

PAGE = "https://news.example/world/2026/11/harbour-strike"


@pytest.mark.parametrize(
    "link",
    [
        PAGE,
        "http://news.example/world/2026/11/harbour-strike",  # scheme
        "https://NEWS.Example/world/2026/11/harbour-strike",  # host case
        "https://www.news.example/world/2026/11/harbour-strike",  # www.
        "https://m.news.example/world/2026/11/harbour-strike",  # mobile host
        "https://amp.news.example/world/2026/11/harbour-strike",  # AMP host
        "https://news.example/world/2026/11/harbour-strike/",  # trailing slash
        "https://news.example/world/2026/11/harbour-strike/amp",  # AMP path
        "https://news.example/world/2026/11/harbour-strike/amp/",
        "https://news.example/world/2026/11/harbour-strike.amp",
        "https://news.example/world/2026/11/harbour-strike?amp",
        "https://news.example/world/2026/11/harbour-strike?outputType=amp",
        "https://news.example:443/world/2026/11/harbour-strike",  # default port
        "https://news.example/world/2026/11/harbour-strike#comments",  # fragment
        "https://news.example/world/2026/11/harbour-strike?utm_source=rss&utm_medium=feed",
        "https://news.example/world/2026/11/harbour-strike?UTM_Campaign=x",  # name case
        "https://news.example/world/2026/11/harbour-strike?fbclid=IwAR0abc&gclid=xyz",
        "https://news.example/world/2026/11/harbour-strike?mc_cid=1&mc_eid=2&ref=home",
        "https://news.example/world/2026/11/harbour-strike?pk_campaign=a&mtm_source=b",
        "https://news.example/world/2026/11/harbour-strike?_hsenc=p2&_hsmi=3&CMP=share",
    ],
)
def test_aliases_of_one_page_have_one_key(link: str) -> None:
    assert canonical_form(link) == "news.example/world/2026/11/harbour-strike"
    assert url_key(link) == url_key(PAGE)


def test_parameters_that_name_the_page_are_kept_in_any_order() -> None:
    one = canonical_form("https://news.example/article.php?id=7&page=2&utm_source=x")
    other = canonical_form("https://news.example/article.php?page=2&id=7")
    assert one == other == "news.example/article.php?id=7&page=2"
    assert url_key("https://news.example/article.php?id=7") != url_key(
        "https://news.example/article.php?id=8"
    )


@pytest.mark.parametrize(
    "other",
    [
        "https://news.example/world/2026/11/harbour-strike-talks",  # another page
        "https://news.example/World/2026/11/harbour-strike",  # paths are case-sensitive
        "https://elsewhere.example/world/2026/11/harbour-strike",  # another site
        "https://news.example:8443/world/2026/11/harbour-strike",  # another port
        "https://sub.news.example/world/2026/11/harbour-strike",  # another subdomain
    ],
)
def test_other_pages_have_other_keys(other: str) -> None:
    assert url_key(other) != url_key(PAGE)


@pytest.mark.parametrize(
    "link",
    [
        "",
        "https://news.example/",  # a home page names no story
        "https://www.news.example/?utm_source=rss",
        "ftp://news.example/world/story",
        "mailto:desk@news.example",
        "/world/story",  # relative
        "http://[::1",  # not a URL at all
        "http://news.example:99999/x",  # port out of range
    ],
)
def test_no_key_without_a_story_page(link: str) -> None:
    assert url_key(link) == ""


def test_a_canonical_link_wins_over_the_public_one() -> None:
    redirector = "https://feedproxy.example/~r/news/~3/abc123/"
    assert url_key(redirector, canonical=PAGE) == url_key(PAGE)
    assert url_key(redirector, canonical="not a url") == url_key(redirector)


def test_a_short_host_keeps_its_first_label() -> None:
    # "m.example" is a site of its own, not the mobile alias of "example".
    assert canonical_form("https://m.example/story") == "m.example/story"


def test_the_documented_list_is_what_is_dropped() -> None:
    for name in ("fbclid", "gclid", "mc_cid", "mc_eid", "ref", "msclkid"):
        assert name in TRACKING_PARAMS and is_tracking(name)
    for name in ("utm_source", "utm_anything", "pk_kwd", "mtm_cid"):
        assert is_tracking(name)
    for name in ("id", "page", "p", "story", "article"):
        assert not is_tracking(name)


def test_the_key_is_short_whatever_the_url() -> None:
    key = url_key("https://news.example/" + "very-long-slug/" * 300)
    assert len(key) == 32 and int(key, 16) >= 0


def test_feed_items_name_their_page() -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title><id>urn:wire</id>
<updated>2026-11-20T09:00:00Z</updated>
<entry><id>urn:wire:1</id><title>Harbour strike</title><updated>2026-11-20T09:00:00Z</updated>
<link rel="alternate" href="https://wire.example/r/abc?utm_source=atom"/>
<link rel="canonical" href="https://www.news.example/world/2026/11/harbour-strike/"/>
</entry></feed>"""
    rss = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"><channel>
<title>Wire</title><link>https://wire.example/</link><description>d</description>
<item><guid isPermaLink="false">w-2</guid><title>Harbour strike</title>
<link>https://feedproxy.example/~r/wire/~3/xyz/</link>
<feedburner:origLink>https://news.example/world/2026/11/harbour-strike?ref=fb</feedburner:origLink>
</item>
<item><guid isPermaLink="false">w-3</guid><title>Other</title>
<link>https://wire.example/other</link></item>
</channel></rss>"""
    entries = [
        *parse_feed(atom, url="https://wire.example/atom").entries,
        *parse_feed(rss, url="https://wire.example/rss").entries,
    ]
    assert [e.canonical_url for e in entries] == [
        "https://www.news.example/world/2026/11/harbour-strike/",
        "https://news.example/world/2026/11/harbour-strike?ref=fb",
        "",
    ]
    cleaned = [
        clean_entry(e, source="wire", authority="x.example,2026", site_url="https://x.example")
        for e in entries
    ]
    assert cleaned[0].url == "https://wire.example/r/abc?utm_source=atom"  # public link kept
    assert cleaned[0].url_key == cleaned[1].url_key == url_key(PAGE)
    assert cleaned[2].url_key == url_key("https://wire.example/other")
