"""The file backend: atomic, idempotent ``.eml`` files under the outbox folder."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from syndicate.config import Settings
from syndicate.delivery.file import FileBackend, FileOptions, write_atomically
from syndicate.delivery.registry import make_backend
from syndicate.errors import BackendConfigError
from tests.providers.messages import make_message, make_messages


def test_writes_raw_bytes_per_edition_and_delivery(tmp_path: Path) -> None:
    messages = make_messages(3)
    results = FileBackend(FileOptions(dir=tmp_path)).deliver(messages)

    for message, result in zip(messages, results, strict=True):
        path = tmp_path / "7" / f"{message.delivery_id}.eml"
        assert result.status == "sent"
        assert result.provider_message_id == str(path)
        assert path.read_bytes() == message.raw  # byte for byte, CRLF and all
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # personal links inside
    assert sorted(p.name for p in (tmp_path / "7").iterdir()) == ["1.eml", "2.eml", "3.eml"]


def test_writing_a_delivery_again_replaces_its_file(tmp_path: Path) -> None:
    backend = FileBackend(FileOptions(dir=tmp_path))
    backend.deliver([make_message(1)])
    again = make_message(1, raw=b"Subject: second attempt\r\n\r\nbody\r\n")
    result = backend.deliver([again])[0]

    assert result.status == "sent"
    assert [p.name for p in (tmp_path / "7").iterdir()] == ["1.eml"]  # no temp files left
    assert (tmp_path / "7" / "1.eml").read_bytes() == again.raw


def test_a_failed_write_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "1.eml"
    target.write_bytes(b"old")

    def crash(src: str, dst: str) -> None:
        raise OSError(errno.EIO, "simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_atomically(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["1.eml"]


def test_full_disk_defers_the_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    results = FileBackend(FileOptions(dir=tmp_path)).deliver(make_messages(2))
    assert [(r.status, r.retryable) for r in results] == [("deferred", True)] * 2
    assert "No space left" in (results[0].error or "")


def test_an_unusable_folder_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "outbox").write_text("a file where the folder should be")
    with pytest.raises(BackendConfigError, match="cannot write"):
        FileBackend(FileOptions(dir=tmp_path / "outbox")).deliver([make_message()])


def test_default_folder_is_the_outbox_dir_of_the_instance(tmp_path: Path) -> None:
    settings = Settings(base_dir=tmp_path)
    backend = make_backend(settings)
    assert isinstance(backend, FileBackend)
    assert backend.directory == tmp_path / "var" / "outbox"
    backend.deliver([make_message()])
    assert (tmp_path / "var" / "outbox" / "7" / "1.eml").is_file()


def test_dir_option_is_relative_to_the_config_folder(tmp_path: Path) -> None:
    settings = Settings(base_dir=tmp_path, delivery={"backend": "file", "file": {"dir": "mail"}})
    backend = make_backend(settings)
    assert isinstance(backend, FileBackend)
    assert backend.directory == tmp_path / "mail"
