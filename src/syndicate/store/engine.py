"""Opening a database and bringing its schema up to date."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from syndicate.config import split_sqlite_url
from syndicate.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(
    url: str, *, create: bool = False, busy_timeout: float = 30.0, **kwargs: Any
) -> Engine:
    """An engine for ``url``. SQLite gets WAL, foreign keys, full sync and a busy timeout.

    A SQLite file whose folder does not exist is a :class:`StoreError` naming the folder
    (a mistyped path must not become a new, empty store), unless ``create``.
    ``busy_timeout`` is how many seconds a SQLite write waits for another writer's lock.
    """
    _check_folder(url, create)
    try:
        engine = create_engine(url, **kwargs)
    except (SQLAlchemyError, ImportError) as err:
        raise StoreError(f"cannot open store {_redact(url)}: {err}") from err
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", partial(_sqlite_pragmas, int(busy_timeout * 1000)))
    return engine


def _check_folder(url: str, create: bool) -> None:
    parts = split_sqlite_url(url)
    if parts is None:
        return
    folder = parts[1].parent
    if folder.is_dir():
        return
    if not create:
        raise StoreError(
            f"the store's folder {folder} does not exist (store url {_redact(url)}); "
            "fix [store] url, or start a new store there with 'syndicate db upgrade' "
            "or 'syndicate ingest --create'"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot create the store's folder {folder}: {err.strerror}") from err


def _sqlite_pragmas(busy_ms: int, dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers (the web app) run beside one writer; FULL sync because the outbox
    # must survive a power cut once a row is committed (STANDARDS C2).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={busy_ms}")
    cur.close()


def _redact(url: str) -> str:
    head, sep, tail = url.partition("@")
    if not sep:
        return url
    scheme, _, _creds = head.partition("://")
    return f"{scheme}://***@{tail}"


def _alembic_config() -> AlembicConfig:
    # Alembic is imported on use: most commands only check the revision once.
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this version."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or ``None`` for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` in one transaction."""
    from alembic import command

    cfg = _alembic_config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except SQLAlchemyError as err:
        raise StoreError(f"migrating {_redact(str(engine.url))} failed: {err}") from err
