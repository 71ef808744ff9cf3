"""Built documents kept by fingerprint, hard-linked into the output folder.

A document's fingerprint (an archive page's in :mod:`.archives`, the subscription
document's in :mod:`.builder`) covers everything its bytes depend on: its items' keys
and "More from" links, the site's and channel's settings, its place among the pages and
the renderer's code. A build already trusts it to leave a page alone; here it names the
page's bytes. Each document a build writes whole is kept in ``[output] cache_dir``
under ``<fingerprint>.<format>`` (and ``.gz``, its gzip copy), and every later build
that needs the same document (a full build into a new folder, a page whose items went
back to an earlier state) links the entry into place: no fragment is read, nothing is
spliced or compressed, and no data is written or fsynced (the entry was when it was
made).

Links, not copies: an entry and the output file that links it are one inode, so the
bytes are on disk once and the cache costs no space of its own. A link shows the
entry's modification time, when its bytes were first made (what Last-Modified means),
except where it replaces a file that is not older: then the entry is given the time of
the build, so a URL's time (Last-Modified, and the nginx and Caddy ETags made from it)
never goes back when its bytes change, back to bytes it held before included. Nothing
ever writes a published file in place (the writer renames new files over old ones), so
an entry's bytes cannot change under it.

A build removes the entries of the documents it replaced (:meth:`DocumentCache.release`;
a published file that still links one keeps its bytes, only the cache's name goes), and
a full build of every channel removes every entry it neither used nor made that no
published file links (:meth:`DocumentCache.collect`). Builds sharing a cache hold its
lock, one at a time. The cache is skipped when it is turned off (``[output] cache = false``), or
when its folder cannot be made or files cannot be linked from it into the output folder
(another file system): the build then writes every file as before.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path

import filelock

from syndicate.config import Settings
from syndicate.errors import SyndicateError
from syndicate.feeds.writer import remove_stale_temporaries

__all__ = ["DocumentCache"]

log = logging.getLogger("syndicate.feeds")

LOCK_TIMEOUT = 600.0  # seconds to wait for another build using the same cache


class DocumentCache:
    """The document cache of one build (see the module's docstring)."""

    def __init__(self, root: Path, lock: filelock.BaseFileLock) -> None:
        self.root = root
        self._lock = lock
        self._used: set[Path] = set()  # entries this build found or made
        self._released: list[Path] = []  # entries of documents this build replaced

    @classmethod
    def open(cls, settings: Settings, output: Path) -> DocumentCache | None:
        """The cache for a build writing into ``output`` (whose state folder exists),
        locked; ``None`` when it is off or cannot link into ``output`` (logged)."""
        if not settings.output.cache:
            return None
        root = settings.resolve(settings.output.cache_dir)
        try:
            root.mkdir(parents=True, exist_ok=True)
            linkable = _can_link(root, output)
        except OSError as err:
            log.warning("document cache %s not used: %s", root, err)
            return None
        if not linkable:
            log.info("document cache %s not used: it cannot link into %s", root, output)
            return None
        lock = filelock.FileLock(str(root / ".lock"), timeout=LOCK_TIMEOUT)
        try:
            lock.acquire()
        except filelock.Timeout as err:
            raise SyndicateError(f"another build still holds {lock.lock_file}") from err
        return cls(root, lock)

    def close(self) -> None:
        """Let the next build use the cache."""
        self._lock.release()

    def entry(self, fingerprint: str, fmt: str) -> Path:
        """Where the document ``fingerprint`` is kept in format ``fmt`` (its gzip copy:
        the same name with ``.gz``). Marked as used by this build."""
        path = self._path(fingerprint, fmt)
        self._used.add(path)
        return path

    def _path(self, fingerprint: str, fmt: str) -> Path:
        return self.root / fingerprint[:2] / f"{fingerprint}.{fmt}"

    def find(self, fingerprint: str, formats: Sequence[str]) -> dict[str, Path] | None:
        """The entries of the document ``fingerprint`` in every format of ``formats``
        (each with its gzip copy); ``None`` when one is missing."""
        found: dict[str, Path] = {}
        for fmt in formats:
            path = self._path(fingerprint, fmt)
            if not (path.is_file() and path.with_name(path.name + ".gz").is_file()):
                return None
            found[fmt] = path
        self._used.update(found.values())
        return found

    def adopt(self, fingerprint: str, fmt: str, path: Path) -> None:
        """``path`` (and its ``.gz``), a published file, holds the document
        ``fingerprint`` in format ``fmt``: link it into the cache if it is not there (a
        build before the cache wrote it, or its fingerprint changed and not its bytes)."""
        entry = self.entry(fingerprint, fmt)
        gz_entry = entry.with_name(entry.name + ".gz")
        if entry.exists() and gz_entry.exists():
            return
        entry.parent.mkdir(exist_ok=True)
        for source, target in ((path, entry), (path.with_name(path.name + ".gz"), gz_entry)):
            try:
                os.link(source, target)
            except FileExistsError:
                continue
            except OSError:  # gone meanwhile: the cache is only ever a help
                return

    def release(self, fingerprint: str, formats: Iterable[str]) -> None:
        """The document ``fingerprint`` was replaced: :meth:`collect` removes its
        entries' names (unless this build used them; a published file linking one
        keeps its bytes)."""
        for fmt in formats:
            self._released.append(self._path(fingerprint, fmt))

    def collect(self, *, everything: bool) -> int:
        """Remove the released entries this build did not use (after the build's files
        are in place); with ``everything`` (a full build of every channel), also every
        entry it did not use that no published file links, and temporary files a
        killed build left. How many files were removed.

        One published file may be linked by several entries (a document whose
        fingerprint changed and its bytes not: :meth:`adopt`), so "no published file
        links it" is a link count equal to the entries sharing the file.
        """
        removed = 0
        for path in self._released:
            if path not in self._used:
                for one in (path, path.with_name(path.name + ".gz")):
                    removed += _remove(one)
        self._released.clear()
        if everything:
            removed += remove_stale_temporaries(self.root) + self._sweep()
        if removed:
            log.info("document cache: removed %d file(s)", removed)
        return removed

    def _sweep(self) -> int:
        used = {path.name for path in self._used}
        names: dict[tuple[int, int], list[str]] = {}
        links: dict[tuple[int, int], int] = {}
        for folder in os.scandir(self.root):
            if not folder.is_dir(follow_symlinks=False):
                continue
            for item in os.scandir(folder.path):
                if item.name.startswith("."):
                    continue  # a temporary file, left to remove_stale_temporaries
                st = item.stat(follow_symlinks=False)
                inode = (st.st_dev, st.st_ino)
                names.setdefault(inode, []).append(item.path)
                links[inode] = st.st_nlink
        removed = 0
        for inode, paths in names.items():
            if links[inode] > len(paths):
                continue  # a published file links it
            for path in paths:
                if os.path.basename(path).removesuffix(".gz") not in used:
                    removed += _remove(Path(path))
        return removed


def _remove(path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    return 1


def _can_link(root: Path, output: Path) -> bool:
    """Whether a file of ``root`` can be hard-linked into ``output``: a link made and
    removed (the same device is not enough: some file systems have no hard links)."""
    probe = root / f".probe.{secrets.token_hex(4)}.tmp"
    target = output / f".probe.{secrets.token_hex(4)}.tmp"
    probe.write_bytes(b"")
    try:
        os.link(probe, target)
    except OSError:
        return False
    else:
        target.unlink()
        return True
    finally:
        probe.unlink()
