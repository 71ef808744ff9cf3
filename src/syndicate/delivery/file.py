"""The ``file`` backend, the embedded default: each message becomes an ``.eml`` file.

``<dir>/<edition_id>/<delivery_id>.eml`` holds the message's ``raw`` bytes exactly. Each
file is written whole or not at all, the way Postfix's cleanup writes a queue file
(STANDARDS C2): a temporary file in the same folder, fsync, rename over the final name,
then fsync of the folder so the rename itself survives a crash. A delivery written twice
lands on the same path, so a retry after a crash replaces the file instead of adding a
second copy.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from syndicate.delivery.base import Backend, BackendOptions
from syndicate.errors import BackendConfigError, TransportError
from syndicate.models import DeliveryResult, OutboundMessage

# A full disk or quota may clear up: retry later. Anything else about the folder (no
# permission, read-only file system, a file where the folder should be) needs a person.
_TRANSIENT = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EINTR})


class FileOptions(BackendOptions):
    """``[delivery.file]``."""

    dir: Path | None = Field(
        None, description="Outbox folder; default [delivery] outbox_dir, relative to the config."
    )


class FileBackend(Backend):
    """Writes each message atomically to ``<dir>/<edition_id>/<delivery_id>.eml``.

    Every message of a batch is ``sent`` with the file's path as provider message id.
    A folder or disk problem raises: :class:`TransportError` for a full disk (retry
    later), :class:`BackendConfigError` otherwise. Rewriting is harmless, so a batch
    that raises part-way can be retried whole.
    """

    name: ClassVar[str] = "file"
    Options: ClassVar[type[BackendOptions]] = FileOptions
    options: FileOptions
    max_batch: ClassVar[int] = 100

    def __init__(self, options: BackendOptions) -> None:
        if not isinstance(options, FileOptions):
            raise TypeError("FileBackend takes FileOptions")
        super().__init__(options)
        self.directory = options.dir or Path("var/outbox")

    @classmethod
    def from_settings(cls, options: BackendOptions, settings: Any) -> Backend:
        """Resolve ``dir`` (default ``[delivery] outbox_dir``) against the config folder."""
        if not isinstance(options, FileOptions):
            raise TypeError("FileBackend takes FileOptions")
        folder = settings.resolve(options.dir or settings.delivery.outbox_dir)
        return cls(options.model_copy(update={"dir": folder}))

    def path_for(self, message: OutboundMessage) -> Path:
        """Where ``message`` is written."""
        return self.directory / str(message.edition_id) / f"{message.delivery_id}.eml"

    def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryResult]:
        """Write each message; the folders are synced before any result says ``sent``."""
        results: list[DeliveryResult] = []
        folders: set[Path] = set()
        try:
            for message in messages:
                path = self.path_for(message)
                if path.parent not in folders:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    folders.add(path.parent)
                write_atomically(path, message.raw)
                results.append(
                    DeliveryResult(message.delivery_id, "sent", provider_message_id=str(path))
                )
            for folder in folders:
                _fsync_dir(folder)
        except OSError as err:
            text = f"file: cannot write under {self.directory}: {err}"
            if err.errno in _TRANSIENT:
                raise TransportError(text, backend=self.name) from err
            raise BackendConfigError(text, backend=self.name) from err
        return results


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file in the same folder, fsync, rename.

    A reader (or a crash) sees the old file or the new one, never a part. The file is
    private (0600, as mkstemp makes it): messages carry personal unsubscribe links.
    Raises OSError; the temporary file is removed on failure.
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
