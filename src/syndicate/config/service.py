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
