"""What a doctor run found: one :class:`CheckResult` per check and target, the
:class:`Report` of a run, its stable JSON shape, and the state file ``/metrics`` reads.

The JSON shape (``docs/deliverability.md``) is versioned and printed with sorted keys::

    {"version": 1, "ran_at": "<ISO 8601 UTC>", "status": "pass|warn|fail",
     "counts": {"pass": n, "warn": n, "fail": n},
     "checks": [{"check": "dns.spf", "group": "dns", "target": "example.org",
                 "status": "pass", "summary": "...", "fix": "..."}, ...]}

``checks`` keeps the order the checks ran in, which is fixed.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

Status = Literal["pass", "warn", "fail"]
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail")
JSON_VERSION = 1
# The value each status has as a /metrics gauge (docs/monitoring.md).
STATUS_VALUES: dict[Status, int] = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check of one target: ``check`` is a stable id (``dns.spf``), ``target`` what
    was looked at (a domain, a URL, a channel), ``fix`` what to do (empty on a pass)."""

    check: str
    target: str
    status: Status
    summary: str
    fix: str = ""

    @property
    def group(self) -> str:
        """The group of checks: the id's first part (``dns``, ``unsubscribe``, ...)."""
        return self.check.partition(".")[0]


def passed(check: str, target: str, summary: str) -> CheckResult:
    """A passing result."""
    return CheckResult(check, target, "pass", summary)


def warned(check: str, target: str, summary: str, fix: str) -> CheckResult:
    """A warning: works, but should change (or could not be checked)."""
    return CheckResult(check, target, "warn", summary, fix)


def failed(check: str, target: str, summary: str, fix: str) -> CheckResult:
    """A failure: mail or feeds are refused or lost until it is fixed."""
    return CheckResult(check, target, "fail", summary, fix)


def unchecked(check: str, target: str, why: str, fix: str = "") -> CheckResult:
    """A check that could not reach what it looks at: a warning that says so."""
    return CheckResult(
        check, target, "warn", f"could not check: {why}", fix or "Run doctor where it can reach it."
    )


@dataclass(frozen=True, slots=True)
class Report:
    """Every result of one run, in the order the checks ran."""

    ran_at: datetime
    results: tuple[CheckResult, ...]

    @property
    def status(self) -> Status:
        """The worst status of any result (``pass`` for none)."""
        worst = max((STATUS_VALUES[r.status] for r in self.results), default=0)
        return STATUSES[worst]

    def counts(self) -> dict[Status, int]:
        """How many results have each status (every status listed)."""
        return {s: sum(1 for r in self.results if r.status == s) for s in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape (see the module docstring)."""
        return {
            "version": JSON_VERSION,
            "ran_at": self.ran_at.isoformat(),
            "status": self.status,
            "counts": dict(self.counts()),
            "checks": [{**asdict(r), "group": r.group} for r in self.results],
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON with sorted keys (stable for scripts and diffs)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """A report read back from :meth:`to_dict`'s shape; ValueError if it is not one."""
        if data.get("version") != JSON_VERSION:
            raise ValueError(f"not a doctor report of version {JSON_VERSION}")
        results = tuple(
            CheckResult(c["check"], c["target"], c["status"], c["summary"], c.get("fix", ""))
            for c in data["checks"]
            if c.get("status") in STATUSES
        )
        return cls(datetime.fromisoformat(data["ran_at"]), results)


def save_report(report: Report, path: Path) -> None:
    """Write ``report`` to ``path`` atomically (a scrape never reads half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".doctor-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(report.to_json())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_report(path: Path) -> Report | None:
    """The last saved report, or ``None`` when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Report.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
