"""Shared fixtures: a store on SQLite and (when configured) PostgreSQL, the example instance."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from syndicate.config import Settings, load_settings
from syndicate.store import Store, open_store

REPO = Path(__file__).resolve().parent.parent
POSTGRES_ENV = "SYNDICATE_TEST_POSTGRES_URL"


def _postgres_url(schema: str) -> str:
    base = os.environ[POSTGRES_ENV]
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty store: SQLite in tmp_path, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set (the PostgreSQL store is tested in CI)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(os.environ[POSTGRES_ENV])
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An opened, migrated store on each backend."""
    opened = open_store(store_url)
    yield opened
    opened.close()


def copy_instance(target: Path, store_url: str | None = None) -> Path:
    """Copy the example instance (config, channels, content) to ``target``; with
    ``store_url``, its ``[store] url`` points there instead of ``var/syndicate.db``."""
    target.mkdir(parents=True)
    config = (REPO / "syndicate.toml").read_text(encoding="utf-8")
    if store_url is not None:
        default = 'url = "sqlite:///var/syndicate.db"'
        assert default in config
        config = config.replace(default, f"url = {json.dumps(store_url)}")
    (target / "syndicate.toml").write_text(config, encoding="utf-8")
    (target / "var").mkdir()  # the store's folder, as a checkout that has run once has it
    shutil.copytree(REPO / "feeds", target / "feeds")
    shutil.copytree(REPO / "content", target / "content")
    return target


@pytest.fixture
def instance(tmp_path: Path, store_url: str) -> Path:
    """A copy of the example instance in tmp_path, on each store: SQLite in its own
    ``var/syndicate.db`` as shipped, and PostgreSQL in a fresh schema."""
    on_sqlite = store_url.startswith("sqlite")
    return copy_instance(tmp_path / "instance", None if on_sqlite else store_url)


@pytest.fixture
def config_instance(tmp_path: Path) -> Path:
    """A copy of the example instance as shipped, for tests of configuration only."""
    return copy_instance(tmp_path / "instance")


@pytest.fixture
def instance_settings(instance: Path) -> Settings:
    """Settings of the copied example instance."""
    return load_settings(instance / "syndicate.toml")


@pytest.fixture(autouse=True)
def _related_snapshots_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The related index snapshot (``[related] snapshot_dir``, relative to a config
    file's folder: the working directory for settings made in a test) goes to the
    test's own folder, not the checkout's ``var/``."""
    monkeypatch.setenv("SYNDICATE_RELATED__SNAPSHOT_DIR", str(tmp_path / "related-snapshots"))


@pytest.fixture(autouse=True)
def _forms_may_come_back_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test clients post a form the moment they fetched it; only the sign-up abuse
    tests (tests/test_signup_abuse.py) keep the minimum time-to-submit."""
    monkeypatch.setenv("SYNDICATE_SUBSCRIBE__MIN_SUBMIT_SECONDS", "0")
