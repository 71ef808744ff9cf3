"""Atomic, only-if-changed file writes for the build (issue "Feeds": a reader never sees
half a file, and an unchanged file keeps its bytes and its modification time)."""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

log = logging.getLogger("syndicate.feeds")

COMMIT_EVERY = 512  # staged files before a commit: bounds temporary files and memory
WRITE_THREADS = 1  # creating and writing temporary files (see Writer)
FSYNC_THREADS = 16
# A temporary file lives from staging to the next commit: seconds. One this old was left
# by a killed build; a younger one may belong to a build running beside this one.
STALE_TEMP_SECONDS = 600.0
# The names _stage gives: ".<file name>.<8 random characters>.tmp".
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


class Writer:
    """Writes files under ``root`` atomically, only when their bytes change.

    A changed file is written to a temporary file in the same folder (so the rename
    cannot cross file systems); :meth:`commit` then fsyncs each temporary file and
    renames it over the old one, so a reader opens the old bytes or the new, never a
    mix, and a crash leaves one or the other. :meth:`sync` commits and fsyncs the
    folders, so the renames are durable too; call it before telling anyone (WebSub
    hubs) about the change.

    Temporary files are created and written (gzip copies compressed first) by a writer
    thread while the caller builds the next document: file creation and zlib release
    the GIL, so the build's CPU work and the disk's overlap. One thread, not a pool:
    creations in one folder serialise on the folder anyway, and concurrent ones (and
    creations racing fsyncs) cost more system time than they save (measured at 2,000
    articles). Commits fsync many files in parallel: the file system batches
    concurrent fsyncs into few journal commits, an order of magnitude faster than one
    fsync after another. A failure in the thread is raised by the next :meth:`commit`.

    A document kept in the document cache (:mod:`.doccache`) is written there instead
    and hard-linked into place (:meth:`write` with ``cached``), or, when it was kept by
    an earlier build, only linked (:meth:`link`): no bytes written, nothing to fsync.

    The first write removes the temporary files a killed build left anywhere under
    ``root`` (those older than ``STALE_TEMP_SECONDS``): a build rewrites only what
    changed, so a leftover beside an unchanged file would otherwise stay for good
    (unless ``sweep`` is false).
    """

    def __init__(self, root: Path, *, sweep: bool = True) -> None:
        self.root = root
        # Each staged file: the job writing its temporary file, its final path, and the
        # output path that links it when the final path is a document cache entry.
        self._staged: list[tuple[Future[str], Path, Path | None]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._dirs: set[Path] = set()  # folders with renames not yet fsynced
        self._made: set[Path] = set()  # folders known to exist
        self._fresh: set[Path] = set()  # folders this writer created: no file was there
        self._written: set[Path] = set()  # files staged in fresh folders
        # ``sweep=False``: the caller knows no build was killed since the last sweep
        # (an incremental build: feeds/incremental.py), and the walk over every file
        # would be most of its time on a large archive.
        self._swept = not sweep

    def write(
        self, relative: str, data: bytes, *, gz: bool = True, cached: Path | None = None
    ) -> bool:
        """Stage ``data`` (and, with ``gz``, a gzip copy) unless the file holds it already.

        Returns True when the file will be replaced. The gzip copy is rewritten with its
        file, or written when missing. Staged files replace the old ones at the next
        :meth:`commit` (at the latest every ``COMMIT_EVERY`` files).

        ``cached``: the document cache entry of these bytes (:mod:`.doccache`; its gzip
        copy is the same name with ``.gz``). A new file is written there and linked
        into place.
        """
        path = self.root / relative
        self._sweep()
        new = self._is_new(path)
        changed = new or not _same_bytes(path, data)
        gz_path = path.with_name(path.name + ".gz")
        if cached is not None and gz and changed:
            self._stage(cached, data, compress=False, link=path)
            self._stage(cached.with_name(cached.name + ".gz"), data, compress=True, link=gz_path)
        else:
            if changed:
                self._stage(path, data, compress=False)
            if gz and (changed or not gz_path.exists()):
                self._stage(gz_path, data, compress=True)
        if len(self._staged) >= COMMIT_EVERY:
            self.commit()
        return changed

    def link(self, relative: str, entry: Path) -> bool:
        """Put the document cache entry ``entry`` and its gzip copy (``entry`` + ``.gz``)
        in place as ``relative`` and its ``.gz``, by hard links, unless the file holds
        those bytes already (then it keeps them and its modification time).

        Returns True when the file is replaced (at once: the entry is durable already).
        """
        path = self.root / relative
        self._sweep()
        gz_path, gz_entry = path.with_name(path.name + ".gz"), entry.with_name(entry.name + ".gz")
        new = self._is_new(path)
        if not new and _same_file(path, entry):
            if not gz_path.exists():
                self._install(gz_entry, gz_path, direct=False)
            return False
        for one, target in ((entry, path), (gz_entry, gz_path)):
            self._install(one, target, direct=new)
            if new:
                self._written.add(target)
        return True

    def _install(self, entry: Path, path: Path, *, direct: bool) -> None:
        """Link ``entry`` as ``path``: at once when no file is expected there
        (``direct``), otherwise through a temporary name renamed over the old file.

        The link keeps the entry's modification time (when its bytes were made), unless
        that is not later than the file it replaces: then it is now, so a URL's time
        never goes back when its bytes change (a client that sends only
        If-Modified-Since would be told its older copy is current).
        """
        if direct:
            try:
                os.link(entry, path)
                self._dirs.add(path.parent)
                return
            except FileExistsError:
                pass
        try:
            mine, old = os.stat(entry), os.stat(path)
        except FileNotFoundError:
            pass
        else:
            if (mine.st_dev, mine.st_ino) == (old.st_dev, old.st_ino):
                return  # linked already (and a rename between two links does nothing)
            if mine.st_mtime_ns <= old.st_mtime_ns:
                os.utime(entry)  # one inode: the link shows it from its first instant
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        os.link(entry, tmp)
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._dirs.add(path.parent)

    def _sweep(self) -> None:
        if not self._swept:
            self._swept = True
            if removed := remove_stale_temporaries(self.root):
                log.info("removed %d temporary file(s) left by an interrupted build", removed)

    def _is_new(self, path: Path) -> bool:
        """Make ``path``'s folder if missing; True when ``path`` cannot exist yet (its
        folder was made by this writer, and nothing staged it since). A full build into
        a new folder then never stats its files: a stat in a folder where the writer
        thread is creating files waits for it."""
        folder = path.parent
        if folder not in self._made:
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                self._fresh.add(folder)
            self._made.add(folder)
        return folder in self._fresh and path not in self._written

    def _stage(self, path: Path, data: bytes, *, compress: bool, link: Path | None = None) -> None:
        if link is not None:
            self._written.add(link)
            self._made_folder(path.parent)
        elif path.parent in self._fresh:
            self._written.add(path)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="feed-writer")
        job = self._pool.submit(_write_temporary, str(path.parent), path.name, data, compress)
        self._staged.append((job, path, link))

    def _made_folder(self, folder: Path) -> None:
        if folder not in self._made:
            folder.mkdir(parents=True, exist_ok=True)
            self._made.add(folder)

    def commit(self) -> None:
        """Wait for every staged file to be written, fsync them (in parallel), then rename
        each over its target; on a failure, remove every temporary file and raise."""
        staged, self._staged = self._staged, []
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)  # every job done (or failed) before anything is renamed
        if not staged:
            return
        try:
            done = [(job.result(), path, link) for job, path, link in staged]
            list(_fsync_threads().map(_fsync, (tmp for tmp, _, _ in done)))
            for tmp, path, link in done:
                os.replace(tmp, path)
                if link is None:
                    self._dirs.add(path.parent)
                else:
                    # A cache entry: its folder's name for it need not be durable (the
                    # output's link is what must be; a lost entry is only a miss).
                    self._install(path, link, direct=link.parent in self._fresh)
        except BaseException:
            for job, _, _ in staged:  # leave no temporary file behind
                if job.exception() is None:
                    Path(job.result()).unlink(missing_ok=True)
            raise

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
            # Most names are published files: the prefix test spares them the regex, which
            # matters at the first write of an incremental build over a large archive.
            if name[0] != "." or not _TEMP_NAME.match(name):
                continue
            path = os.path.join(folder, name)
            try:
                if os.lstat(path).st_mtime < cutoff:
                    os.unlink(path)
                    removed += 1
            except FileNotFoundError:
                continue  # renamed or removed meanwhile by another build
    return removed


def _write_temporary(folder: str, name: str, data: bytes, compress: bool) -> str:
    """Write ``data`` (gzipped with ``compress``) to a new temporary file beside ``name``
    in ``folder``; return its path. Runs in the writer's thread."""
    if compress:
        # mtime=0: no timestamp in the gzip header, so the copy is deterministic too.
        data = gzip.compress(data, compresslevel=9, mtime=0)
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, _CREATE, 0o644)
        except FileExistsError:  # pragma: no cover - 32 random bits taken
            continue
        break
    try:
        try:
            os.fchmod(fd, 0o644)  # whatever the umask: another web server must read it
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


_FSYNCS: tuple[int, ThreadPoolExecutor] | None = None
_FSYNCS_LOCK = threading.Lock()


def _fsync_threads() -> ThreadPoolExecutor:
    """The threads commits fsync through, kept for the process: a daemon's build commits
    a few files at a time, and a pool made per commit started a thread per file (about
    60 per build). Made again in a forked child (a parent's threads are not in it)."""
    global _FSYNCS
    with _FSYNCS_LOCK:
        if _FSYNCS is None or _FSYNCS[0] != os.getpid():
            _FSYNCS = os.getpid(), ThreadPoolExecutor(FSYNC_THREADS, "feed-fsync")
        return _FSYNCS[1]


def _fsync(path: str) -> None:
    # Linux fsyncs a file's data (and a folder's entries) through a read-only descriptor.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _same_file(path: Path, entry: Path) -> bool:
    """Whether ``path`` is ``entry`` (a link to it) or holds the same bytes."""
    try:
        mine, theirs = path.stat(), entry.stat()
        if (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino):
            return True
        return mine.st_size == theirs.st_size and path.read_bytes() == entry.read_bytes()
    except FileNotFoundError:
        return False


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
