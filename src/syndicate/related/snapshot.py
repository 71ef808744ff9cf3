"""A copy of the related index's pool on disk, so a new process need not read the table.

A process that ranks "More from" picks keeps the store's term vectors in memory
(:mod:`syndicate.related.cache`). Its first look reads every row of ``related_terms``,
which at 50,000 articles costs over a second: every ``syndicate build`` run from cron
paid it. A snapshot is that pool as arrays (the pool's :class:`Facts` and
:class:`TermRows`, nothing derived), with where it stood: the change log's position it
was synced to, the newest row it holds, and a random token. The next process loads it,
then catches up from the change log exactly as a long-running process does between two
builds.

Whether a snapshot may be used is not decided here: the cache checks the token against
the one the store recorded when the snapshot was saved (``related_snapshots``), so a
store restored from a backup, another store at the same URL or a half-written file is
never trusted (see ``cache.py``).

The file is a NumPy ``.npz`` read with ``allow_pickle=False``: arrays and text only, no
code runs on load. Strings are kept as a vocabulary (NUL-separated UTF-8) and codes.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from syndicate.related.pool import Facts, TermRows, from_micros, micros

log = logging.getLogger(__name__)

# Bump when what a snapshot holds or means changes: an older file is then ignored.
FORMAT = 1

_TMP_PREFIX = ".snapshot-"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A pool and where it stood.

    ``store``: the store it was taken of (its URL without password); ``token``: random,
    also recorded in the store when saved; ``synced``: the change log's newest entry at
    the pool's last sync; ``watermark``: the newest ``indexed_at`` among its rows;
    ``state``: ``related_terms``' row count and newest ``indexed_at`` at the last look.
    """

    store: str
    token: str
    synced: int
    watermark: datetime | None
    state: tuple[int, datetime | None]
    facts: Facts
    rows: TermRows


def save(path: Path, snapshot: Snapshot) -> bool:
    """Write ``snapshot`` to ``path`` (a temporary file renamed over it, so a reader
    sees the old file or the new one). False, and nothing written, when it cannot be
    kept (a string with a NUL in it, or the folder cannot be written: logged)."""
    facts, rows = snapshot.facts, snapshot.rows
    if rows.features is None:
        raise ValueError("a snapshot keeps compacted rows")
    arrays: dict[str, npt.NDArray[Any]] = {}
    vocabularies: dict[str, int] = {}
    for name in ("ids", "sources", "sections", "tags", "authors", "stories"):
        values: list[str] = getattr(facts, name)
        packed = _pack(values)
        if packed is None:
            log.info("related snapshot not saved: a %s value holds a NUL character", name)
            return False
        arrays[f"{name}_codes"], arrays[f"{name}_vocab"], vocabularies[name] = packed
    arrays |= {
        "tag_offsets": facts.tag_offsets,
        "author_offsets": facts.author_offsets,
        "published": facts.published,
        "excluded": facts.excluded,
        "stamps": facts.stamps,
        "indptr": rows.indptr,
        "indices": rows.indices,
        "counts": rows.counts,
        "lengths": rows.lengths,
        "features": rows.features,
    }
    meta = {
        "format": FORMAT,
        "store": snapshot.store,
        "token": snapshot.token,
        "synced": snapshot.synced,
        "watermark": _micros(snapshot.watermark),
        "state": [snapshot.state[0], _micros(snapshot.state[1])],
        "vocabularies": vocabularies,
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _sweep(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(out, allow_pickle=False, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:
        log.warning("related snapshot not saved to %s: %s", path, err)
        return False
    return True


def _sweep(folder: Path) -> None:
    """Remove temporary files a process killed while saving left (an hour old)."""
    stale = time.time() - 3600
    for tmp in folder.glob(f"{_TMP_PREFIX}*.tmp"):
        try:
            if tmp.stat().st_mtime < stale:
                tmp.unlink()
        except OSError:
            pass  # another process's, gone already


def load(path: Path) -> Snapshot | None:
    """The snapshot in ``path``; ``None`` when there is none or it cannot be used (of
    another format, unreadable, damaged: logged), never an exception."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes())
            if meta.get("format") != FORMAT:
                log.info("related snapshot %s ignored: format %s", path, meta.get("format"))
                return None
            sizes = meta["vocabularies"]
            strings = {
                name: _unpack(data[f"{name}_codes"], data[f"{name}_vocab"], sizes[name])
                for name in ("ids", "sources", "sections", "tags", "authors", "stories")
            }
            facts = Facts(
                strings["ids"],
                strings["sources"],
                strings["sections"],
                data["tag_offsets"],
                strings["tags"],
                data["author_offsets"],
                strings["authors"],
                data["published"],
                strings["stories"],
                data["excluded"],
                data["stamps"],
            )
            rows = TermRows(
                data["indptr"], data["indices"], data["counts"], data["lengths"], data["features"]
            )
            _check(facts, rows)
            count, newest = meta["state"]
            return Snapshot(
                store=str(meta["store"]),
                token=str(meta["token"]),
                synced=int(meta["synced"]),
                watermark=_moment(meta["watermark"]),
                state=(int(count), _moment(newest)),
                facts=facts,
                rows=rows,
            )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, IndexError, TypeError, zipfile.BadZipFile) as err:
        log.warning("related snapshot %s ignored: %s", path, err)
        return None


def _check(facts: Facts, rows: TermRows) -> None:
    """ValueError unless the arrays fit together (a damaged or foreign file)."""
    n = len(facts.ids)
    columns = (facts.sources, facts.sections, facts.stories, facts.published, facts.excluded)
    if any(len(c) != n for c in (*columns, facts.stamps, rows.lengths, rows.indptr[1:])):
        raise ValueError("row counts differ")
    if facts.tag_offsets[-1] != len(facts.tags) or facts.author_offsets[-1] != len(facts.authors):
        raise ValueError("label offsets do not match")
    if rows.indptr[-1] != len(rows.indices) or len(rows.counts) != len(rows.indices):
        raise ValueError("term rows do not match")
    assert rows.features is not None
    if len(rows.indices) and int(rows.indices.max()) >= len(rows.features):
        raise ValueError("term ids out of range")


def _pack(
    values: list[str],
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint8], int] | None:
    """``values`` as codes into a vocabulary (NUL-separated UTF-8), and its size."""
    index: dict[str, int] = {}
    codes = np.fromiter(
        (index.setdefault(v, len(index)) for v in values), dtype=np.uint32, count=len(values)
    )
    if any("\0" in v for v in index):
        return None
    blob = "\0".join(index).encode()
    return codes, np.frombuffer(blob, dtype=np.uint8), len(index)


def _unpack(codes: npt.NDArray[Any], vocab: npt.NDArray[np.uint8], size: int) -> list[str]:
    words = vocab.tobytes().decode().split("\0") if size else []
    if len(words) != size or (len(codes) and int(codes.max()) >= size):
        raise ValueError("a vocabulary does not match its codes")
    # One string object per distinct value, as the pool's builder interns them.
    table = np.empty(size, dtype=object)
    table[:] = words
    return list(table[codes].tolist())


def _micros(moment: datetime | None) -> int | None:
    return None if moment is None else micros(moment)


def _moment(value: int | None) -> datetime | None:
    return None if value is None else from_micros(int(value))
