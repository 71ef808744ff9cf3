"""What a feed build leaves for the next one (:mod:`.incremental`): the state file,
each channel's page starts, the marks of the folders it wrote.

An article's place in a channel is kept as its publication time in fixed-width UTC
text and its id, so places compare as strings (newest first is time descending, then
id ascending) and thousands of them are read back without parsing a date.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syndicate.config import ChannelConfig, Settings
from syndicate.feeds.archives import ArticleKey, renderer_version
from syndicate.feeds.documents import STATE_DIR
from syndicate.models import Article
from syndicate.store.fragments import SortKey

__all__ = [
    "PLACES_DIR",
    "STATE",
    "VERSION",
    "ChannelState",
    "Place",
    "block_of",
    "channel_state",
    "load_places",
    "mark",
    "older",
    "place",
    "save_places",
    "sort_key",
    "unchanged",
    "write_if_changed",
]

STATE = f"{STATE_DIR}/incremental.json"
VERSION = 3  # of the state's layout; another one is not read (a full build)
PLACES_DIR = f"{STATE_DIR}/incremental"  # <channel>.json: its page starts
# A folder modified less than this long before the build ends is stamped back by this
# much (:func:`mark`): well beyond the tick of any file system's clock.
SETTLE_NS = 1_000_000_000

Place = tuple[str, str]  # an article's place: its time as fixed-width UTC text, its id
_TIME = "%Y-%m-%dT%H:%M:%S.%f"


def sort_key(place: Place | None) -> SortKey | None:
    """The store's key of ``place`` (for a range query)."""
    if place is None:
        return None
    return (datetime.strptime(place[0], _TIME).replace(tzinfo=UTC), place[1])


def older(a: Place, b: Place) -> bool:
    """True when ``a`` sorts before ``b`` counted from the oldest (newest first is
    published_at descending, then id ascending)."""
    return a[0] < b[0] or (a[0] == b[0] and a[1] > b[1])


def block_of(bounds: Sequence[Place], key: Place) -> int:
    """Which block of ``items`` (0 = the oldest) ``key`` falls in, given the first place
    of each block (``bounds``): how many are not newer than it, less one (-1: older
    than all)."""
    lo, hi = 0, len(bounds)
    while lo < hi:
        mid = (lo + hi) // 2
        if older(key, bounds[mid]):
            hi = mid
        else:
            lo = mid + 1
    return lo - 1


def place(article: Article | ArticleKey) -> Place:
    """Where ``article`` sits in its channels."""
    return (article.published_at.astimezone(UTC).strftime(_TIME), article.id)


@dataclass
class ChannelState:
    """What the last build of a channel left to go on (see the module's docstring)."""

    seq: int
    settings: str
    total: int
    bounds_hash: str  # of the file of places (:func:`load_places`)
    archive: int | None = None  # the archive folder's mark (:func:`mark`)
    picks: int = 0  # the last entry seen of the log of chosen picks
    # The place of the items at positions 0, items, 2·items… < total: read from their
    # own file when a change reaches the channel, written only when they change.
    bounds: list[Place] | None = None

    def to_json(self) -> dict[str, Any]:
        """The state as stored."""
        return {
            "seq": self.seq,
            "picks": self.picks,
            "settings": self.settings,
            "total": self.total,
            "bounds": self.bounds_hash,
            "archive": self.archive,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChannelState:
        """The state as read back (:exc:`KeyError`, :exc:`ValueError` when malformed)."""
        return cls(
            int(data["seq"]),
            str(data["settings"]),
            int(data["total"]),
            str(data["bounds"]),
            data.get("archive"),
            int(data["picks"]),
        )


def _places_path(root: Path, channel: str) -> Path:
    return root / PLACES_DIR / f"{channel}.json"


# The places files a long-running process read or wrote last, by path: their bytes and
# places. A daemon's build reads and writes each channel's (thousands of page starts at
# 50,000 articles) and most builds change none: the file is still read and compared,
# its JSON neither parsed nor made again.
_PLACES: dict[Path, tuple[bytes, list[Place]]] = {}


def load_places(root: Path, channel: str, digest: str) -> list[Place] | None:
    """A channel's remembered page starts; ``None`` when missing or not the ones the
    state names (a file from another build)."""
    path = _places_path(root, channel)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        return None
    known = _PLACES.get(path)
    if known is not None and known[0] == data:
        return list(known[1])
    places = [(str(t), str(i)) for t, i in json.loads(data)]
    _PLACES[path] = data, list(places)
    return places


def save_places(root: Path, channel: str, places: Sequence[Place]) -> str:
    """Write a channel's page starts (when they changed); their hash."""
    path = _places_path(root, channel)
    known = _PLACES.get(path)
    if known is not None and known[1] == list(places):
        data = known[0]
    else:
        data = json.dumps([list(p) for p in places], separators=(",", ":")).encode()
        _PLACES[path] = data, list(places)
    write_if_changed(path, data)
    return hashlib.sha256(data).hexdigest()


def write_if_changed(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``, unless it holds them: an unchanged
    build leaves every file, and its time, alone."""
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def channel_state(settings: Settings, channel: ChannelConfig) -> str:
    """A fingerprint of everything a channel's bytes depend on besides its articles: every
    setting (the site's, the channel's, the sources' "More from" rules…) and the renderer."""
    material = [
        renderer_version(),
        settings.model_dump(mode="json"),
        channel.model_dump(mode="json"),
    ]
    encoded = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def mark(path: Path) -> int | None:
    """A folder's modification time, to tell next time whether anything in it changed.

    File systems stamp with a coarse clock (a few milliseconds), so a file removed just
    after the build's last write in the folder could leave its time as it was. A folder
    modified less than :data:`SETTLE_NS` ago is therefore stamped back by that much:
    any later change gives it a later time.
    """
    try:
        stat = path.stat()
    except OSError:
        return None
    now = time.time_ns()
    if now - stat.st_mtime_ns < SETTLE_NS:
        os.utime(path, ns=(stat.st_atime_ns, now - SETTLE_NS))
        return now - SETTLE_NS
    return stat.st_mtime_ns


def unchanged(path: Path, stamp: Any) -> bool:
    """True when ``path`` still has the time :func:`mark` recorded."""
    try:
        return isinstance(stamp, int) and path.stat().st_mtime_ns == stamp
    except OSError:
        return False
