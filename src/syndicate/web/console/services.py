"""What every console route shares: settings, the store, operators, the sign-in limit,
the clock and the backend factory. Made once per app; the store opens on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from syndicate.config import ChannelConfig, Settings, load_channels
from syndicate.delivery import Backend
from syndicate.models import utc_now
from syndicate.store import Store
from syndicate.store.operators import Operators
from syndicate.web.csrf import FormGuard
from syndicate.web.ratelimit import SlidingWindow
from syndicate.web.services import open_web_store


class ConsoleServices:
    """The console's collaborators (thread-safe lazy set-up); ``clock`` and
    ``make_backend`` are injectable for tests."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utc_now,
        make_backend: Callable[[], Backend] | None = None,
        store: Store | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._make_backend = make_backend
        self._lock = threading.RLock()
        self._made: dict[str, Any] = {}
        if store is not None:
            self._made["store"] = store
        console = settings.console
        self.prefix = console.path
        self.idle = timedelta(minutes=console.idle_minutes)
        self.absolute = timedelta(hours=console.session_hours)
        self.lockout = timedelta(minutes=console.lockout_minutes)
        self.signin_limit = SlidingWindow(console.signin_per_client, console.signin_window)

    def _once(self, name: str, make: Callable[[], Any]) -> Any:
        with self._lock:
            if name not in self._made:
                self._made[name] = make()
            return self._made[name]

    @property
    def site(self) -> str:
        """The publication's name, in every page's header."""
        return self.settings.site.name

    @property
    def store(self) -> Store:
        """The store, opened on first use."""
        store: Store = self._once("store", lambda: open_web_store(self.settings.store_url))
        return store

    @property
    def operators(self) -> Operators:
        """Operators, sessions and the audit log."""
        return Operators(self.store)

    @property
    def guard(self) -> FormGuard:
        """Checks a POST's origin, and the sign-in form's signed token."""
        from syndicate.delivery.compose import signing_key

        def make() -> FormGuard:
            return FormGuard(
                signing_key(self.settings),
                max_age=self.idle.total_seconds(),
                site_origin=self.settings.site.base_url,
            )

        guard: FormGuard = self._once("guard", make)
        return guard

    def channels(self) -> dict[str, ChannelConfig]:
        """The channels, by name (read again on each call: the files may change)."""
        return {c.name: c for c in load_channels(self.settings)}

    def backend(self) -> Backend:
        """A new backend for a test send (the configured one unless injected)."""
        if self._make_backend is not None:
            return self._make_backend()
        from syndicate.delivery import make_backend

        return make_backend(self.settings)

    def url(self, path: str = "/") -> str:
        """A console path under the mount prefix."""
        return self.prefix + (path if path != "/" else "/")
