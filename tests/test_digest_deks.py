"""The one-line dek of a "More from" pick (syndicate.digest.deks)."""

from __future__ import annotations

import pytest

from syndicate.digest.deks import (
    DEK_LINE_MAX,
    cut_at_word,
    first_paragraph,
    first_sentence,
    one_line_dek,
)


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        # The reference page's teaser: the first of several sentences.
        (
            "Russian Deputy Prime Minister Igor Sechin’s Latin American trip took an odd "
            "turn in Cuba earlier this week. After searching for ways that Moscow could help…",
            "Russian Deputy Prime Minister Igor Sechin’s Latin American trip took an odd "
            "turn in Cuba earlier this week.",
        ),
        # A dotted acronym before a name is not an end ("U.S. China policy").
        (
            "Newly declassified documents hold lessons for U.S. China policy. Read on.",
            "Newly declassified documents hold lessons for U.S. China policy.",
        ),
        ("The U.N. Security Council met. It adjourned.", "The U.N. Security Council met."),
        # Titles before names, initials; "p.m." before a capital does end one.
        (
            "Dr. Ana Ruiz met Gen. Okafor at 5 p.m. They spoke for an hour.",
            "Dr. Ana Ruiz met Gen. Okafor at 5 p.m.",
        ),
        (
            "George W. Bush met J. R. Smith in Texas. Both smiled.",
            "George W. Bush met J. R. Smith in Texas.",
        ),
        (
            "Mr. and Mrs. Shah moved to St. Ives. They like it.",
            "Mr. and Mrs. Shah moved to St. Ives.",
        ),
        # Short forms before a number; the same word before a capital is an end.
        (
            "The No. 10 press office said no. Then it changed course.",
            "The No. 10 press office said no.",
        ),
        ("See e.g. France and i.e. Paris. Then Lyon.", "See e.g. France and i.e. Paris."),
        # Decimals and lower-case continuations are not ends.
        (
            "Prices rose 3.5 percent in Jan. and fell in Feb. Markets shrugged.",
            "Prices rose 3.5 percent in Jan. and fell in Feb. Markets shrugged.",
        ),
        ("A launch pad… in the Caribbean? Maybe.", "A launch pad… in the Caribbean?"),
        ("Wait... what happened next? Nobody knows.", "Wait... what happened next?"),
        ("It ended... Then it began.", "It ended..."),
        # Quotes: the closing quote belongs to the sentence; a quote inside goes on.
        ('"Why now?" she asked. Nobody knew.', '"Why now?" she asked.'),
        ("He said “Go home.” Then he left.", "He said “Go home.”"),
        (
            'Officials said "maybe" twice; nobody said when. Next.',
            'Officials said "maybe" twice; nobody said when.',
        ),
        ("The result (a draw.) Was it fair?", "The result (a draw.)"),
        ("She said: ‘Not today.’ ‘Tomorrow,’ he replied.", "She said: ‘Not today.’"),
        # Digits and caseless scripts may open the next sentence.
        ("Turnout was low. 40 percent voted.", "Turnout was low."),
        ("東京で会議が開かれた。翌日も続いた。", "東京で会議が開かれた。"),
        ("Talks resumed. «Enough», said one.", "Talks resumed."),
        # No sentence end at all: the whole text, whitespace folded.
        (
            "Keri Russell gets Drexel furniture\n but no Senate hearing",
            "Keri Russell gets Drexel furniture but no Senate hearing",
        ),
        ("", ""),
    ],
)
def test_first_sentence(text: str, sentence: str) -> None:
    assert first_sentence(text) == sentence


def test_the_cut_is_at_a_word_with_an_ellipsis() -> None:
    text = "Dockworkers in three northern ports voted on Tuesday to extend a walkout " * 3
    cut = cut_at_word(text.strip(), 140)
    assert len(cut) <= 140 and cut.endswith("…")
    assert text.startswith(cut[:-1]) and text[len(cut) - 1] == " "  # a whole word


def test_the_cut_drops_dangling_punctuation_and_opening_quotes() -> None:
    assert cut_at_word("One two three, “four five", 18) == "One two three…"
    assert cut_at_word("Short enough.", 140) == "Short enough."
    assert cut_at_word("x" * 10, 10) == "x" * 10


def test_one_long_word_is_cut_inside() -> None:
    word = "Donaudampfschifffahrtsgesellschaftskapitän" * 4
    cut = cut_at_word(f"A {word}", 40)
    assert len(cut) == 40 and cut.startswith("A Donau") and cut.endswith("…")


def test_a_limit_too_small_for_the_ellipsis_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        cut_at_word("anything", 1)


def test_one_line_dek_takes_the_dek_first() -> None:
    dek = "As a strategic consensus emerges in Europe, France is in the way. More follows."
    body = "<p>The body opens here. And goes on.</p>"
    assert (
        one_line_dek(dek, body)
        == "As a strategic consensus emerges in Europe, France is in the way."
    )


def test_one_line_dek_falls_back_to_the_body_first_paragraph() -> None:
    body = (
        "<figure><img src='x.jpg' alt=''><figcaption>Photo: A. Lens. Rights.</figcaption>"
        "</figure><h2>A subhead</h2><p>  </p><p>The <em>body</em> opens\nhere. And goes on.</p>"
        "<p>Second paragraph.</p>"
    )
    assert one_line_dek("", body) == "The body opens here."
    assert one_line_dek("   ", body) == "The body opens here."
    assert first_paragraph("<p>Line one<br>line two.</p><p>Next.</p>") == "Line one line two."
    assert first_paragraph("Bare text, no tags &amp; an entity") == "Bare text, no tags & an entity"


def test_one_line_dek_is_one_line_of_at_most_the_limit() -> None:
    long = "A sentence that goes on and on about the harbour, the cranes, the ships " * 4
    for dek in (long, long + ". Then another.", "Line\none.\nLine two."):
        line = one_line_dek(dek)
        assert "\n" not in line and len(line) <= DEK_LINE_MAX
    assert one_line_dek("Line\none. Line two.") == "Line one."
    assert one_line_dek(long, limit=60).endswith("…") and len(one_line_dek(long, limit=60)) <= 60


def test_nothing_gives_nothing() -> None:
    assert one_line_dek("", "") == ""
    assert one_line_dek("", "<figure><figcaption>Only a caption.</figcaption></figure>") == ""
