"""``syndicate doctor``: is this instance fit to send and to be read?

Takes the settings (and the store, for the next edition); gives a
:class:`~syndicate.doctor.results.Report` of checks, each pass / warn / fail with the fix
spelled out. One module per group of checks:

* :mod:`.authentication` — SPF (with :mod:`.spf`), DKIM and DMARC of the sending domain;
* :mod:`.hosts` — MX of the bounce domain, PTR of a server sending directly, BIMI;
* :mod:`.unsubscribe` — the live RFC 8058 one-click POST;
* :mod:`.feeds` — feeds fetched as feed readers do, self links, autodiscovery;
* :mod:`.edition` — the next edition's links, size and images.

:mod:`.resolver` and :mod:`.fetch` ask DNS and HTTP within the configured bounds,
:mod:`.run` runs the groups, and :mod:`.results` holds the results, their JSON and the
state file ``/metrics`` reads. See ``docs/deliverability.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from syndicate.plugins import lazy_exports

if TYPE_CHECKING:
    from syndicate.doctor.results import CheckResult, Report, load_report, save_report
    from syndicate.doctor.run import GROUPS, run_doctor

# Each name is imported on first use (see syndicate.plugins.lazy_exports).
__getattr__ = lazy_exports(
    __name__,
    {
        "CheckResult": "results",
        "Report": "results",
        "load_report": "results",
        "save_report": "results",
        "GROUPS": "run",
        "run_doctor": "run",
    },
)

__all__ = ["GROUPS", "CheckResult", "Report", "load_report", "run_doctor", "save_report"]
