"""The contract every delivery backend implements, and the sequence the base runs.

The base owns what is the same for every backend (STYLE 1): splitting work into batches
of at most ``max_batch`` messages, pacing to ``rate`` messages per second, and turning
unexpected exceptions into per-message ``deferred`` results so that nothing is lost. A
backend implements only :meth:`Backend.send_batch` (and optionally :meth:`Backend.open`
/ :meth:`Backend.close` for connections).

Per-recipient problems are results, not exceptions (STYLE 2). Only a whole-batch
failure raises: :class:`~syndicate.errors.TransportError` (retry later, every message of
the batch is deferred) or :class:`~syndicate.errors.BackendConfigError` (credentials
refused: dispatch stops and reports).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from syndicate.errors import BackendConfigError, DeliveryError
from syndicate.models import DeliveryResult, OutboundMessage

log = logging.getLogger(__name__)


class BackendOptions(BaseModel):
    """Settings every backend takes, under ``[delivery.<backend>]``."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(0.0, ge=0, description="Messages per second at most; 0 = no limit.")


class Pacer(Protocol):
    """Paces sending: :class:`RateLimiter` in one process, or a limit shared by several
    workers (``syndicate.scale.ratelimit``)."""

    def acquire(self, count: int = 1) -> None:
        """Block until ``count`` more messages may be sent."""
        ...


class RateLimiter:
    """Spaces calls to at most ``rate`` per second (a token bucket of depth one).

    Thread-safe; ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self, count: int = 1) -> None:
        """Wait until ``count`` more messages may be sent."""
        if not self.interval:
            return
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + self.interval * count
        if start > now:
            self.sleep(start - now)


class Backend(ABC):
    """A way for messages to leave. Subclasses set ``name``, ``Options``, ``max_batch``."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    max_batch: ClassVar[int] = 1
    # True when the backend sends only each message's ``raw`` bytes, never its ``html``
    # and ``text``: the dispatcher then has messages built without them (faster).
    raw_only: ClassVar[bool] = False

    def __init__(self, options: BackendOptions) -> None:
        self.options = options
        self.limiter: Pacer = RateLimiter(options.rate)

    @classmethod
    def from_settings(cls, options: BackendOptions, settings: Any) -> Backend:
        """Build the backend from its validated options and the instance settings.

        Override to read what else a backend needs (the base folder for relative paths,
        secrets from files); the default passes only the options.
        """
        return cls(options)

    def use_limiter(self, limiter: Pacer) -> None:
        """Pace with ``limiter`` instead of the backend's own ``RateLimiter(rate)``, e.g.
        one limit shared by every worker. Backends that pace somewhere other than per
        batch (per message, per request) override this to put it there."""
        self.limiter = limiter

    def open(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Prepare connections or sessions. Called once before the first batch."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections. Called once after the last batch, even after errors."""

    def __enter__(self) -> Backend:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryResult]:
        """Send at most ``max_batch`` messages; return one result per message, in order.

        Raise :class:`TransportError` when the batch as a whole did not go (nothing was
        accepted, or it is unknown and safe to retry), :class:`BackendConfigError` when
        the provider refuses our credentials. Any other per-message problem is a result.
        """

    def deliver(self, messages: Sequence[OutboundMessage]) -> list[DeliveryResult]:
        """Send ``messages`` in batches under the rate limit; one result per message.

        A :class:`TransportError` defers the messages of its batch (with the provider's
        ``retry_after``) and the remaining batches still go; a
        :class:`BackendConfigError` propagates when it comes from the first batch;
        from a later one it defers the rest and returns, because raising would drop the
        results of the batches that went (the next call raises it); any other exception
        in a backend is a bug, logged, and defers its batch rather than losing it.
        """
        results: list[DeliveryResult] = []
        for batch in _batches(messages, self.max_batch):
            self.limiter.acquire(len(batch))
            try:
                got = self.send_batch(batch)
            except BackendConfigError as err:
                if not results:
                    raise
                # Earlier batches were sent: keep their results, or the outbox would
                # send them again. Nothing more is tried in this call.
                log.error(
                    "%s: %s; the remaining %d deferred",
                    self.name,
                    err,
                    len(messages) - len(results),
                )
                return results + deferred(messages[len(results) :], str(err), None)
            except DeliveryError as err:
                log.warning("%s: batch of %d deferred: %s", self.name, len(batch), err)
                got = deferred(batch, str(err), err.retry_after)
            except Exception as err:
                log.exception("%s: unexpected error; batch of %d deferred", self.name, len(batch))
                got = deferred(batch, f"unexpected {type(err).__name__}: {err}", None)
            if len(got) != len(batch):
                raise AssertionError(f"{self.name} returned {len(got)} results for {len(batch)}")
            results.extend(got)
        return results


def deferred(
    batch: Sequence[OutboundMessage], error: str, retry_after: float | None, raw: Any = None
) -> list[DeliveryResult]:
    """A ``deferred``, retryable result for every message of ``batch``."""
    return [
        DeliveryResult(
            m.delivery_id,
            "deferred",
            retryable=True,
            error=error,
            retry_after=retry_after,
            raw=raw,
        )
        for m in batch
    ]


def _batches(items: Sequence[OutboundMessage], size: int) -> Iterator[Sequence[OutboundMessage]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + size]
