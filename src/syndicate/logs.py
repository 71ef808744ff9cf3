"""Log set-up for every command: readable lines by default, JSON lines on request.

Readable lines on a terminal are rich's (coloured, wrapped to the width, local time).
Off a terminal — cron mail, ``journalctl``, a log file — each record is one plain line
that is never wrapped, stamped in UTC: ``2026-12-05T04:30:46Z WARNING syndicate.x: …``.

JSON lines carry ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and every
``extra={...}`` field a caller attached — the daemon's one summary line per job run
carries ``job``, ``seconds`` and its counts this way, for log pipelines to aggregate.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rich.console import Console

LogFormat = Literal["text", "json"]

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_NOISY = ("alembic", "urllib3", "trafilatura", "htmldate", "charset_normalizer")


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """One line per record, ISO 8601 UTC time first, for logs read off a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time in UTC, to the second: ``2026-12-05T04:30:46Z``."""
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))


def configure(
    level: int, fmt: LogFormat, console: Console | None = None, *, show_path: bool = False
) -> None:
    """Route all logging to stderr at ``level``: JSON lines, rich lines on a terminal
    (on ``console`` when given), or plain one-line records otherwise."""
    handler: logging.Handler
    if fmt == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    elif _is_terminal(console):
        from rich.console import Console
        from rich.logging import RichHandler

        target = console or Console(stderr=True, soft_wrap=True)
        handler = RichHandler(console=target, show_path=show_path, show_time=True)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(PlainFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # APScheduler warns on every tick that finds a job still running ("maximum number of
    # running instances reached") — expected while a long send is in progress; the
    # daemon's own summary lines say what ran.
    logging.getLogger("apscheduler").setLevel(
        logging.DEBUG if level <= logging.DEBUG else logging.ERROR
    )


def _is_terminal(console: Console | None) -> bool:
    if console is not None:
        return console.is_terminal
    stream = sys.stderr
    return stream is not None and stream.isatty()
