"""Alembic environment: runs on the connection that :func:`syndicate.store.migrate` passes."""

from __future__ import annotations

from alembic import context

from syndicate.store import (  # noqa: F401  (register tables)
    changes_schema,
    consent_schema,
    console_schema,
    deliverability_schema,
    delivery_schema,
    embedding_schema,
    feedpicks_schema,
    fragments_schema,
    related_schema,
    schedule_schema,
    signup_schema,
    webhook_schema,
    welcome_schema,
)
from syndicate.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the alembic CLI gets here
    raise RuntimeError("run migrations with 'syndicate db upgrade'")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
