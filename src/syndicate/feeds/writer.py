"""Atomic, only-if-changed file writes for the build (issue "Feeds": a reader never sees
half a file, and an unchanged file keeps its bytes and its modification time)."""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

log = logging.getLogger("syndicate.feeds")

COMMIT_EVERY = 512  # staged files before a commit: bounds temporary files on disk
FSYNC_THREADS = 16
# A temporary file lives from staging to the next commit: seconds. One this old was left
# by a killed build; a younger one may belong to a build running beside this one.
STALE_TEMP_SECONDS = 600.0
# The names _stage gives (mkstemp: ".<file name>.<8 random characters>.tmp").
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


class Writer:
    """Writes files under ``root`` atomically, only when their bytes change.

    A changed file is written to a temporary file in the same folder (so the rename
    cannot cross file systems); :meth:`commit` then fsyncs each temporary file and
    renames it over the old one, so a reader opens the old bytes or the new, never a
    mix, and a crash leaves one or the other. Commits fsync many files in parallel:
    the file system batches concurrent fsyncs into few journal commits, which makes a
    full build of thousands of archive pages an order of magnitude faster than one
    fsync after another. :meth:`sync` commits and fsyncs the folders, so the renames
    are durable too; call it before telling anyone (WebSub hubs) about the change.

    The first write removes the temporary files a killed build left anywhere under
    ``root`` (those older than ``STALE_TEMP_SECONDS``): a build rewrites only what
    changed, so a leftover beside an unchanged file would otherwise stay for good
    (unless ``sweep`` is false).
    """

    def __init__(self, root: Path, *, sweep: bool = True) -> None:
        self.root = root
        self._staged: list[tuple[str, Path]] = []  # (temporary file, final path)
        self._dirs: set[Path] = set()
        # ``sweep=False``: the caller knows no build was killed since the last sweep
        # (an incremental build: feeds/incremental.py), and the walk over every file
        # would be most of its time on a large archive.
        self._swept = not sweep

    def write(self, relative: str, data: bytes, *, gz: bool = True) -> bool:
        """Stage ``data`` (and, with ``gz``, a gzip copy) unless the file holds it already.

        Returns True when the file will be replaced. The gzip copy is rewritten with its
        file, or written when missing. Staged files replace the old ones at the next
        :meth:`commit` (at the latest every ``COMMIT_EVERY`` files).
        """
        path = self.root / relative
        if not self._swept:
            self._swept = True
            if removed := remove_stale_temporaries(self.root):
                log.info("removed %d temporary file(s) left by an interrupted build", removed)
        changed = not _same_bytes(path, data)
        if changed:
            self._stage(path, data)
        gz_path = path.with_name(path.name + ".gz")
        if gz and (changed or not gz_path.exists()):
            # mtime=0: no timestamp in the gzip header, so the copy is deterministic too.
            self._stage(gz_path, gzip.compress(data, compresslevel=9, mtime=0))
        if len(self._staged) >= COMMIT_EVERY:
            self.commit()
        return changed

    def _stage(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; another web server must read it
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._staged.append((tmp, path))

    def commit(self) -> None:
        """fsync every staged file (in parallel), then rename each over its target."""
        staged, self._staged = self._staged, []
        if not staged:
            return
        try:
            with ThreadPoolExecutor(max_workers=FSYNC_THREADS) as pool:
                list(pool.map(_fsync, (tmp for tmp, _ in staged)))
            for tmp, path in staged:
                os.replace(tmp, path)
                self._dirs.add(path.parent)
        finally:
            for tmp, _ in staged:  # after a failure: leave no temporary file behind
                Path(tmp).unlink(missing_ok=True)

    def remove(self, path: Path) -> None:
        """Delete ``path`` (a file no longer built), if it exists."""
        if path.exists():
            path.unlink()
            self._dirs.add(path.parent)

    def sync(self) -> None:
        """Commit, then fsync every folder changed since the last call (durable renames)."""
        self.commit()
        for folder in sorted(self._dirs):
            _fsync(str(folder))
        self._dirs.clear()


def remove_stale_temporaries(root: Path, max_age: float = STALE_TEMP_SECONDS) -> int:
    """Delete the writer's temporary files under ``root`` older than ``max_age`` seconds
    (left by a build killed before its commit); return how many were removed."""
    cutoff = time.time() - max_age
    removed = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if not _TEMP_NAME.match(name):
                continue
            path = os.path.join(folder, name)
            try:
                if os.lstat(path).st_mtime < cutoff:
                    os.unlink(path)
                    removed += 1
            except FileNotFoundError:
                continue  # renamed or removed meanwhile by another build
    return removed


def _fsync(path: str) -> None:
    # Linux fsyncs a file's data through a read-only descriptor too.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; an empty dict when it is missing or not an object."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def json_bytes(data: Any) -> bytes:
    """``data`` as stable, readable JSON bytes (sorted keys are the caller's choice)."""
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
