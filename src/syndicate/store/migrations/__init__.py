"""Alembic migrations of the store (run by :func:`syndicate.store.migrate`)."""
