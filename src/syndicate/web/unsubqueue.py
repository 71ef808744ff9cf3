"""One-click unsubscribes that arrived while the store was unavailable, kept on disk.

A mailbox provider sends the RFC 8058 POST once; if the store is locked or down at that
moment, the request must not be lost. :class:`PendingUnsubscribes` writes it as one small
JSON file (written to a temporary name, synced, then renamed, so a crash leaves either
the whole request or nothing) and a background thread applies the files, oldest first,
as soon as the store takes them, then deletes them. A process that starts with files
left over (a crash, a restart) applies them too. Applying is idempotent, so a file
applied twice (a crash between the write and the delete) changes nothing more.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

Apply = Callable[[int, str, str, datetime], object]
"""Unsubscribe ``(subscriber_id, channel, source, at)``; raises while the store is down."""


class PendingUnsubscribes:
    """The queue in ``folder``; ``apply`` is called for each entry from one thread."""

    def __init__(self, folder: Path, apply: Apply, retry: Callable[[], float]) -> None:
        self.folder = folder
        self.apply = apply
        self.retry = retry  # seconds between attempts while the store is down
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def add(self, subscriber_id: int, channel: str, source: str, at: datetime) -> None:
        """Keep one unsubscribe on disk (OSError if it cannot be), and start applying."""
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = {"subscriber": subscriber_id, "channel": channel, "source": source}
        entry["at"] = at.isoformat()
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        temp = self.folder / f".{name}.tmp"
        with temp.open("w", encoding="utf-8") as out:
            json.dump(entry, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, self.folder / name)
        _sync_dir(self.folder)
        log.warning("store unavailable: one-click unsubscribe queued in %s", self.folder)
        self.start()

    def pending(self) -> list[Path]:
        """The queued entries, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("*.json"))

    def start(self) -> None:
        """Apply the queue in a background thread, if there is one and none is running."""
        with self._lock:
            if self._worker is not None and self._worker.is_alive():
                return
            if not self.pending():
                return
            self._worker = threading.Thread(
                target=self._run, name="pending-unsubscribes", daemon=True
            )
            self._worker.start()

    def drain(self) -> bool:
        """Apply every queued entry; False if the store refused one (it stays queued)."""
        for path in self.pending():
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
                args = (int(entry["subscriber"]), str(entry["channel"]), str(entry["source"]))
                at = datetime.fromisoformat(entry["at"])
            except (OSError, ValueError, KeyError, TypeError) as err:
                log.error("unreadable queued unsubscribe %s set aside: %s", path.name, err)
                path.replace(path.with_suffix(".bad"))
                continue
            try:
                self.apply(*args, at)
            except Exception as err:  # the store is still down: try again later
                log.info("queued unsubscribes wait for the store: %s", err)
                return False
            path.unlink(missing_ok=True)
            log.info("queued one-click unsubscribe applied (%s)", path.name)
        return True

    def _run(self) -> None:
        while True:
            if self.drain():
                with self._lock:
                    if not self.pending():  # nothing was added meanwhile
                        self._worker = None
                        return
                continue
            time.sleep(self.retry())


def _sync_dir(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk too.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
