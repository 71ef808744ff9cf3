"""The "More from" block in Debian's chromium: the reference page's shape.

Four picks as the reference page shows them (image, title, one-line dek): one with a
wide image and one with a tall image, both served from 127.0.0.1; one with no image; one
whose image URL answers 404. Every thumbnail has the same 3:2 box; the missing and the
broken image leave a tinted box with their text visible, never a broken-image hole; each
dek is one line of at most 140 characters. Screenshots go to ``tests/artifacts/digest/``
(or ``$SYNDICATE_TEST_ARTIFACTS``) for review.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from syndicate.digest.render import render_edition
from syndicate.digest.templates import DigestTemplates
from syndicate.models import Image
from tests.digest.factory import article, channel, edition, settings
from tests.httpserver import LocalServer, serve
from tests.test_browser_digest import ARGS, ARTIFACTS, CHROMIUM, png

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)"
)

BOX = (252, 168)  # the default template's pick box: 3:2
TINT = "rgb(233, 227, 216)"  # its light-mode tint (#e9e3d8)
DARK_TINT = "rgb(52, 50, 46)"  # and its dark-mode one (#34322e)
LONG_LEAD = (
    "Dockworkers in three northern ports voted on Tuesday to extend a walkout that has "
    "left container ships waiting offshore for a week, as talks with the port authority "
    "stalled over night-shift pay."
)
TWO_SENTENCES = "Dr. Ana Ruiz says the U.S. trial was small. A larger one starts in May."
BROKEN_ALT = "A girl stands on a rusted tank at the edge of a wheat field"


@pytest.fixture(scope="module")
def images() -> Iterator[LocalServer]:
    with serve("127.0.0.1") as server:
        server.route("/img/wide.png", body=png(160, 90, (70, 96, 120)))
        server.route("/img/tall.png", body=png(60, 90, (120, 80, 64)))
        # /img/gone.jpg has no route: the server answers 404.
        yield server


@pytest.fixture(scope="module")
def page_html(images: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    picks = [
        article(
            20,
            title="Berlin hails a decade of European cinema",
            dek="The festival closes with a record crowd. Critics were less sure.",
            image=Image(
                url=images.url("/img/wide.png"), alt="A lit cinema marquee", width=1600, height=900
            ),
        ),
        article(
            21,
            title="Three ports extend their strike",
            dek="",
            body_html=f"<p>{LONG_LEAD}</p><p>More.</p>",
            image=None,
        ),
        article(
            22,
            title="Arms exports fall to a thirty-year low",
            dek=TWO_SENTENCES,
            image=Image(url=images.url("/img/gone.jpg"), alt=BROKEN_ALT, width=1200, height=800),
        ),
        article(
            23,
            title="A portrait painter returns to her home town",
            dek="",
            body_html=(
                "<figure><figcaption>Photo: Desk.</figcaption></figure>"
                "<p>She left at 19. She is back at 60.</p>"
            ),
            image=Image(url=images.url("/img/tall.png"), alt="", width=600, height=900),
        ),
    ]
    config = settings()
    done = render_edition(
        edition([article(1), article(2)], picks), config, channel(), DigestTemplates(config)
    )
    path = tmp_path_factory.mktemp("picks") / "edition.html"
    path.write_text(done.html, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def open_page(browser: Any, html: Path, width: int, *, dark: bool = False) -> Any:
    page = browser.new_page(
        viewport={"width": width, "height": 900}, color_scheme="dark" if dark else "light"
    )

    def answer(route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "http://127.0.0.1:")):
            route.continue_()
        else:
            route.abort()  # nothing may leave the machine

    page.route("**/*", answer)
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    return page


PICKS = """[...document.querySelectorAll('.more-from-item')].map(item => {
  const box = item.querySelector('.thumb');
  const b = box.getBoundingClientRect();
  const img = box.querySelector('img');
  const i = img ? img.getBoundingClientRect() : null;
  const style = getComputedStyle(box);
  const text = img ? null : box.querySelector('div');
  const dek = item.querySelector('p.meta');
  return {
    title: item.querySelector('h3').innerText,
    box: {x: b.x, y: b.y, w: b.width, h: b.height},
    background: style.backgroundColor, overflow: style.overflow,
    img: img && {x: i.x, y: i.y, w: i.width, h: i.height, loaded: img.naturalWidth > 0,
                 complete: img.complete, alt: img.alt, fit: getComputedStyle(img).objectFit,
                 natural: [img.naturalWidth, img.naturalHeight],
                 color: getComputedStyle(img).color,
                 fontSize: parseFloat(getComputedStyle(img).fontSize)},
    text: text && {content: text.innerText, color: getComputedStyle(text).color,
                   hidden: text.getAttribute('aria-hidden'),
                   fontSize: parseFloat(getComputedStyle(text).fontSize)},
    dek: dek ? dek.innerText : '',
  };
})"""

# The share of a PNG's pixels far darker than the tint (drawn text), counted in the page.
INK = """async (data) => {
  const picture = new Image();
  picture.src = 'data:image/png;base64,' + data;
  await picture.decode();
  const canvas = document.createElement('canvas');
  canvas.width = picture.width; canvas.height = picture.height;
  const context = canvas.getContext('2d');
  context.drawImage(picture, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0, tint = 0;
  for (let n = 0; n < pixels.length; n += 4) {
    const [r, g, b] = [pixels[n], pixels[n + 1], pixels[n + 2]];
    if (r + g + b < 3 * 150) ink++;
    if (Math.abs(r - 233) + Math.abs(g - 227) + Math.abs(b - 216) < 12) tint++;
  }
  const all = pixels.length / 4;
  return {ink: ink / all, tint: tint / all};
}"""


def by_title(picks: list[dict[str, Any]], start: str) -> dict[str, Any]:
    return next(p for p in picks if p["title"].startswith(start))


def shade(page: Any, pick_index: int) -> dict[str, float]:
    box = page.locator(".more-from-item .thumb").nth(pick_index)
    picture = box.screenshot()
    result: dict[str, float] = page.evaluate(INK, base64.b64encode(picture).decode())
    return result


def shot(page: Any, name: str) -> None:
    """The whole page, and the "More from" block alone (heading to last pick)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    block = page.evaluate(
        """(() => {
          const parts = [...document.querySelectorAll('.more-from, .more-from-item')]
            .map(e => e.getBoundingClientRect());
          const top = Math.min(...parts.map(r => r.top)) + window.scrollY;
          const bottom = Math.max(...parts.map(r => r.bottom)) + window.scrollY;
          return {x: 0, y: top, width: document.documentElement.clientWidth,
                  height: bottom - top};
        })()"""
    )
    block_name = name.replace(".png", "-block.png")
    page.screenshot(path=str(ARTIFACTS / block_name), full_page=True, clip=block)


@pytest.mark.parametrize("width", [600, 375])
def test_every_thumbnail_has_one_box_and_no_hole(browser: Any, page_html: Path, width: int) -> None:
    page = open_page(browser, page_html, width)
    try:
        shot(page, f"picks-{width}.png")
        picks = page.evaluate(PICKS)
        assert len(picks) == 4
        for pick in picks:  # one box, 3:2, that clips, tinted behind whatever it holds
            assert (round(pick["box"]["w"]), round(pick["box"]["h"])) == BOX, pick
            assert pick["overflow"] == "hidden" and pick["background"] == TINT, pick

        for start in ("Berlin", "A portrait"):  # the images that load cover the box
            good = by_title(picks, start)
            img = good["img"]
            assert img["loaded"] and img["fit"] == "cover", good
            assert (round(img["w"]), round(img["h"])) == BOX, good
            assert (img["x"], img["y"]) == (good["box"]["x"], good["box"]["y"]), good
        assert (
            by_title(picks, "A portrait")["img"]["alt"]
            == "A portrait painter returns to her home town"
        )

        missing = by_title(picks, "Three ports")
        assert missing["img"] is None
        assert missing["text"]["content"] == "Three ports extend their strike"
        assert missing["text"]["hidden"] == "true"  # the heading below says it already
        assert missing["text"]["fontSize"] >= 14

        broken = by_title(picks, "Arms exports")
        img = broken["img"]
        assert img["complete"] and not img["loaded"] and img["alt"] == BROKEN_ALT
        # The failed image keeps the box's size, so chromium draws its alt text in it...
        assert (round(img["w"]), round(img["h"])) == BOX, broken
        assert (img["x"], img["y"]) == (broken["box"]["x"], broken["box"]["y"]), broken
        assert img["color"] == "rgb(79, 79, 79)" and img["fontSize"] >= 14, broken

        # ... and on screen the two boxes are the tint with text on it.
        for index, pick in enumerate(picks):
            if pick["title"].startswith(("Three ports", "Arms exports")):
                seen = shade(page, index)
                assert seen["tint"] > 0.6, (pick["title"], seen)  # mostly the tint
                assert 0.005 < seen["ink"] < 0.3, (pick["title"], seen)  # with words on it
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"horizontal overflow of {overflow}px at {width}px"
    finally:
        page.close()


def test_each_dek_is_one_line_of_at_most_140_characters(browser: Any, page_html: Path) -> None:
    page = open_page(browser, page_html, 600)
    try:
        picks = page.evaluate(PICKS)
        for pick in picks:
            assert pick["dek"] and "\n" not in pick["dek"] and len(pick["dek"]) <= 140, pick
        assert by_title(picks, "Berlin")["dek"] == "The festival closes with a record crowd."
        assert (
            by_title(picks, "Arms exports")["dek"] == "Dr. Ana Ruiz says the U.S. trial was small."
        )
        assert (
            by_title(picks, "A portrait")["dek"] == "She left at 19."
        )  # the body's, not the caption
        cut = by_title(picks, "Three ports")["dek"]  # the body's first sentence, too long
        assert cut.endswith("…") and len(cut) <= 140
        assert LONG_LEAD.startswith(cut[:-1]) and LONG_LEAD[len(cut) - 1] == " "
    finally:
        page.close()


def test_without_object_fit_the_box_still_crops_without_distortion(
    browser: Any, page_html: Path
) -> None:
    """Clients without object-fit (the @supports rule does not apply) get the image scaled
    from its stored size to cover the box, centred; the box clips it."""
    page = open_page(browser, page_html, 600)
    try:
        page.evaluate(
            "[...document.querySelectorAll('style')]"
            ".filter(s => s.textContent.includes('@supports')).forEach(s => s.remove())"
        )
        picks = page.evaluate(PICKS)
        for start, natural in (("Berlin", 16 / 9), ("A portrait", 2 / 3)):
            good = by_title(picks, start)
            box, img = good["box"], good["img"]
            assert (round(box["w"]), round(box["h"])) == BOX  # the box did not grow
            assert img["w"] >= box["w"] and img["h"] >= box["h"], good  # it covers the box
            assert abs(img["w"] / img["h"] - natural) < 0.02, good  # undistorted
            centre = (img["x"] + img["w"] / 2, img["y"] + img["h"] / 2)
            assert abs(centre[0] - (box["x"] + box["w"] / 2)) <= 1, good  # centred
            assert abs(centre[1] - (box["y"] + box["h"] / 2)) <= 1, good
        shot(page, "picks-600-no-object-fit.png")
    finally:
        page.close()


def test_dark_mode_tints_the_box_dark_with_light_text(browser: Any, page_html: Path) -> None:
    page = open_page(browser, page_html, 600, dark=True)
    try:
        shot(page, "picks-600-dark.png")
        picks = page.evaluate(PICKS)
        assert {p["background"] for p in picks} == {DARK_TINT}
        assert by_title(picks, "Arms exports")["img"]["color"] == "rgb(230, 227, 220)"
        assert by_title(picks, "Three ports")["text"]["color"] == "rgb(230, 227, 220)"
    finally:
        page.close()
