"""What `syndicate build` published, read from the output folder as it is now.

The server never renders anything: it serves the files the build wrote, described by
``.syndicate/manifest.json``. The manifest is re-read when it changes on disk (compared
by inode, mtime and size, which an atomic rename always changes), so a rebuild is picked
up by the next request without a restart; the files themselves, with their answers'
headers, are kept by :mod:`syndicate.web.lean`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syndicate.feeds import MANIFEST

log = logging.getLogger(__name__)

_StatKey = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class FormatInfo:
    """A channel's format: its name, media type and public URL."""

    format: str
    media_type: str
    url: str


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """A published channel, as the manifest describes it."""

    name: str
    title: str
    description: str
    max_age: int
    archive_max_age: int
    hubs: tuple[str, ...]
    formats: dict[str, FormatInfo]  # by file extension


@dataclass(frozen=True, slots=True)
class Manifest:
    """The site and its channels, in the build's order."""

    site_name: str
    base_url: str
    language: str
    channels: dict[str, ChannelInfo]


def _stat_key(st: os.stat_result) -> _StatKey:
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def etag_of(data: bytes, gzip: bool) -> str:
    """A strong ETag from the bytes; the gzip copy's gets a ``-gz`` suffix so the two
    representations never share one (RFC 9110 §8.8.3)."""
    digest = hashlib.blake2b(data, digest_size=12).hexdigest()
    return f'"{digest}-gz"' if gzip else f'"{digest}"'


class PublishedFiles:
    """Read access to the output folder: the manifest and files under ``feeds/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = str(root)
        self._manifest: tuple[_StatKey, Manifest] | None = None

    def manifest(self) -> Manifest | None:
        """The build's manifest, or None before the first build (or if it is unreadable)."""
        path = os.path.join(self._root, MANIFEST)
        try:
            key = _stat_key(os.stat(path))
        except OSError:
            return None
        cached = self._manifest
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            with open(path, "rb") as fh:
                manifest = _parse_manifest(json.loads(fh.read()))
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("cannot read %s: %s", path, err)
            return None
        self._manifest = (key, manifest)
        return manifest


def _parse_manifest(data: dict[str, Any]) -> Manifest:
    site = data["site"]
    channels = {}
    for c in data["channels"]:
        formats = {
            f["extension"]: FormatInfo(f["format"], f["media_type"], f["url"]) for f in c["formats"]
        }
        channels[c["name"]] = ChannelInfo(
            name=c["name"],
            title=c["title"],
            description=c.get("description", ""),
            max_age=int(c["max_age"]),
            archive_max_age=int(c["archive_max_age"]),
            hubs=tuple(c.get("hubs", ())),
            formats=formats,
        )
    return Manifest(site["name"], site["base_url"], site.get("language", "en"), channels)
