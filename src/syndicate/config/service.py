"""The ``[scheduler]`` and ``[subscribe]`` sections: the daemon and the public forms."""

from __future__ import annotations

from pathlib import Path

from pydantic import (
    Field,
)

from syndicate.config.base import Section


class SchedulerSettings(Section):
    """The daemon (``syndicate run``): how often it looks, and how it stops."""

    tick_seconds: float = Field(
        30.0, gt=0, le=3600, description="How often due digests, sources and sends are checked."
    )
    poll_jitter: float = Field(
        0.1, ge=0, le=1, description="Random extra wait on each source's poll (fraction)."
    )
    shutdown_seconds: float = Field(
        60.0, gt=0, description="On SIGTERM, longest wait for the work in flight to finish."
    )
    lock_path: Path | None = Field(
        None, description="Scheduler lock file for SQLite stores; default: beside the DB."
    )


class SubscribeSettings(Section):
    """The subscriber pages: limits against list bombing (SE-6) and form lifetimes.

    The counters live in the memory of the one ``syndicate serve`` process.
    """

    per_client: int = Field(
        10, ge=1, description="Subscribe requests one client address may make per window."
    )
    per_client_window: float = Field(
        3600.0, gt=0, description="Seconds over which per_client is counted."
    )
    per_email: int = Field(
        3, ge=1, description="Confirmation requests for one email address per window."
    )
    per_email_window: float = Field(
        86400.0, gt=0, description="Seconds over which per_email is counted."
    )
    form_max_age: float = Field(
        7200.0, gt=0, description="Seconds a form's CSRF token stays valid."
    )
    sunset_soft_bounce_days: int = Field(
        0,
        ge=0,
        description="Suppress addresses that soft-bounced on every attempt for this many days"
        " (0: off).",
    )
    sunset_unconfirmed_days: int = Field(
        0,
        ge=0,
        description="Delete sign-ups and imports still unconfirmed after this many days (0: off).",
    )
    min_submit_seconds: float = Field(
        2.0, ge=0, description="A form sent back sooner after it was served is refused."
    )
    per_network: int = Field(
        20, ge=1, description="Confirmation mails per /24 (IPv4) or /56 (IPv6) per window."
    )
    per_network_window: float = Field(
        3600.0, gt=0, description="Seconds over which per_network is counted."
    )
    per_domain: int = Field(
        100, ge=1, description="Confirmation mails to one recipient domain per window."
    )
    per_domain_window: float = Field(
        3600.0, gt=0, description="Seconds over which per_domain is counted."
    )
    resolver: str = Field(
        "", description="DNS server (host or host:port) for the MX check; empty: no check."
    )
    resolver_timeout: float = Field(2.0, gt=0, description="Seconds to wait for the resolver.")
    refuse_disposable: bool = Field(
        False, description="Refuse addresses at the shipped throwaway-mailbox domains."
    )
    disposable_domains_file: Path | None = Field(
        None, description="More throwaway domains, one a line (with refuse_disposable)."
    )
