"""Thumbnail geometry for the "More from" box (syndicate.digest.thumbs)."""

from __future__ import annotations

import pytest

from syndicate.digest.thumbs import Thumbnail, thumbnail
from syndicate.models import Image


def image(width: int | None, height: int | None) -> Image:
    return Image(url="https://news.example/i.jpg", width=width, height=height)


def test_an_image_of_the_box_ratio_fills_it_exactly() -> None:
    assert thumbnail(image(1200, 800), 252, 168) == Thumbnail(252, 168, 252, 168, 0, 0, 252, 168)


def test_a_wide_image_covers_the_height_and_is_cropped_at_both_sides() -> None:
    t = thumbnail(image(1600, 900), 252, 168)
    assert (t.width, t.height) == (299, 168)  # 168 × 16/9, rounded
    assert (t.left, t.top) == (23, 0)  # (299 - 252) // 2: the centre shows
    assert (t.fit_width, t.fit_height) == (252, 142)  # inside the box, for width/height
    assert t.known


def test_a_tall_image_covers_the_width_and_is_cropped_top_and_bottom() -> None:
    t = thumbnail(image(600, 900), 252, 168)
    assert (t.width, t.height, t.left, t.top) == (252, 378, 0, 105)
    assert (t.fit_width, t.fit_height) == (112, 168)


@pytest.mark.parametrize(("w", "h"), [(1, 1), (4000, 10), (10, 4000), (251, 167), (7, 3)])
def test_the_cover_is_never_smaller_than_the_box_and_keeps_the_ratio(w: int, h: int) -> None:
    t = thumbnail(image(w, h), 252, 168)
    assert t.width >= 252 and t.height >= 168
    assert abs(t.width / t.height - w / h) <= max(1 / t.height, 1 / t.width) * (w / h) + 1e-9
    assert t.width - t.left * 2 - 252 in (0, 1) and t.height - t.top * 2 - 168 in (0, 1)
    assert 1 <= t.fit_width <= 252 and 1 <= t.fit_height <= 168
    assert t.fit_width == 252 or t.fit_height == 168


@pytest.mark.parametrize("picture", [None, image(None, None), image(800, None), image(0, 600)])
def test_an_unknown_size_takes_the_box_width_and_no_height(picture: Image | None) -> None:
    t = thumbnail(picture, 252, 168)
    assert not t.known
    assert (t.width, t.height, t.left, t.top) == (252, 0, 0, 0)
    assert (t.fit_width, t.fit_height) == (252, 168)


def test_an_empty_box_is_an_error() -> None:
    with pytest.raises(ValueError, match="positive size"):
        thumbnail(image(10, 10), 0, 168)
