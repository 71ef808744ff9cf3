"""What a command that failed outside our error tree tells the operator: one line and an
exit status, never a traceback (exit codes as in :mod:`syndicate.cli`).

A locked or read-only database surfaces as a SQLAlchemy error from wherever the store
was written; an output folder that cannot be written, as an ``OSError`` from wherever
a file was. Both are the operator's to fix, so they get a line naming what failed.
"""

from __future__ import annotations

STORE_EXIT = 3
OUTPUT_EXIT = 1


def first_line(text: str) -> str:
    """The first line of an error message (SQLAlchemy appends the SQL and a link)."""
    return text.strip().splitlines()[0] if text.strip() else text


def describe(err: BaseException) -> tuple[str, int] | None:
    """``(message, exit status)`` for a store or file-system failure; ``None`` otherwise."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError  # loaded on failure only

    if isinstance(err, DBAPIError):
        return f"store: {first_line(str(err.orig))}{_hint(str(err.orig))}", STORE_EXIT
    if isinstance(err, SQLAlchemyError):
        return f"store: {first_line(str(err))}", STORE_EXIT
    if isinstance(err, OSError):
        if err.filename is not None:
            return f"{err.filename}: {err.strerror}", OUTPUT_EXIT
        return first_line(str(err)) or type(err).__name__, OUTPUT_EXIT
    return None


def _hint(reason: str) -> str:
    if "locked" in reason:
        return " (another process holds it longer than [store] busy_timeout; try again)"
    if "readonly" in reason or "read-only" in reason:
        return " (the store is read-only for this user; writing commands need write access)"
    return ""
