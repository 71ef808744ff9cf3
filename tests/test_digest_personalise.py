"""Per-recipient values filled into the compiled parts: escaped in HTML, raw in text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.digest.errors import TemplateError
from syndicate.digest.links import PlaceholderLinks, Recipient, edition_url, with_utm
from syndicate.digest.personalise import MARKER, PLACEHOLDERS, Markers, Personaliser, placeholder
from syndicate.digest.render import StoryView
from syndicate.models import Author

HTML = (
    '<p>Hello {name}</p><a href="{unsubscribe_url}">Unsubscribe</a>'
    '<a href="{preferences_url}">Prefs</a><p>{email}</p>'
).format(**{k: placeholder(k) for k in ("name", "email", "unsubscribe_url", "preferences_url")})
TEXT = f"Hello {placeholder('name')}\n{placeholder('unsubscribe_url')}\n"
LINKS = PlaceholderLinks("https://news.example")


def test_values_are_escaped_in_html_and_raw_in_text() -> None:
    who = Recipient('o"brien@example.org', name='<script>alert("x")</script> & Co', token="a/b")
    copy = Personaliser(HTML, TEXT).for_recipient(who, LINKS)
    assert "<script>" not in copy.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in copy.html
    assert "o&quot;brien@example.org" in copy.html
    assert 'href="https://news.example/u/a%2Fb"' in copy.html
    assert copy.text == 'Hello <script>alert("x")</script> & Co\nhttps://news.example/u/a%2Fb\n'
    assert "%%syn:" not in copy.html + copy.text


def test_matches_a_naive_replace_and_needs_no_recompile() -> None:
    personaliser = Personaliser(HTML, TEXT)
    for n in range(3):
        who = Recipient(f"r{n}@example.org", f"Reader {n}", f"t{n}")
        copy = personaliser.for_recipient(who, LINKS)
        naive = (
            HTML.replace(placeholder("name"), who.name)
            .replace(placeholder("email"), who.email)
            .replace(placeholder("unsubscribe_url"), LINKS.unsubscribe(who))
            .replace(placeholder("preferences_url"), LINKS.preferences(who))
        )
        assert copy.html == naive


def test_unknown_placeholders_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="unknown recipient placeholder"):
        Personaliser("<p>%%syn:shoe_size%%</p>", "")
    with pytest.raises(KeyError):
        placeholder("shoe_size")


def test_links_and_utm() -> None:
    assert (
        with_utm("https://x.example/a?b=1&utm_source=old", {"utm_source": "nl"})
        == "https://x.example/a?b=1&utm_source=nl"
    )
    assert with_utm("https://x.example/a", {}) == "https://x.example/a"
    from datetime import UTC, datetime

    slot = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    assert edition_url("https://x.example", "all", slot) == (
        "https://x.example/archive/all/2026-11-25-0700/"
    )


def test_bylines() -> None:
    def view(*names: str) -> StoryView:
        authors = tuple(Author(n, bio=f"{n} bio" if n else "") for n in names)
        return StoryView("i", "u", "t", "d", "s", "date", authors, None)

    assert view().byline == ""
    assert view("", "Ana").byline == "Ana"
    assert view("Ana", "Kofi").byline == "Ana and Kofi"
    assert view("Ana", "Kofi", "Lu").byline == "Ana, Kofi and Lu"
    assert view("", "Ana").bios == ["Ana bio"]
    assert view("Ana").image_height(160) == 90


_VALUES = {
    "name": "Ann",
    "email": "ann@example.org",
    "unsubscribe_url": "https://news.example/u/tok",
    "preferences_url": "https://news.example/p/tok",
}
_text_bits = st.sampled_from(["%", "%%", "syn:", "name", "%%syn:", "%%syn:name%%", "percent", "a"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_text_bits, st.sampled_from(PLACEHOLDERS)), max_size=14), st.data())
def test_sealed_text_fills_back_to_what_it_said(bits: list[str], data: st.DataObject) -> None:
    """Untrusted text next to real placeholders, in any order: after sealing and filling,
    the text reads as written and only the real placeholders took values."""
    markers = Markers()
    plain = [data.draw(st.booleans()) for _ in bits]
    rendered = "".join(
        b if p or b not in PLACEHOLDERS else markers.token(b)
        for b, p in zip(bits, plain, strict=True)
    )
    expected = "".join(
        b if p or b not in PLACEHOLDERS else _VALUES[b] for b, p in zip(bits, plain, strict=True)
    )
    sealed = markers.seal(rendered)
    copy = Personaliser(sealed, sealed).fill(_VALUES)
    assert copy.text == expected


def test_text_spelling_a_placeholder_is_not_one() -> None:
    markers = Markers()
    title = "Win %%syn:unsubscribe_url%% now %%syn:bogus%% %%syn:%% 100%"
    sealed = markers.seal(f'<h2>{title}</h2><a href="{markers.token("unsubscribe_url")}">')
    assert set(MARKER.findall(sealed)) == {"percent", "unsubscribe_url"}  # nothing to refuse
    copy = Personaliser(sealed, "").fill(_VALUES)
    assert copy.html == f'<h2>{title}</h2><a href="https://news.example/u/tok">'
    assert markers.token("name") != Markers().token("name")  # a nonce per render
