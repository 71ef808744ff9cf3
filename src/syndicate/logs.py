"""Log set-up for every command: readable lines by default, JSON lines on request.

JSON lines carry ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and every
``extra={...}`` field a caller attached — the daemon's one summary line per job run
carries ``job``, ``seconds`` and its counts this way, for log pipelines to aggregate.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from rich.console import Console
from rich.logging import RichHandler

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


def configure(level: int, fmt: LogFormat, console: Console, *, show_path: bool = False) -> None:
    """Route all logging to stderr at ``level``, as readable lines or JSON lines."""
    handler: logging.Handler
    if fmt == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    else:
        handler = RichHandler(console=console, show_path=show_path, show_time=True)
        handler.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # APScheduler warns on every tick that finds a job still running ("maximum number of
    # running instances reached") — expected while a long send is in progress; the
    # daemon's own summary lines say what ran.
    logging.getLogger("apscheduler").setLevel(
        logging.DEBUG if level <= logging.DEBUG else logging.ERROR
    )
