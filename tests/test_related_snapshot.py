"""The related index snapshot (related/snapshot.py, related/cache.py): a new process
starts from the pool a process saved and catches up from the change log, and gets the
pool and picks a process reading the whole table gets; a snapshot the store does not
vouch for (a store restored from a backup), a damaged file or one of another format is
not used."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, select, update

import syndicate.related.cache as cache
import syndicate.related.snapshot as snapshots
from syndicate.config import Settings
from syndicate.config.related import RelatedSettings
from syndicate.related.cache import forget_stored_indexes, related_index, stored_index
from syndicate.related.pool import Pool
from syndicate.related.sync import sync_terms
from syndicate.store import Store, open_store
from syndicate.store.related_schema import related_terms
from syndicate.store.related_terms import iter_terms
from syndicate.store.schema import articles
from tests.digest.factory import channel, settings
from tests.test_related_index import TOPICS, entry, save, to_orchestra
from tests.test_related_pool import ATTRIBUTES, assert_same


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    forget_stored_indexes()
    yield
    forget_stored_indexes()


@pytest.fixture(autouse=True)
def _no_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row of a test is written within the cache's re-read overlap (two minutes
    behind the newest row seen), which would hide a pool that was not caught up."""
    monkeypatch.setattr(cache, "OVERLAP", timedelta(0))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "snapshots" / "index.npz"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[datetime | None]:
    """The ``since`` of every read of ``related_terms`` (``None``: the whole table)."""
    seen: list[datetime | None] = []

    def spy(store: Store, *, since: datetime | None = None, batch: int = 2000) -> Iterator[Any]:
        seen.append(since)
        return iter_terms(store, since=since, batch=batch)

    monkeypatch.setattr(cache, "iter_terms", spy)
    return seen


def with_related(**values: Any) -> Settings:
    return settings().model_copy(update={"related": RelatedSettings(**values)})


def new_process(store: Store, path: Path | None) -> Pool:
    """The pool a process that never looked at ``store`` before gets."""
    forget_stored_indexes()
    return stored_index(store).refresh(store, path)


def assert_same_pool(got: Pool, whole: Pool) -> None:
    for name in ATTRIBUTES:
        assert_same(getattr(got, name), getattr(whole, name), name)
    assert_same(got.space.idf, whole.space.idf, "idf")
    np.testing.assert_array_equal(got.facts.stamps, whole.facts.stamps)


def test_a_new_process_starts_from_the_snapshot_and_catches_up(
    store: Store, path: Path, reads: list[datetime | None]
) -> None:
    save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(12)))
    new_process(store, path)
    assert path.exists() and reads == [None]  # the first look read the table, then saved
    save(store, entry(40, "harbour", extra=TOPICS["harbour"] * 2))
    save(store, entry(41, "vaccine"))
    to_orchestra(store)  # article 40 edited, its stamps kept

    reads.clear()
    got = new_process(store, path)
    assert None not in reads  # only the rows written since the snapshot were read
    whole = new_process(store, None)
    assert_same_pool(got, whole)


def test_articles_deleted_since_the_snapshot_leave_the_pool(store: Store, path: Path) -> None:
    saved = save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(12)))
    new_process(store, path)
    gone = {saved[3].id, saved[7].id}
    with store.engine.begin() as conn:
        conn.execute(delete(articles).where(articles.c.id.in_(gone)))
    got = new_process(store, path)
    assert not gone & set(got.ids)
    assert sorted(got.ids) == sorted(new_process(store, None).ids)
    story = saved[0]
    forget_stored_indexes()
    stored_index(store).refresh(store, path)
    from_snapshot = related_index(store, settings(), channel()).pick_per_story([story], 4)
    forget_stored_indexes()
    whole = related_index(store, with_related(snapshot=False), channel())
    assert [a.id for a in from_snapshot[story.id]] == [
        a.id for a in whole.pick_per_story([story], 4)[story.id]
    ]


def test_a_store_restored_from_a_backup_does_not_take_a_newer_snapshot(
    tmp_path: Path, path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(12)))
    save(store, entry(40, "harbour", extra=TOPICS["harbour"] * 2))
    new_process(store, path)
    store.close()
    shutil.copy(tmp_path / "store.db", tmp_path / "backup.db")

    store = open_store(url)
    monkeypatch.setattr(cache, "SAVE_AFTER", 0)  # every look saves
    to_orchestra(store)  # after the backup: article 40 becomes an orchestra story
    stored_index(store).refresh(store, path)
    store.close()
    shutil.copy(tmp_path / "backup.db", tmp_path / "store.db")  # restored

    store = open_store(url)
    with caplog.at_level(logging.INFO, logger="syndicate.related.cache"):
        got = new_process(store, path)
    assert_same_pool(got, new_process(store, None))
    assert "not this store's" in caplog.text
    store.close()


def test_a_damaged_snapshot_or_one_of_another_format_is_not_used(
    store: Store,
    path: Path,
    reads: list[datetime | None],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(6)))
    new_process(store, path)
    whole = new_process(store, None)
    good = path.read_bytes()
    for damaged in (good[: len(good) // 2], b"not a snapshot", good[:-200] + bytes(200)):
        path.write_bytes(damaged)
        reads.clear()
        with caplog.at_level(logging.INFO, logger="syndicate.related.snapshot"):
            assert_same_pool(new_process(store, path), whole)
        assert reads[0] is None  # the whole table, as without a snapshot
        assert "ignored" in caplog.text
        caplog.clear()
    # The process that read the whole table saved a good one again; a file of
    # another format (an older or newer syndicate's) is not used either.
    assert snapshots.load(path) is not None
    monkeypatch.setattr(snapshots, "FORMAT", snapshots.FORMAT + 1)
    reads.clear()
    with caplog.at_level(logging.INFO, logger="syndicate.related.snapshot"):
        assert_same_pool(new_process(store, path), whole)
    assert reads[0] is None and "ignored: format" in caplog.text


def test_the_snapshot_is_saved_again_once_the_log_moved_far_enough(
    store: Store, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "SAVE_AFTER", 3)
    # The change count alone (the overlap's rule has a test of its own below).
    monkeypatch.setattr(cache.StoredIndex, "_overlap_would_shrink", lambda self: False)
    save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(6)))
    new_process(store, path)
    first = snapshots.load(path)
    assert first is not None
    index = stored_index(store)
    save(store, entry(20, "harbour"), entry(21, "vaccine"))  # two changes: not yet
    index.refresh(store, path)
    again = snapshots.load(path)
    assert again is not None and again.token == first.token
    save(store, entry(22, "orchestra"))  # the third
    index.refresh(store, path)
    later = snapshots.load(path)
    assert later is not None and later.token != first.token
    assert later.synced >= first.synced + 3 and len(later.facts.ids) == 9


def test_no_snapshot_when_turned_off(store: Store, tmp_path: Path) -> None:
    saved = save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(6)))
    folder = tmp_path / "off"
    off = with_related(snapshot=False, snapshot_dir=folder)
    related_index(store, off, channel()).pick_per_story([saved[0]], 3)
    assert not folder.exists()
    on = with_related(snapshot_dir=folder)
    forget_stored_indexes()
    related_index(store, on, channel()).pick_per_story([saved[0]], 3)
    assert len(list(folder.glob("*.npz"))) == 1


def test_a_save_removes_what_a_killed_save_left(store: Store, path: Path) -> None:
    save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(4)))
    path.parent.mkdir(parents=True)
    old = path.parent / ".snapshot-killed.tmp"
    young = path.parent / ".snapshot-saving.tmp"
    for tmp in (old, young):
        tmp.write_bytes(b"partial")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    new_process(store, path)
    assert path.exists() and young.exists() and not old.exists()


def test_a_snapshot_whose_newest_rows_are_a_bulk_index_is_saved_again_once_past_it(
    store: Store, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk index (an import, ``related reindex``) that is the newest thing in the
    snapshot puts every row within the overlap behind its watermark: the next process
    saves again once a new row moved the watermark past them, so the one after reads
    the stamps of the new rows only, not of the whole bulk."""
    monkeypatch.setattr(cache, "OVERLAP", timedelta(minutes=2))
    monkeypatch.setattr(cache, "SAVE_AFTER", 5)
    save(store, *(entry(n, list(TOPICS)[n % 3]) for n in range(12)))
    sync_terms(store)
    with store.engine.begin() as conn:  # indexed in bulk ten minutes ago
        t = related_terms.c
        for id, at in conn.execute(select(t.id, t.indexed_at)).all():
            earlier = at.replace(tzinfo=UTC) - timedelta(minutes=10)
            conn.execute(update(related_terms).where(t.id == id).values(indexed_at=earlier))
    new_process(store, path)
    first = snapshots.load(path)
    assert first is not None and len(first.facts.ids) == 12
    stamps: list[int] = []
    read = cache.terms_stamps

    def spy(store: Store, since: datetime) -> Any:
        found = read(store, since)
        stamps.append(len(found))
        return found

    monkeypatch.setattr(cache, "terms_stamps", spy)
    save(store, entry(40, "harbour"))
    new_process(store, path)
    assert stamps == [13]  # the whole bulk is within the overlap of the first watermark
    again = snapshots.load(path)
    assert again is not None and again.token != first.token  # saved again
    save(store, entry(41, "vaccine"))
    whole = new_process(store, None)
    stamps.clear()
    assert_same_pool(new_process(store, path), whole)
    assert stamps == [2]  # the two new rows only
