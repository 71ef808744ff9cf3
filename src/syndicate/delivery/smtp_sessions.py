"""SMTP sessions for the SMTP backend: opened (TLS, AUTH), reused, then ended with QUIT.

:class:`SessionPool` hands each sending thread a session of its own, opening one when
no idle session is left, and takes it back for the next message until it reaches the
reuse limits (``max_messages_per_connection``, ``max_connection_age``). Opening one
verifies the server's certificate (SM-6) and maps what can go wrong: a refusal that will
repeat for every message (credentials, TLS trust, a 5xx greeting) is a
BackendConfigError, anything that may pass (connection refused, timeout, 4xx) is
:class:`Unavailable`.

"Session" is RFC 5321's word (§3.1) for one connection's exchange from greeting to QUIT.
It is apart from :mod:`syndicate.delivery.smtp` because how a session is opened and
kept is independent of what is sent on it.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from syndicate.delivery.smtp_replies import reply_text
from syndicate.errors import BackendConfigError, ConfigError

# The backend's own logger name, as before this module was split from it: log filters
# on the ``logger`` field keep matching.
log = logging.getLogger("syndicate.delivery.smtp")


class SessionSettings(Protocol):
    """What sessions read from ``SMTPOptions`` (a protocol: smtp.py imports this module)."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def security(self) -> str: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> SecretStr | None: ...
    @property
    def timeout(self) -> float: ...
    @property
    def max_messages_per_connection(self) -> int: ...
    @property
    def max_connection_age(self) -> float: ...
    @property
    def helo(self) -> str | None: ...


class Unavailable(Exception):
    """No session could be opened (refused, timeout, 4xx greeting): defer the rest."""


@dataclass(eq=False)
class Session:
    """One open SMTP connection, and how many messages it has carried since when."""

    smtp: smtplib.SMTP
    opened_at: float
    sent: int = 0

    def quit(self) -> None:
        """End the session with QUIT, or just close the socket if the server is gone."""
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()


class SessionPool:
    """Idle sessions to one server, shared by the sending threads.

    ``tls`` verifies the server; ``clock`` measures session age; ``backend`` names the
    backend in the errors raised.
    """

    def __init__(
        self,
        settings: SessionSettings,
        tls: ssl.SSLContext,
        clock: Callable[[], float],
        backend: str,
    ) -> None:
        self.settings = settings
        self.tls = tls
        self.clock = clock
        self.backend = backend
        self._idle: list[Session] = []
        self._lock = threading.Lock()

    def checkout(self) -> Session:
        """An idle session that is still fit for use, else a new one.

        Raises Unavailable when no session could be opened, twice; BackendConfigError
        when the server refuses us in a way that will not pass.
        """
        stale: list[Session] = []
        found: Session | None = None
        with self._lock:
            while self._idle and found is None:
                session = self._idle.pop()
                if self._worn(session):
                    stale.append(session)
                else:
                    found = session
        for session in stale:
            session.quit()
        if found is not None:
            return found
        try:
            return self._connect()
        except Unavailable as err:  # e.g. a 421 greeting: one more try, then defer
            log.info("smtp: %s; trying once more", err)
            return self._connect()

    def checkin(self, session: Session) -> None:
        """Keep ``session`` for the next message, or end it if it is worn or closed."""
        if self._worn(session) or session.smtp.sock is None:
            session.quit()
            return
        with self._lock:
            self._idle.append(session)

    def close(self) -> None:
        """QUIT every idle session."""
        with self._lock:
            idle, self._idle = self._idle, []
        for session in idle:
            session.quit()

    def _worn(self, session: Session) -> bool:
        age = self.clock() - session.opened_at
        limit = self.settings.max_messages_per_connection
        return session.sent >= limit or age >= self.settings.max_connection_age

    def _connect(self) -> Session:
        opts = self.settings
        where = f"{opts.host}:{opts.port}"
        smtp: smtplib.SMTP | None = None
        try:
            if opts.security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    opts.host, opts.port, opts.helo, timeout=opts.timeout, context=self.tls
                )
            else:
                smtp = smtplib.SMTP(opts.host, opts.port, opts.helo, timeout=opts.timeout)
            smtp.ehlo_or_helo_if_needed()
            if opts.security == "starttls":
                self._starttls(smtp, where)
            if opts.username:
                self._login(smtp, where)
        except BackendConfigError:
            _close(smtp)
            raise
        except ssl.SSLCertVerificationError as err:
            _close(smtp)
            raise BackendConfigError(
                f"smtp: {where}: TLS certificate not trusted ({err.verify_message}); "
                "set ca_file if the server uses a private CA",
                backend=self.backend,
            ) from err
        except smtplib.SMTPConnectError as err:  # the greeting was not 220
            _close(smtp)
            text = f"smtp: {where} greeted {err.smtp_code} {reply_text(err.smtp_error)}"
            if err.smtp_code >= 500:
                raise BackendConfigError(text, backend=self.backend) from err
            raise Unavailable(text) from err
        except OSError as err:  # includes every smtplib error, refusals, timeouts, TLS
            _close(smtp)
            raise Unavailable(f"smtp: cannot open a session with {where}: {err}") from err
        log.debug("smtp: session opened with %s", where)
        return Session(smtp, self.clock())

    def _starttls(self, smtp: smtplib.SMTP, where: str) -> None:
        # smtplib.starttls() returns quietly without TLS on a non-220 answer: check.
        if not smtp.has_extn("starttls"):
            raise BackendConfigError(f"smtp: {where} does not offer STARTTLS", backend=self.backend)
        code, reply = smtp.starttls(context=self.tls)
        if code != 220:
            text = f"smtp: {where} answered STARTTLS with {code} {reply_text(reply)}"
            if code >= 500:
                raise BackendConfigError(text, backend=self.backend)
            raise Unavailable(text)
        smtp.ehlo()

    def _login(self, smtp: smtplib.SMTP, where: str) -> None:
        password = self.settings.password.get_secret_value() if self.settings.password else ""
        try:
            smtp.login(self.settings.username or "", password)
        except smtplib.SMTPAuthenticationError as err:
            text = f"smtp: {where} refused AUTH: {err.smtp_code} {reply_text(err.smtp_error)}"
            if 400 <= err.smtp_code < 500:
                raise Unavailable(text) from err
            raise BackendConfigError(text, backend=self.backend) from err
        except smtplib.SMTPNotSupportedError as err:
            text = f"smtp: {where} does not offer AUTH"
            raise BackendConfigError(text, backend=self.backend) from err
        except smtplib.SMTPException as err:  # "No suitable authentication method found."
            raise BackendConfigError(f"smtp: {where}: AUTH: {err}", backend=self.backend) from err


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying TLS context with hostname checks (SM-6); ConfigError if unreadable.

    ``ca_file`` replaces the system trust store.
    """
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(f"[delivery.smtp] ca_file {ca_file}: {err}") from err


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        smtp.close()
