"""What the subscriber pages share: the store, the sign-up logic, the form guard, the
rate limits and the way one confirmation message is sent. Made once per app, opened on
first use (serving feeds needs none of it)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event, false, update
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request

from syndicate.config import Settings, load_channels
from syndicate.delivery import Backend
from syndicate.delivery.notice import send_notice
from syndicate.errors import StoreError
from syndicate.models import OutboundMessage, Subscription
from syndicate.store import Store, open_store
from syndicate.store.delivery_schema import subscribers
from syndicate.subscribers import Signups
from syndicate.subscribers.abuse import SignupChecks, domain_of, network_of
from syndicate.subscribers.consent import network_of as consent_network
from syndicate.web.csrf import FormGuard
from syndicate.web.ratelimit import SlidingWindow

log = logging.getLogger(__name__)

STORE_WAIT_SECONDS = 5.0
"""How long a page waits for a locked SQLite store before answering 503 (the pipeline's
own commands wait 30 s; a visitor should not)."""
STORE_RETRY_AFTER = 30
"""The ``Retry-After`` (seconds) of the 503 sent while the store is unavailable."""


def open_web_store(url: str) -> Store:
    """The store as the pages use it: like :func:`open_store`, but a locked SQLite file
    is given up on after :data:`STORE_WAIT_SECONDS` (then the page answers 503)."""
    store = open_store(url)
    if store.engine.dialect.name == "sqlite":
        wait_ms = int(STORE_WAIT_SECONDS * 1000)

        def shorter_wait(dbapi_conn: Any, _record: Any) -> None:
            # Runs after the store's own pragmas, so this busy_timeout wins.
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout={wait_ms}")
            cursor.close()

        event.listen(store.engine, "connect", shorter_wait)
        store.engine.dispose()  # connections opened by the migration check wait longer
    return store


class Services:
    """The subscriber pages' collaborators for one app (thread-safe lazy set-up)."""

    def __init__(
        self, settings: Settings, *, make_backend: Callable[[], Backend] | None = None
    ) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._made: dict[str, Any] = {}
        self._make_backend = make_backend
        limits = settings.subscribe
        self.per_client = SlidingWindow(limits.per_client, limits.per_client_window)
        self.per_email = SlidingWindow(limits.per_email, limits.per_email_window)
        # Sign-up abuse: confirmation mails per network and per recipient domain.
        self.per_network = SlidingWindow(limits.per_network, limits.per_network_window)
        self.per_domain = SlidingWindow(limits.per_domain, limits.per_domain_window)

    @property
    def site(self) -> str:
        """The publication's name, for page titles."""
        return self.settings.site.name

    def _once(self, name: str, make: Callable[[], Any]) -> Any:
        # Requests run in several threads; the store and the rest are made only once.
        with self._lock:
            if name not in self._made:
                self._made[name] = make()
            return self._made[name]

    @property
    def store(self) -> Store:
        """The store, opened (and migrated if needed) on first use."""
        store: Store = self._once("store", lambda: open_web_store(self.settings.store_url))
        return store

    @property
    def signups(self) -> Signups:
        """The sign-up logic with the instance's channels and link key."""
        from syndicate.delivery.compose import token_signer  # the same key as the mail

        def make() -> Signups:
            channels = load_channels(self.settings)
            return Signups(self.store, self.settings, channels, token_signer(self.settings))

        signups: Signups = self._once("signups", make)
        return signups

    @property
    def guard(self) -> FormGuard:
        """The CSRF guard, keyed with the instance key."""
        from syndicate.delivery.compose import signing_key

        def make() -> FormGuard:
            return FormGuard(
                signing_key(self.settings),
                max_age=self.settings.subscribe.form_max_age,
                site_origin=self.settings.site.base_url,
            )

        guard: FormGuard = self._once("guard", make)
        return guard

    @property
    def checks(self) -> SignupChecks:
        """The sign-up abuse checks that need the store or the DNS."""

        def make() -> SignupChecks:
            return SignupChecks(self.store, self.settings.subscribe, self.settings.base_dir)

        checks: SignupChecks = self._once("checks", make)
        return checks

    def abuse_refusal(self, client: str, form_token: str, email: str) -> str | None:
        """Why a valid sign-up for ``email`` from ``client`` must send nothing (the
        reason is counted), or ``None``. Blocking (DNS): run it in a thread.

        Cheap checks first; a window counts only the sign-ups that reached it.
        """
        limits = self.settings.subscribe
        age = self.guard.age(form_token)
        reason: str | None = None
        if age is not None and age < limits.min_submit_seconds:
            reason = "too-fast"
        elif self.per_network.hit(network_of(client)) is not None:
            reason = "network"
        elif self.per_domain.hit(domain_of(email)) is not None:
            reason = "domain"
        else:
            reason = self.checks.address_refusal(email)
        if reason is not None:
            self.checks.refused(reason)
        return reason

    def check_writable(self) -> None:
        """Raise the store's error unless it takes a write now; changes nothing.

        The same statement whatever the visitor typed, so it tells nothing by its time;
        it lets a sign-up answer 503 while the store is locked instead of accepting
        a request it could not record.
        """
        with self.store.engine.begin() as conn:
            # A write that matches no row still needs the write lock (SQLite) and a
            # working connection (PostgreSQL).
            conn.execute(update(subscribers).where(false()).values(id=subscribers.c.id))

    def request_and_send(
        self,
        email: str,
        name: str,
        subscriptions: list[Subscription],
        consent: dict[str, Any],
        now: datetime,
    ) -> None:
        """Record a sign-up and send its confirmation, if any (run after the response).

        Whether there is anything to record or send depends on the address's state, so
        none of it may happen before the answer (docs/subscribers.md).
        """
        try:
            mail = self.signups.request(email, name, subscriptions, consent, now)
        except (StoreError, SQLAlchemyError) as err:
            log.error("sign-up not recorded, store unavailable: %s", getattr(err, "orig", err))
            return
        if mail is None:
            return
        if not self.checks.may_confirm(email, now):  # never twice within a day
            self.checks.refused("repeat")
            return
        self.send(mail)

    def send(self, message: OutboundMessage) -> None:
        """Send one confirmation message now (run after the response, in a thread).

        A failure is logged, never shown: the visitor was already told the same thing
        whatever happens, and can ask again.
        """
        from syndicate.delivery import make_backend

        factory = self._make_backend or (lambda: make_backend(self.settings))
        try:
            result = send_notice(factory, message)
        except Exception:
            log.exception("confirmation %s could not be sent", message.message_id)
            return
        if result.status in ("sent", "queued"):
            log.info("confirmation %s sent", message.message_id)
        else:
            log.error(
                "confirmation %s not sent (%s): %s", message.message_id, result.status, result.error
            )


def client_address(request: Request) -> str:
    """The client's address (uvicorn puts the proxy's forwarded one here when the
    proxy is trusted, see ``--forwarded-allow-ips``)."""
    return request.client.host if request.client else "unknown"


def consent(request: Request, form: str) -> dict[str, Any]:
    """Proof of consent for a request or a confirmation (SE-6): where and from what."""
    return {
        "source": "web",
        "form": form,
        # The client's /24 or /56 only: enough to show where a sign-up came from,
        # without keeping the visitor's address.
        "network": consent_network(client_address(request)),
        "user_agent": request.headers.get("user-agent", "")[:300],
    }


def retry_after(seconds: float) -> dict[str, str]:
    """A ``Retry-After`` header for ``seconds`` (RFC 9110 §10.2.3), at least 1."""
    return {"Retry-After": str(max(1, int(seconds + 0.999)))}
