"""What a failing command tells the operator: one line and an exit status, never a
traceback (exit codes as in :mod:`syndicate.cli`); and when a send sent nothing.

A locked or read-only database surfaces as a SQLAlchemy error from wherever the store
was written; an output folder that cannot be written, as an ``OSError`` from wherever
a file was. Both are the operator's to fix, so they get a line naming what failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from syndicate.delivery import DispatchReport

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


def nothing_sent(report: DispatchReport) -> bool:
    """True when there was mail to send and none of it went out (all deferred or
    failed): cron must hear about it. Suppressed rows alone are not a failure."""
    counts = report.counts
    return not counts["sent"] and bool(counts["deferred"] + counts["failed"])


def say_nothing_sent(report: DispatchReport) -> None:
    """One line on standard error: how many were deferred or failed, and why."""
    counts = report.counts
    why = (report.last_error or "").strip().splitlines() or ["no reason given"]
    click.secho("error: ", fg="red", err=True, nl=False)
    click.echo(
        f"nothing was sent: {counts['deferred']} deferred (retried later), "
        f"{counts['failed']} failed; last error: {why[0]}",
        err=True,
    )
