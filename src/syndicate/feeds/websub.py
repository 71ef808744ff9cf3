"""WebSub publish pings after a build, retried on the next build when a hub fails (WS-2).

Pending pings live in ``<output>/.syndicate/websub.json`` (never served: the server
only serves ``feeds/``). A ping is sent once per (hub, feed URL) per build, however many
times the feed was pending; a failure is logged, kept, and never fails the build.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

from syndicate.config import FetchSettings
from syndicate.feeds.writer import Writer, json_bytes, read_json

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, order=True)
class Ping:
    """One publish notification: tell ``hub`` that the feed at ``url`` changed."""

    hub: str
    url: str


@dataclass
class PingReport:
    """Pings the hubs accepted, and those that failed (kept for the next build)."""

    sent: list[Ping] = field(default_factory=list)
    failed: list[tuple[Ping, str]] = field(default_factory=list)


def publish(
    state_file: Path, new: Sequence[Ping], configured: Collection[Ping], fetch: FetchSettings
) -> PingReport:
    """Send ``new`` pings plus those pending from earlier builds; keep the failures.

    One POST per (hub, feed URL), form-encoded ``hub.mode=publish&hub.url=<feed URL>``
    (WS-2); any 2xx answer is success. Hub URLs come from the operator's channel files,
    so they do not go through the private-address guard of source fetching (SE-5
    guards URLs that come from content): a hub on 127.0.0.1 is allowed on purpose.
    A pending ping whose hub or feed is no longer configured is dropped.
    """
    stored = read_json(state_file).get("pending", [])
    pending = [Ping(str(p["hub"]), str(p["url"])) for p in stored if isinstance(p, dict)]
    queue = [p for p in dict.fromkeys([*pending, *new]) if p in configured]
    report = PingReport()
    if queue:
        with requests.Session() as session:
            session.trust_env = False  # no proxies or netrc from the environment
            for ping in queue:
                error = _post(session, ping, fetch)
                if error is None:
                    report.sent.append(ping)
                    log.info("WebSub: told %s that %s changed", ping.hub, ping.url)
                else:
                    report.failed.append((ping, error))
                    log.warning(
                        "WebSub: ping to %s for %s failed (%s); retrying on the next build",
                        ping.hub,
                        ping.url,
                        error,
                    )
    remaining = [{"hub": p.hub, "url": p.url, "error": e} for p, e in sorted(report.failed)]
    writer = Writer(state_file.parent)
    writer.write(state_file.name, json_bytes({"pending": remaining}), gz=False)
    writer.sync()
    return report


def _post(session: requests.Session, ping: Ping, fetch: FetchSettings) -> str | None:
    """POST one ping; None on success, else a short reason."""
    body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": ping.url})
    try:
        response = session.post(
            ping.hub,
            data=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": fetch.user_agent,
            },
            timeout=(fetch.connect_timeout, fetch.read_timeout),
            allow_redirects=False,
        )
    except requests.RequestException as err:
        return f"{type(err).__name__}: {err}"[:300]
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"
