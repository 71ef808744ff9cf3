"""The "More from" block compiled once and spliced per reader (digest/picks.py): the
markers, their errors, a reader's copy in the HTML and text parts and the encoded
message, and templates written before the markers existed."""

from __future__ import annotations

import logging
import quopri
import re
from datetime import timedelta
from pathlib import Path

import pytest

from syndicate.delivery.message import EncodedBody
from syndicate.digest.build import build_edition
from syndicate.digest.errors import RenderLimitError, TemplateError
from syndicate.digest.personalise import Personaliser
from syndicate.digest.picks import Layout, ranks, to_mask
from syndicate.digest.render import render_edition
from syndicate.digest.templates import DEFAULT_DIR, DigestTemplates
from syndicate.errors import MessageError
from syndicate.store import Store
from tests.digest.factory import T0, article, channel, edition, settings, store_articles

VALUES = {"name": "Ann", "email": "ann@example.org", "unsubscribe_url": "u", "preferences_url": "p"}
STORIES = [article(n) for n in range(3)]
CANDIDATES = [article(n) for n in range(10, 22)]  # 12: related_k 4 and 8 spares


def titles(part: str) -> list[int]:
    block = part.split("More from", 1)[1] if "More from" in part else ""
    if not block:
        block = part.split("MORE FROM", 1)[1] if "MORE FROM" in part else ""
    return [int(n) for n in re.findall(r"Story number (\d+)", block)]


@pytest.fixture(scope="module")
def personaliser() -> Personaliser:
    config = settings()
    made = edition(STORIES, CANDIDATES)
    rendered = render_edition(made, config, channel(), DigestTemplates(config))
    assert rendered.related_ids == tuple(a.id for a in CANDIDATES)
    return Personaliser(rendered.html, rendered.text)


def test_every_candidate_is_compiled_once_and_a_reader_sees_related_k(
    personaliser: Personaliser,
) -> None:
    assert personaliser.layout.shown == 4
    assert personaliser.layout.order == list(range(12))
    copy = personaliser.fill(VALUES)  # the default: what the archive and previews show
    assert titles(copy.html) == titles(copy.text) == [10, 11, 12, 13]
    chosen = personaliser.fill(VALUES, to_mask([1, 5, 6, 11]))
    assert titles(chosen.html) == titles(chosen.text) == [11, 15, 16, 21]
    assert "%%syn:" not in chosen.html + chosen.text


def test_a_choice_over_related_k_is_cut_to_it(personaliser: Personaliser) -> None:
    copy = personaliser.fill(VALUES, to_mask(range(12)))
    assert titles(copy.html) == titles(copy.text) == [10, 11, 12, 13]


def test_an_odd_count_keeps_the_rows_of_two_and_none_drops_the_block(
    personaliser: Personaliser,
) -> None:
    three = personaliser.fill(VALUES, to_mask([2, 3, 7]))
    assert titles(three.html) == titles(three.text) == [12, 13, 17]
    rows = [r.count('more-from-item"') for r in three.html.split("<!--[if mso | IE]><table")]
    assert [n for n in rows if n] == [2, 1]
    none = personaliser.fill(VALUES, 0)
    assert "More from" not in none.html and "MORE FROM" not in none.text
    assert "Story number 10" not in none.html + none.text
    # The rest of the copy is intact: the footer and its links.
    assert 'href="u"' in none.html and "Unsubscribe:\nu\n" in none.text


def test_the_choice_is_the_first_related_k_not_received(personaliser: Personaliser) -> None:
    ids = [a.id for a in CANDIDATES]
    layout = personaliser.layout
    assert ranks(layout.choose(ids, set())) == [0, 1, 2, 3]
    assert ranks(layout.choose(ids, {ids[0], ids[2]})) == [1, 3, 4, 5]
    assert ranks(layout.choose(ids, set(ids[1:]))) == [0]
    assert layout.choose(ids, set(ids)) == 0


def test_encoded_message_bodies_splice_the_same_way(personaliser: Personaliser) -> None:
    config = settings()
    rendered = render_edition(
        edition(STORIES, CANDIDATES), config, channel(), DigestTemplates(config)
    )
    mask = to_mask([0, 4, 9])
    want = personaliser.fill(VALUES, mask)
    html, html_qp, _ = EncodedBody(rendered.html, html=True).fill(VALUES, mask)
    text, text_qp, _ = EncodedBody(rendered.text, html=False).fill(VALUES, mask)
    assert (html, text) == (want.html, want.text)
    assert quopri.decodestring(b"".join(html_qp)).decode() == want.html.replace("\n", "\r\n")
    assert all(len(line) <= 76 for line in b"".join(text_qp).split(b"\r\n"))


def test_article_text_spelling_a_block_marker_is_text() -> None:
    config = settings()
    hostile = article(30, title="Read %%syn:pick_0%% and %%syn:more_from_end%% now")
    rendered = render_edition(
        edition(STORIES, [hostile, *CANDIDATES[:5]]), config, channel(), DigestTemplates(config)
    )
    copy = Personaliser(rendered.html, rendered.text).fill(VALUES, to_mask([0, 1]))
    for part in (copy.html, copy.text):
        assert "Read %%syn:pick_0%% and %%syn:more_from_end%% now" in part
        assert "Story number 10" in part and "Story number 11" not in part


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("a%%syn:more_from_4%%b%%syn:pick_0%%c", "not closed"),
        ("a%%syn:pick_0%%b", "outside"),
        ("%%syn:more_from_4%%%%syn:pick_0%%%%syn:pick_0%%%%syn:more_from_end%%", "twice"),
        (
            "%%syn:more_from_4%%%%syn:more_from_end%%%%syn:more_from_4%%%%syn:more_from_end%%",
            "second",
        ),
        ("%%syn:more_from_4%%%%syn:row%%%%syn:pick_0%%%%syn:more_from_end%%", "inside a row"),
    ],
)
def test_markers_out_of_order_are_template_errors(source: str, why: str) -> None:
    with pytest.raises(TemplateError, match=why):
        Layout(source, "t.mjml.j2")
    with pytest.raises(MessageError):
        EncodedBody(source, html=True)


def test_parts_marking_other_picks_are_refused() -> None:
    html = "%%syn:more_from_2%%h%%syn:pick_0%%a%%syn:pick_1%%b%%syn:more_from_end%%"
    text = "%%syn:more_from_2%%h%%syn:pick_0%%a%%syn:more_from_end%%"
    with pytest.raises(TemplateError, match="mark the same items"):
        Personaliser(html, text)


def _legacy(folder: Path) -> Path:
    """Copies of the default templates without the block's markers (written before
    per-reader memory)."""
    folder.mkdir()
    for name in ("digest.mjml.j2", "digest.txt.j2"):
        source = (DEFAULT_DIR / name).read_text(encoding="utf-8")
        source = re.sub(r"<mj-raw>\{\{ picks\.[a-z_]+(\(item\))? \}\}</mj-raw>\n", "", source)
        source = re.sub(r"\{\{ picks\.[a-z_]+(\(item\))? \}\}", "", source)
        assert "picks" not in source.replace("picks.*", "")
        (folder / name).write_text(source, encoding="utf-8")
    return folder


def test_a_template_without_markers_gets_the_first_related_k_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = settings(templates_dir=_legacy(tmp_path / "templates"))
    with caplog.at_level(logging.WARNING, logger="syndicate.digest.render"):
        rendered = render_edition(
            edition(STORIES, CANDIDATES), config, channel(), DigestTemplates(config)
        )
    assert rendered.related_ids == tuple(a.id for a in CANDIDATES[:4])
    copy = Personaliser(rendered.html, rendered.text).fill(VALUES, 0)
    assert titles(copy.html) == titles(copy.text) == [10, 11, 12, 13]
    assert "marks no" in caplog.text


def test_the_size_limit_holds_for_the_largest_copy_a_reader_can_get() -> None:
    config = settings()
    # Long titles: a pick shows its whole title (its dek is cut to one line).
    wordy = [article(n, title="A long headline " * 18) for n in range(40, 44)]
    made = edition(STORIES, [*CANDIDATES[:4], *wordy])
    small = render_edition(made, config, channel(), DigestTemplates(config))
    default_size = len(Personaliser(small.html, small.text).fill(VALUES).html.encode())
    # Over the default copy, under the copy with the four wordy spares.
    limit = default_size + 500
    with pytest.raises(RenderLimitError):
        render_edition(made, config, channel(max_html_bytes=limit), DigestTemplates(config))


def test_an_edition_stores_the_candidates_its_parts_hold(store: Store, tmp_path: Path) -> None:
    store_articles(store, 30)
    slot = T0 + timedelta(hours=31)
    daily = channel(first_lookback_hours=2)
    built = build_edition(store, settings(), daily, slot)
    assert built is not None and built.record is not None
    assert len(built.record.related_ids) == 12  # related_k 4 and 8 spares
    legacy = settings(templates_dir=_legacy(tmp_path / "templates"))
    store_articles(store, 2, start=40)
    old = build_edition(store, legacy, daily, slot + timedelta(hours=12))
    assert old is not None and old.record is not None
    assert len(old.record.related_ids) == 4  # all the parts hold, all every reader gets
    assert old.rendered.related_ids == old.record.related_ids
