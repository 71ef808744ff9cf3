"""Golden files (STYLE 8, TE-1): the exact bytes of a small fixed channel in each format.

A change in these bytes reaches every subscriber's reader, so it must be deliberate:
regenerate with ``SYNDICATE_REGEN_GOLDEN=1 pytest tests/test_feeds_golden.py`` and
review the diff of ``tests/feeds/golden/``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from syndicate.feeds.documents import render
from syndicate.feeds.render import FORMATS, DocumentLinks, FeedDocument
from tests.feeds.fixtures import BASE, document, golden_articles

GOLDEN = Path(__file__).resolve().parent / "feeds" / "golden"
REGENERATE = os.environ.get("SYNDICATE_REGEN_GOLDEN") == "1"


def _links(page: int | None) -> dict[str, DocumentLinks]:
    out = {}
    for fmt, spec in FORMATS.items():
        ext = spec.extension
        current = f"{BASE}/feeds/golden.{ext}"
        if page is None:
            out[fmt] = DocumentLinks(current, prev_archive=f"{BASE}/feeds/golden/archive/4.{ext}")
        else:
            out[fmt] = DocumentLinks(
                f"{BASE}/feeds/golden/archive/{page}.{ext}",
                current=current,
                prev_archive=f"{BASE}/feeds/golden/archive/{page - 1}.{ext}",
                next_archive=f"{BASE}/feeds/golden/archive/{page + 1}.{ext}",
            )
    return out


def _cases() -> dict[str, FeedDocument]:
    full = document(
        golden_articles(),
        hubs=("https://hub.example/websub",),
        logo=f"{BASE}/logo.png",
        icon=f"{BASE}/icon.png",
        links=_links(None),
    )
    return {
        "golden": full,
        "golden-summary": dataclasses.replace(full, summary_only=True),
        "golden-archive-2": dataclasses.replace(full, hubs=(), archive=True, links=_links(2)),
    }


@pytest.mark.parametrize("name", sorted(_cases()))
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_bytes_match_the_golden_file(name: str, fmt: str) -> None:
    data = render(_cases()[name], [fmt])[fmt]
    path = GOLDEN / f"{name}.{FORMATS[fmt].extension}"
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert path.exists(), f"{path} is missing: run with SYNDICATE_REGEN_GOLDEN=1 to create it"
    assert data == path.read_bytes(), (
        f"{path.name} changed; if intended, regenerate with SYNDICATE_REGEN_GOLDEN=1 and "
        "review the diff"
    )
