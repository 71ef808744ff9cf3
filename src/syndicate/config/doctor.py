"""The ``[doctor]`` section: where ``syndicate doctor`` looks and how long it waits.

Every remote endpoint the checks talk to is a setting (the resolver, the public base
URL), so the checks can be pointed at a staging site or, in tests, at servers on
127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from syndicate.config.base import Section

# What common feed readers send as User-Agent (their published strings, versions fixed).
READER_AGENTS: tuple[str, ...] = (
    "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 1 subscribers; like FeedFetcher-Google)",
    "Mozilla/5.0 (compatible) Inoreader/1.0 (+http://www.inoreader.com/feed-fetcher; "
    "1 subscribers; )",
    "NetNewsWire (RSS Reader; https://netnewswire.com/)",
    "Miniflux/2.1.0 (https://miniflux.app)",
    "newsboat/2.36.0 (Linux x86_64)",
)


class DoctorSettings(Section):
    """``syndicate doctor``: the resolver, the endpoints, and the bounds of each check."""

    resolver: tuple[str, ...] = Field(
        (),
        description="DNS servers (IP addresses) the DNS checks ask; empty: the system's.",
    )
    resolver_port: int = Field(53, ge=1, le=65535, description="Port of the DNS servers.")
    dns_timeout: float = Field(5.0, gt=0, description="Seconds for one DNS question.")
    base_url: str = Field(
        "", description="Public base URL the web checks fetch; empty: site.base_url."
    )
    http_timeout: float = Field(10.0, gt=0, description="Seconds for one HTTP request.")
    max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed per request.")
    max_links: int = Field(
        200, ge=0, description="Links of the next edition checked at most (0: none)."
    )
    links_deadline: float = Field(
        120.0, gt=0, description="Seconds for the whole link check of one edition."
    )
    html_margin_bytes: int = Field(
        92_160,
        gt=0,
        description="Largest edition HTML that passes (90 KB, a margin under Gmail's clip).",
    )
    provider_include: str = Field(
        "",
        description="SPF include the provider needs; empty: the backend's known one.",
    )
    bounce_domain: str = Field(
        "", description="Return-Path domain that needs MX; empty: from_email's domain."
    )
    smtp_address: str = Field(
        "",
        description="Public IP the SMTP backend sends from (for PTR); empty: its host's.",
    )
    user_agents: tuple[str, ...] = Field(
        READER_AGENTS, description="User-Agents the feed check fetches with."
    )
    state_file: Path = Field(
        Path("var/doctor.json"),
        description="Where the last run's results are kept for /metrics.",
    )
