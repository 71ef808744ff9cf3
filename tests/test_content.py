"""Cleaning and identity: sanitising, control characters, captions, authors, stable ids."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from syndicate.ingest import content
from syndicate.ingest.content import (
    absolute_url,
    article_id,
    cap,
    clean_author,
    clean_entry,
    clean_image,
    clean_text,
    collapse_repeat,
    plausible_dates,
    sanitize_html,
    strip_controls,
)
from syndicate.models import Author, Entry, Image

AUTH = "meridian.example,2026"


def test_sanitize_drops_scripts_handlers_and_javascript_urls() -> None:
    dirty = (
        '<p onclick="x()">Hi<script>alert(1)</script></p>'
        '<img src="a.jpg" onerror="alert(1)">'
        '<a href="javascript:alert(1)">j</a>'
        '<a href="JaVaScRiPt:alert(1)">J</a>'
        '<iframe src="https://evil.example/"></iframe>'
        '<form action="/x"><input name="q"></form>'
        "<style>body{display:none}</style>"
        '<a href="data:text/html,<script>alert(1)</script>">d</a>'
        "<svg><script>alert(1)</script></svg>"
        '<p style="position:fixed">s</p>'
    )
    clean = sanitize_html(dirty, "https://meridian.example/world/x/")
    lowered = clean.lower()
    for bad in (
        "<script",
        "onclick",
        "onerror",
        "javascript:",
        "<iframe",
        "<form",
        "<input",
        "<style",
        "data:",
        "<svg",
        "style=",
    ):
        assert bad not in lowered, bad
    assert "alert(1)" not in clean
    assert '<img src="https://meridian.example/world/x/a.jpg">' in clean


def test_sanitize_with_an_unparseable_base_drops_relative_links() -> None:
    # Found by test_feed_fuzz: a feed's xml:base with a host nh3 cannot parse.
    html = '<p><a href="/x">rel</a> <a href="https://ok.example/y">abs</a></p>'
    clean = sanitize_html(html, "http://<entry<link_=/href")
    assert 'href="/x"' not in clean and ">rel</a>" in clean
    assert 'href="https://ok.example/y"' in clean


def test_sanitize_makes_relative_urls_absolute_and_keeps_typography() -> None:
    html = '<p>“Quoted” — it’s fine…</p><a href="/world/older">older</a><img src="i/p.jpg" alt="">'
    clean = sanitize_html(html, "https://meridian.example/culture/piece/")
    assert "“Quoted” — it’s fine…" in clean
    assert 'href="https://meridian.example/world/older"' in clean
    assert 'src="https://meridian.example/culture/piece/i/p.jpg"' in clean


def test_control_characters_are_stripped_everywhere() -> None:
    assert strip_controls("a\x00b\x08c\x0bd\x1fe\tf\ng\r") == "abcde\tf\ng\r"
    assert clean_text("Title\x07 with\x1b bell") == "Title with bell"
    assert "\x0c" not in sanitize_html("<p>form\x0cfeed</p>")


def test_clean_text_removes_markup_and_unescapes() -> None:
    assert clean_text("<b>Bold</b> &amp; <i>brave</i>  ") == "Bold & brave"
    assert clean_text("Moscow Eyes a Launch Pad… in the Caribbean?") == (
        "Moscow Eyes a Launch Pad… in the Caribbean?"
    )
    assert clean_text("<script>x</script>Safe") == "Safe"


def test_duplicated_caption_and_credit_collapse() -> None:
    assert collapse_repeat("AGENCY/Photo AGENCY/Photo") == "AGENCY/Photo"
    assert collapse_repeat("A harbour at dusk.A harbour at dusk.") == "A harbour at dusk."
    assert collapse_repeat("Not a repeat") == "Not a repeat"
    image = clean_image(
        Image("/i.jpg", "alt", "V. R./AFP", "V. R./AFP V. R./AFP"), "https://meridian.example"
    )
    assert image is not None
    assert image.credit == "V. R./AFP"
    assert image.caption == ""  # the caption only repeated the credit
    assert image.url == "https://meridian.example/i.jpg"


def test_empty_author_name_keeps_bio_and_reads_name_from_it() -> None:
    author = clean_author(Author("", "Elizabeth Dickinson is a senior analyst for Colombia."))
    assert author == Author(
        "Elizabeth Dickinson", "Elizabeth Dickinson is a senior analyst for Colombia."
    )
    nameless = clean_author(Author(" ", "A senior analyst for Colombia."))
    assert nameless == Author("", "A senior analyst for Colombia.")
    assert clean_author(Author("", "")) is None


def test_ids_are_tag_uris_independent_of_host_and_scheme() -> None:
    one = article_id(AUTH, "wire", "http://old.example/2026/story?id=7")
    two = article_id(AUTH, "wire", "https://new.example/2026/story?id=7")
    assert one == two == "tag:meridian.example,2026:wire/2026/story?id=7"
    assert article_id(AUTH, "newsroom", "mr-0001") == "tag:meridian.example,2026:newsroom/mr-0001"
    assert article_id(AUTH, "a", "urn:uuid:1 2") == "tag:meridian.example,2026:a/urn:uuid:1%202"
    assert article_id(AUTH, "a", "x") != article_id(AUTH, "b", "x")


def test_clean_entry_hash_ignores_url_but_not_content() -> None:
    base = Entry(
        key="k",
        url="http://old.example/a",
        title="T",
        body_html="<p>b</p>",
        published_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    moved = Entry(**{**_fields(base), "url": "https://new.example/a"})
    edited = Entry(**{**_fields(base), "body_html": "<p>c</p>"})
    a, b, c = (
        clean_entry(e, source="s", authority=AUTH, site_url="https://x.example")
        for e in (base, moved, edited)
    )
    assert a.id == b.id == c.id
    assert a.content_hash == b.content_hash != c.content_hash
    assert a.url != b.url


def _fields(entry: Entry) -> dict[str, object]:
    return {name: getattr(entry, name) for name in entry.__slots__}


def test_absolute_url_refuses_other_schemes() -> None:
    assert absolute_url("javascript:alert(1)", "https://x.example") == ""
    assert absolute_url("/a", "https://x.example") == "https://x.example/a"
    assert absolute_url("", "https://x.example") == ""


@given(st.text())
def test_sanitized_output_never_contains_active_content(text: str) -> None:
    html = f"<p>{text}</p><script>{text}</script><a href='javascript:{text}'>x</a>"
    clean = sanitize_html(html, "https://x.example")
    assert "<script" not in clean.lower()
    assert all(not h.lower().startswith("javascript") for h in re.findall(r'href="([^"]*)"', clean))
    assert strip_controls(clean) == clean


def test_cap_cuts_at_a_word_with_an_ellipsis() -> None:
    assert cap("short enough", 20) == "short enough"
    assert cap("The council approves the river park at last", 30) == "The council approves the…"
    assert cap("Ends with a comma, then more words", 20) == "Ends with a comma…"
    assert cap("x" * 50, 10) == "xxxxxxxxx…"  # one long word: cut inside it
    assert len(cap("word " * 1000, 301)) <= 301


@given(st.text(), st.integers(min_value=2, max_value=50))
def test_cap_never_exceeds_the_limit(text: str, limit: int) -> None:
    capped = cap(text, limit)
    assert len(capped) <= limit
    assert capped == text or capped.endswith("…")


def test_every_text_field_is_capped_by_clean_entry() -> None:
    huge = ("word " * 20_480).strip()  # 100 KB
    entry = Entry(
        key="k",
        url="https://x.example/a",
        title=huge,
        body_html="<p>b</p>",
        published_at=None,
        dek=huge,
        authors=(Author(huge, huge),),
        section=huge,
        tags=(huge,),
        image=Image("https://x.example/i.jpg", alt=huge, credit=huge, caption=huge + " x"),
    )
    clean = clean_entry(entry, source="s", authority=AUTH, site_url="https://x.example")
    assert clean.image is not None
    limits = {
        clean.title: content.MAX_TITLE,
        clean.dek: content.MAX_DEK,
        clean.authors[0].name: content.MAX_AUTHOR_NAME,
        clean.authors[0].bio: content.MAX_AUTHOR_BIO,
        clean.section: content.MAX_SECTION,
        clean.tags[0]: content.MAX_TAG,
        clean.image.alt: content.MAX_ALT,
        clean.image.credit: content.MAX_CREDIT,
        clean.image.caption: content.MAX_CAPTION,
    }
    for text, limit in limits.items():
        assert limit - 5 <= len(text) <= limit and text.endswith("word…"), (limit, text[-20:])


def test_implausible_dates_become_unknown_or_the_fetch_time() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    entry = Entry(key="k", url="", title="T", body_html="", published_at=now, origin="f item 1")
    assert plausible_dates(entry, now) == (entry, "")
    soon = now + timedelta(hours=23)
    assert plausible_dates(Entry(**{**_fields(entry), "published_at": soon}), now)[1] == ""
    for bad, words in [
        (now + timedelta(days=2), "more than a day in the future; clamped to the fetch time"),
        (datetime(1601, 1, 1, tzinfo=UTC), "before 1970; treated as unknown"),
        (datetime(1969, 12, 31, 23, 59, tzinfo=UTC), "before 1970"),
        (datetime.fromisoformat("0001-01-01T00:00:00+14:00"), "out of range"),
    ]:
        odd = Entry(**{**_fields(entry), "published_at": bad, "updated_at": bad})
        fixed, warning = plausible_dates(odd, now)
        assert (fixed.published_at, fixed.updated_at) == (None, None)
        assert warning.startswith("f item 1: published date") and words in warning
    # An implausible publication date with a good edit date takes the edit date.
    mixed = Entry(**{**_fields(entry), "published_at": soon + timedelta(days=9)})
    mixed = Entry(**{**_fields(mixed), "updated_at": now - timedelta(days=1)})
    assert plausible_dates(mixed, now)[0].published_at == now - timedelta(days=1)
