"""The progress bar every long command draws: on standard error, only on a terminal,
gone when done (standard output stays the command's own output)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress


def progress_bar(label: str, *, described: bool = False, shown: bool = True) -> Progress:
    """A bar titled ``label``: done/total, elapsed time, and with ``described`` the
    task's description (e.g. the source or channel at hand). Hidden when ``shown`` is
    false or standard error is not a terminal."""
    from rich.progress import (  # rich loads on use: `--help` stays fast
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    from syndicate.cli.app import err_console

    columns: list[ProgressColumn] = [TextColumn(f"[bold]{label}"), BarColumn()]
    columns.append(MofNCompleteColumn())
    if described:
        columns.append(TextColumn("{task.description}"))
    columns.append(TimeElapsedColumn())
    return Progress(
        *columns,
        console=err_console,
        transient=True,
        disable=not shown or not err_console.is_terminal,
    )
