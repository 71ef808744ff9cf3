"""The store: SQLAlchemy 2 schema, Alembic migrations and task-shaped queries.

SQLite (WAL) by default, PostgreSQL by URL. The pipeline talks to :class:`Store` only
through methods named after what it needs, never through a generic session.
"""

from syndicate.store.core import SaveCounts, Store, open_store
from syndicate.store.engine import current_revision, head_revision, make_engine, migrate

__all__ = [
    "SaveCounts",
    "Store",
    "current_revision",
    "head_revision",
    "make_engine",
    "migrate",
    "open_store",
]
