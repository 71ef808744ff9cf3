"""The daemon's idle tick does no work that grows with the archive (issue 15, item 4).

An idle tick — no source due, no digest slot due, an ``on_new`` channel with nothing
new, nothing to send — runs the same statements whatever the number of stored
articles, and none of them reads a whole table that grows with the archive: each one
is an index search (SQLite's query plan says ``SEARCH``, not ``SCAN``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from syndicate.scheduler.daemon import Daemon
from syndicate.store import Store, open_store
from tests.feeds.fixtures import make_instance, save

FIRST = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)  # after the fixtures' articles were seen
IDLE = FIRST + timedelta(hours=2)  # past on_new's interval; no 07:00 slot in between
GROWING = ("articles", "deliveries", "editions", "feed_item_picks", "related_terms")

CHANNELS = {
    "desk": 'title = "Desk"\nitems = 5\n[digest]\nschedule = "0 7 * * *"\n',
    "flash": 'title = "Flash"\nitems = 5\n[digest]\nschedule = "on_new"\n'
    "min_interval_minutes = 60\n",
}


def idle_tick(tmp_path: Path, articles: int) -> tuple[list[tuple[str, Any]], Store]:
    settings = make_instance(tmp_path / f"i{articles}", CHANNELS)
    store = open_store(settings.store_url)
    save(store, range(1, articles + 1))
    now = [FIRST]
    daemon = Daemon(store, settings, lock=None, clock=lambda: now[0])  # type: ignore[arg-type]
    for job in (daemon._sources, daemon._digests, daemon._dispatch):
        job()  # the first pass: builds, starts the schedules, composes flash's edition
    now[0] = IDLE
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        statements.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        summaries = [daemon._sources(), daemon._digests(), daemon._dispatch()]
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    assert summaries == [{}, {}, {}]  # idle indeed
    return statements, store


def _shape(statement: str) -> str:
    # "IN (?, ?, ...)" lists grow with the edition's size, not the archive's.
    return " ".join(statement.split())


def test_an_idle_tick_runs_the_same_statements_at_any_archive_size(tmp_path: Path) -> None:
    small, small_store = idle_tick(tmp_path, 5)
    large, large_store = idle_tick(tmp_path, 300)
    try:
        assert [_shape(s) for s, _ in large] == [_shape(s) for s, _ in small]
        assert any("editions" in s for s, _ in large)  # flash's on_new check did run
        with large_store.engine.connect() as conn:
            for statement, params in large:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
                steps = [str(row[-1]) for row in plan]
                scans = [
                    step
                    for step in steps
                    if step.startswith("SCAN ") and step.split()[1] in GROWING
                ]
                assert scans == [], (_shape(statement)[:200], steps)
    finally:
        small_store.close()
        large_store.close()


@pytest.mark.parametrize("articles", [300])
def test_an_idle_tick_fetches_no_more_rows_with_a_larger_archive(
    tmp_path: Path, articles: int
) -> None:
    small, small_store = idle_tick(tmp_path, 5)
    large, large_store = idle_tick(tmp_path, articles)
    try:
        assert _rows(small_store, small) == _rows(large_store, large)
    finally:
        small_store.close()
        large_store.close()


def _rows(store: Store, statements: list[tuple[str, Any]]) -> list[int]:
    """How many rows each SELECT of the tick returns, run again as it was."""
    counts = []
    with store.engine.connect() as conn:
        for statement, params in statements:
            if statement.lstrip().upper().startswith("SELECT"):
                counts.append(len(conn.exec_driver_sql(statement, params).all()))
    return counts
