"""Counting requests per key (client address, email address) in a sliding window.

The counts live in this process's memory: right for the one ``syndicate serve``
process; several web processes would each allow the full limit (docs/subscribers.md).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """At most ``limit`` hits per key in any ``window`` seconds.

    Memory is bounded: past ``max_keys`` keys, idle ones are dropped first, then the
    oldest. ``clock`` is injectable for tests (STYLE 6).
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Count a hit for ``key`` and return ``None``; or, when the limit is reached,
        count nothing and return the seconds until the next hit would be allowed."""
        now = self.clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                self._make_room(now)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.0)
            hits.append(now)
            return None

    def _make_room(self, now: float) -> None:
        if len(self._hits) < self.max_keys:
            return
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
            del self._hits[key]
        while len(self._hits) >= self.max_keys:
            del self._hits[next(iter(self._hits))]
