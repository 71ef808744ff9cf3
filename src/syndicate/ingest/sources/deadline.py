"""One fetch's deadline, enforced by shutting its sockets down (STANDARDS SE-5).

Socket timeouts bound each read, and every byte resets them: a server dripping its
status line or headers one byte at a time would hold a fetch forever inside http.client,
where the fetcher cannot look at the clock. A :class:`FetchDeadline` is a timer that, when
it runs out, shuts down every socket the fetch registered; the blocked read ends at once
and the fetcher reports the deadline. The guarded connections of :mod:`.http` register
their sockets with the deadline of the fetch running in their thread
(:func:`active_deadline`).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator


class FetchDeadline:
    """The end of one fetch (a :func:`time.monotonic` value) and what to say when it comes.

    Its connects are capped by it; when it comes, its sockets are shut down.
    """

    def __init__(self, at: float, message: str) -> None:
        self.at = at
        self.message = message
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._over = False  # the fetch ended: never touch its sockets again (pooled)
        self.fired = False
        self._timer = threading.Timer(max(0.0, at - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        """Seconds until the deadline (negative once past)."""
        return self.at - time.monotonic()

    def passed(self) -> bool:
        """True once the deadline has come (whether or not the timer has run yet)."""
        return self.fired or self.left() <= 0

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down at the deadline (at once if it has already passed)."""
        with self._lock:
            if self._over:
                return
            self._sockets.append(sock)
            if self.fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            if self._over:
                return
            self.fired = True
            for sock in self._sockets:
                _shut(sock)

    def cancel(self) -> None:
        """The fetch is over: stop the timer and forget its sockets."""
        with self._lock:
            self._over = True
            self._sockets.clear()
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    # shutdown, not close: it wakes a read blocked in another thread, and leaves the file
    # descriptor to its owner. The plain socket method also for TLS sockets, whose own
    # shutdown() would drop the TLS state under the reading thread.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


# The deadline of the fetch running in this thread, seen by the connections it uses.
_current = threading.local()


def active_deadline() -> FetchDeadline | None:
    """The deadline of the fetch running in this thread, if any."""
    deadline: FetchDeadline | None = getattr(_current, "deadline", None)
    return deadline


@contextlib.contextmanager
def watching(deadline: FetchDeadline) -> Iterator[FetchDeadline]:
    """Make ``deadline`` this thread's for the block; cancel it when the block ends."""
    outer = active_deadline()
    _current.deadline = deadline
    try:
        yield deadline
    finally:
        deadline.cancel()
        _current.deadline = outer
