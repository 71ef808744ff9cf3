"""The example preview in Debian's chromium, driven by Playwright, at 600 and 375 px.

Image requests never leave the machine: they are answered with a small local PNG (or
aborted, to check that alt text has room to show). Screenshots are kept under
``tests/artifacts/digest/`` (or ``$SYNDICATE_TEST_ARTIFACTS``) for review.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from syndicate.config import load_channels, load_settings
from syndicate.delivery.preview import write_preview
from syndicate.digest import build_edition
from syndicate.ingest.run import ingest
from syndicate.store import open_store
from tests.conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("SYNDICATE_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
ARTIFACTS = ARTIFACTS / "digest"

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed (apt-get install chromium)"
)


def png(width: int = 32, height: int = 18, rgb: tuple[int, int, int] = (96, 120, 140)) -> bytes:
    """A solid-colour PNG, made here so the test needs no image files or network."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def preview_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    instance = root / "instance"
    instance.mkdir()
    shutil.copy(REPO / "syndicate.toml", instance / "syndicate.toml")
    shutil.copytree(REPO / "feeds", instance / "feeds")
    shutil.copytree(REPO / "content", instance / "content")
    settings = load_settings(instance / "syndicate.toml")
    store = open_store(settings.store_url, create=settings.store.create)
    try:
        ingest(store, settings)
        channel = next(c for c in load_channels(settings) if c.name == "all")
        slot = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
        built = build_edition(store, settings, channel, slot, save=False)
    finally:
        store.close()
    assert built is not None and len(built.edition.articles) == 10
    return write_preview(settings, built.rendered, root / "out", date=slot).html


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def open_page(browser: Any, html: Path, width: int, *, images: bool) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    picture = png()

    def answer(route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        elif images and route.request.resource_type == "image":
            route.fulfill(status=200, body=picture, content_type="image/png")
        else:
            route.abort()  # nothing else may leave the machine

    page.route("**/*", answer)
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    return page


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.mark.parametrize("width", [600, 375])
def test_layout_images_and_more_from_block(browser: Any, preview_html: Path, width: int) -> None:
    page = open_page(browser, preview_html, width, images=True)
    try:
        shot(page, f"preview-{width}.png")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"horizontal overflow of {overflow}px at {width}px"
        images = page.evaluate(
            """[...document.images].map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0,
                 w: i.getBoundingClientRect().width, alt: i.alt}))"""
        )
        assert len(images) == 1 + 9 + 4
        for image in images:
            assert image["ok"] and image["w"] > 0 and image["alt"], image
        items = page.evaluate(
            """[...document.querySelectorAll('.more-from-item')].map(e => {
                 const r = e.getBoundingClientRect();
                 return {w: r.width, h: r.height, title: e.querySelector('h3').innerText,
                         img: !!e.querySelector('img')};
               })"""
        )
        assert len(items) == 4
        for item in items:
            assert item["w"] > 0 and item["h"] > 0 and item["title"].strip() and item["img"]
        heading = page.get_by_role("heading", name="More from The Meridian Review")
        assert heading.is_visible()
    finally:
        page.close()


def test_alt_text_has_room_when_images_are_blocked(browser: Any, preview_html: Path) -> None:
    page = open_page(browser, preview_html, 375, images=False)
    try:
        shot(page, "preview-375-images-blocked.png")
        images = page.evaluate(
            """[...document.images].map(i => ({ok: i.naturalWidth > 0, alt: i.alt,
                 w: i.getBoundingClientRect().width, h: i.getBoundingClientRect().height}))"""
        )
        assert images and not any(i["ok"] for i in images)
        for image in images:
            # A broken image keeps its width/height box, where chromium draws the alt text.
            assert image["alt"].strip() and image["w"] >= 100 and image["h"] >= 40, image
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
    finally:
        page.close()
