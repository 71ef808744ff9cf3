"""One scheduler per store: a lock that a second ``syndicate run`` cannot take.

SQLite stores use a file lock beside the database (``filelock``; the OS drops it when
the process dies, however it dies). PostgreSQL stores use a session-level advisory lock
on a connection held open for the scheduler's lifetime (PostgreSQL drops it when that
connection ends). The key is derived from the database and schema, so stores sharing one
server do not block each other. After taking the lock the holder writes who it is to the
store, so a second instance can say whom it is waiting for.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
from datetime import datetime
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from syndicate.config import Settings
from syndicate.errors import StoreError
from syndicate.store import Store
from syndicate.store.schedule import clear_holder, get_holder, set_holder


def holder_name() -> str:
    """Who this process is, as other instances will be told: host and pid."""
    return f"{socket.gethostname()} pid {os.getpid()}"


class SchedulerLock:
    """The store's scheduler lock. ``acquire()`` never blocks; poll it to wait."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.name = holder_name()
        self._file: FileLock | None = None
        self._conn: Connection | None = None
        self._conn_lock = threading.Lock()  # the daemon's jobs check alive() side by side
        self._key = 0
        if store.engine.dialect.name == "postgresql":
            with store.engine.connect() as conn:
                where = conn.execute(text("SELECT current_database(), current_schema()")).one()
            digest = hashlib.sha256(f"syndicate.scheduler:{where[0]}:{where[1]}".encode())
            # A signed 64-bit key, as pg_try_advisory_lock(bigint) takes.
            self._key = int.from_bytes(digest.digest()[:8], "big", signed=True)
        else:
            self._file = FileLock(str(self.path_for(settings)), timeout=0, thread_local=False)

    @staticmethod
    def path_for(settings: Settings) -> Path:
        """The lock file of a SQLite store: ``scheduler.lock_path``, or beside the DB."""
        if settings.scheduler.lock_path is not None:
            return settings.resolve(settings.scheduler.lock_path)
        url = settings.store_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.endswith(":memory:"):
            return Path(url[len(prefix) :] + ".scheduler.lock")
        return settings.resolve(Path("var/scheduler.lock"))

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        if self._file is not None:
            return bool(self._file.is_locked)
        return self._conn is not None

    def acquire(self, now: datetime) -> bool:
        """Take the lock if it is free; True when held. Records this process as holder."""
        if self.held:
            return True
        if self._file is not None:
            try:
                self._file.acquire()
            except Timeout:
                return False
        else:
            conn = self.store.engine.connect()
            try:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
                if not got.scalar():
                    conn.close()
                    return False
                conn.commit()  # end the implicit transaction; the session lock stays
            except SQLAlchemyError as err:
                conn.close()
                raise StoreError(f"cannot take the scheduler lock: {err}") from err
            self._conn = conn
        set_holder(self.store, self.name, now)
        return True

    def alive(self) -> bool:
        """Whether the lock is still held (PostgreSQL: its connection still answers).

        A scheduler whose lock connection died must stop: another instance may already
        hold the lock.
        """
        if self._file is not None:
            return bool(self._file.is_locked)
        with self._conn_lock:
            if self._conn is None:
                return False
            try:
                self._conn.execute(text("SELECT 1"))
                self._conn.commit()
            except SQLAlchemyError:
                return False
            return True

    def holder(self) -> str:
        """Who holds the lock, as its holder recorded it (for a refusal message)."""
        try:
            found = get_holder(self.store)
        except SQLAlchemyError:
            found = None
        if found is None:
            return "another process (it has not said who)"
        name, since = found
        return f"{name} (since {since:%Y-%m-%d %H:%M:%S} UTC)"

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        if not self.held:
            return
        # The row is informational; the lock below is what matters.
        with contextlib.suppress(SQLAlchemyError):
            clear_holder(self.store, self.name)
        if self._file is not None:
            self._file.release()
        elif self._conn is not None:
            with self._conn_lock:
                try:
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
                    self._conn.commit()
                except SQLAlchemyError:
                    pass  # closing the connection drops the lock anyway
                finally:
                    self._conn.close()
                    self._conn = None

    def __enter__(self) -> SchedulerLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
