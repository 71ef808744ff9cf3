"""Public fakes for tests, ours and users': a recording backend and a settable clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from syndicate.delivery import Backend, BackendOptions
from syndicate.models import DeliveryResult, OutboundMessage

#: Decides one message's result; return ``None`` for the default ``sent``.
Script = Callable[[OutboundMessage], DeliveryResult | None]


class RecordingBackend(Backend):
    """Keeps every message it is given in :attr:`sent` (in order) and answers ``sent``,
    unless ``script`` says otherwise for a message. Thread-safe."""

    name = "recording"
    max_batch = 50

    def __init__(self, script: Script | None = None, options: BackendOptions | None = None):
        super().__init__(options or BackendOptions())
        self.script = script
        self.sent: list[OutboundMessage] = []
        self.batches: list[int] = []
        self._lock = threading.Lock()

    def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryResult]:
        """Record the batch and answer for each message."""
        results = []
        with self._lock:
            self.batches.append(len(messages))
            for message in messages:
                result = self.script(message) if self.script else None
                if result is None:
                    result = DeliveryResult(message.delivery_id, "sent")
                if result.status in ("sent", "queued"):
                    self.sent.append(message)
                results.append(result)
        return results

    def recipients(self) -> list[str]:
        """The address of every accepted message, in order."""
        return [m.to_email for m in self.sent]


class FixedClock:
    """A clock for tests: returns ``now`` until moved with :meth:`advance`."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 25, 7, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move forward by ``timedelta(**delta)``; returns the new time."""
        self.now += timedelta(**delta)
        return self.now
