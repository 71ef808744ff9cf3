"""The ``[delivery]``, ``[dispatch]`` and ``[celery]`` sections: how mail leaves."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
    SecretStr,
)

from syndicate.config.base import Section
from syndicate.config.guards import BreakerSettings, WarmupSettings


class DeliverySettings(Section):
    """How digests leave: the backend and its outbox."""

    model_config = ConfigDict(extra="allow", frozen=True)

    backend: str = Field("file", description="Delivery backend name (file, smtp, ...).")
    outbox_dir: Path = Field(Path("var/outbox"), description="Folder for the file backend.")
    from_email: str = Field("digest@localhost", description="From address of digests.")
    from_name: str = Field("", description="From display name; empty for site.name.")
    reply_to: str = Field("", description="Reply-To address; empty for none.")
    message_id_domain: str = Field(
        "", description="Right-hand side of Message-IDs; empty for from_email's domain."
    )
    list_id_domain: str = Field(
        "", description="Domain of List-Id (<channel>.<domain>); empty for from_email's."
    )
    unsubscribe_mailto: str = Field(
        "", description="Address for mailto: unsubscribe (LU-1); empty for none."
    )
    feedback_id: str = Field("", description="Feedback-ID header value; empty for none.")
    dkim_domain: str = Field("", description="DKIM d= domain; empty turns signing off.")
    dkim_selector: str = Field("syndicate", description="DKIM selector (s=).")
    dkim_key: SecretStr | None = Field(
        None, description="PEM private key (env SYNDICATE_DELIVERY__DKIM_KEY)."
    )
    dkim_key_file: Path | None = Field(None, description="File holding the PEM private key.")
    warmup: WarmupSettings | None = Field(
        None, description="Daily caps per recipient group for a new domain; unset: off."
    )
    breakers: BreakerSettings = Field(
        BreakerSettings(), description="When a recipient group pauses (circuit breakers)."
    )

    @property
    def sending_domain(self) -> str:
        """The domain of ``from_email``."""
        return self.from_email.rpartition("@")[2] or "localhost"


class DispatchSettings(Section):
    """How the outbox is worked through (STYLE 6: limits are settings)."""

    batch_size: int = Field(100, ge=1, le=10_000, description="Deliveries claimed at once.")
    lease_seconds: float = Field(
        300.0, gt=0, description="How long a claim lasts before another sender may retry it."
    )
    min_backoff: float = Field(300.0, gt=0, description="First retry delay (s) after a defer.")
    max_backoff: float = Field(4000.0, gt=0, description="Longest retry delay (s).")
    max_age_hours: float = Field(
        120.0, gt=0, description="Give up on a deferred delivery this old (RFC 5321: 4-5 days)."
    )
    pause_after_policy_failures: int = Field(
        5, ge=1, description="Pause a channel after this many policy rejections in a row."
    )
    queue: Literal["inline", "celery"] = Field(
        "inline",
        description="inline: send in this process; celery: publish tasks for the workers.",
    )


class CelerySettings(Section):
    """Celery workers (``[dispatch] queue = "celery"``; the ``scale`` extra)."""

    broker_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Broker: a redis:// or amqp:// URL."
    )
    queue_name: str = Field("syndicate", description="Queue the tasks go to.")
    key_prefix: str = Field(
        "syndicate:", description="Prefix of every Redis key (broker and rate limit)."
    )
    pool: Literal["prefork", "threads", "solo"] = Field(
        "prefork", description="Worker pool: processes, threads, or one task at a time."
    )
    concurrency: int = Field(0, ge=0, le=256, description="Tasks at once; 0 = CPU count.")
    prefetch_multiplier: int = Field(
        1, ge=1, description="Unacknowledged tasks a worker holds per slot."
    )
    visibility_timeout: float = Field(
        3600.0, gt=0, description="Redis: a task unacknowledged this long is redelivered."
    )
    reservation_seconds: float = Field(
        3600.0, gt=0, description="How long published rows wait for their task."
    )
    max_retries: int = Field(
        10, ge=0, description="Retries of a task after broker or database errors."
    )
    retry_backoff_max: float = Field(
        300.0, gt=0, description="Longest wait (s) between retries of a task."
    )
    rate_limiter: Literal["auto", "redis", "store"] = Field(
        "auto", description="Where the shared rate limit lives: Redis or the store."
    )
    rate_limit_url: str = Field("", description="Redis URL of the rate limit; empty: broker's.")
