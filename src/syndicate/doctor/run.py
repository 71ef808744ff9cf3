"""One doctor run: every group of checks in a fixed order, each guarded so that a check
that breaks becomes a "could not check" warning instead of ending the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from syndicate.config import Settings
from syndicate.doctor.authentication import dkim_check, dmarc_checks, spf_checks
from syndicate.doctor.edition import edition_checks
from syndicate.doctor.feeds import autodiscovery_check, feed_checks, public_feeds
from syndicate.doctor.fetch import Fetcher
from syndicate.doctor.hosts import bimi_check, mx_check, ptr_check
from syndicate.doctor.resolver import Resolver
from syndicate.doctor.results import CheckResult, Report, unchecked
from syndicate.doctor.unsubscribe import one_click_check
from syndicate.doctor.warmup import warmup_check
from syndicate.errors import SyndicateError
from syndicate.models import utc_now
from syndicate.store import Store

log = logging.getLogger(__name__)

GROUPS = ("dns", "unsubscribe", "feeds", "edition", "warmup")


def base_url(settings: Settings) -> str:
    """Where the web checks fetch: ``[doctor] base_url``, else ``site.base_url``."""
    return settings.doctor.base_url.rstrip("/") or settings.site.base_url


def run_doctor(
    settings: Settings,
    store: Callable[[], Store],
    *,
    groups: tuple[str, ...] = GROUPS,
    now: datetime | None = None,
) -> Report:
    """Run the checks of ``groups`` (in :data:`GROUPS` order) and report every result.

    ``store`` opens the store (the edition and warm-up checks need it). One thing is
    written: the warm-up check switches the ramp on for an instance that has never sent
    (``doctor/warmup.py``); the caller saves the report
    (:func:`~syndicate.doctor.results.save_report`).
    """
    results: list[CheckResult] = []
    ran_at = now or utc_now()
    if "dns" in groups:
        results += _dns(settings)
    site = base_url(settings)
    if "unsubscribe" in groups:
        results += _guarded(
            "unsubscribe.one_click",
            site,
            lambda: [_with_fetcher(settings, lambda f: one_click_check(settings, f, site))],
        )
    if "feeds" in groups:
        results += _guarded("feeds.reachable", site, lambda: _feeds(settings, site))
    if "edition" in groups:
        results += _guarded(
            "edition.compose",
            "store",
            lambda: edition_checks(settings, store(), lambda: _fetcher(settings)),
        )
    if "warmup" in groups:
        results += _guarded(
            "delivery.warmup",
            settings.delivery.sending_domain,
            lambda: [warmup_check(settings, store(), ran_at)],
        )
    return Report(ran_at, tuple(results))


def _dns(settings: Settings) -> list[CheckResult]:
    resolver = Resolver(settings.doctor)
    domain = settings.delivery.sending_domain
    checks: list[tuple[str, Callable[[], list[CheckResult]]]] = [
        ("dns.spf", lambda: spf_checks(settings, resolver)),
        ("dns.dkim", lambda: [dkim_check(settings, resolver)]),
        ("dns.dmarc", lambda: dmarc_checks(settings, resolver)),
        ("dns.mx", lambda: [mx_check(settings, resolver)]),
        ("dns.ptr", lambda: [ptr_check(settings, resolver)]),
        ("dns.bimi", lambda: [bimi_check(settings, resolver)]),
    ]
    return [result for check, run in checks for result in _guarded(check, domain, run)]


def _feeds(settings: Settings, site: str) -> list[CheckResult]:
    feeds = public_feeds(settings, site)
    fetchers = [Fetcher(settings.doctor, agent) for agent in settings.doctor.user_agents]
    try:
        results = [r for feed in feeds for r in feed_checks(settings, feed, fetchers)]
        if fetchers:
            results.append(autodiscovery_check(feeds, fetchers[0], site))
    finally:
        for fetcher in fetchers:
            fetcher.close()
    return results


def _fetcher(settings: Settings) -> Fetcher:
    return Fetcher(settings.doctor, f"{settings.fetch.user_agent} doctor")


def _with_fetcher(settings: Settings, use: Callable[[Fetcher], CheckResult]) -> CheckResult:
    fetcher = _fetcher(settings)
    try:
        return use(fetcher)
    finally:
        fetcher.close()


def _guarded(check: str, target: str, run: Callable[[], list[CheckResult]]) -> list[CheckResult]:
    # A broken check must not hide the others (and "never crashes" is the promise):
    # syndicate's own errors are expected (a store that is down); anything else is a
    # bug worth a traceback in the log, but still a row in the table.
    try:
        return run()
    except SyndicateError as err:
        return [unchecked(check, target, str(err).splitlines()[0])]
    except Exception as err:  # see above
        log.exception("doctor: %s failed", check)
        return [unchecked(check, target, f"{type(err).__name__}: {err}")]
