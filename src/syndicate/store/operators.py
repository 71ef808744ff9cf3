"""Operators of the console, their sessions, and the audit log (task-shaped queries).

Passwords are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106's second
recommended set); a hash made with older parameters is replaced on the next sign-in.
Sessions are server-side: the browser holds a random token, the store its SHA-256, so a
session can be revoked (sign-out, password change, operator removed) and a copy of the
database holds nothing that signs anyone in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from syndicate.errors import StoreError
from syndicate.store.console_schema import audit_log, console_sessions, operators
from syndicate.store.core import Store

Role = Literal["editor", "admin"]
ROLES: tuple[Role, ...] = ("editor", "admin")
MIN_PASSWORD = 12
"""The shortest password accepted (NIST SP 800-63B asks for at least 8; we ask 12)."""

_hasher = PasswordHasher()
# Verified against when the address is unknown, so a wrong address takes as long as a
# wrong password and the answer's time does not tell which addresses exist.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class Operator:
    """Someone who may sign in to the console."""

    id: int
    email: str
    role: str
    created_at: datetime
    password_changed_at: datetime
    failed_signins: int
    locked_until: datetime | None
    channels: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        """Admins act on subscribers, sources and operators too."""
        return self.role == "admin"

    def edits(self, channel: str) -> bool:
        """Whether the operator is told of ``channel``'s drafts (no channels: all)."""
        return not self.channels or channel in self.channels


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in session: whose, since when, and the token its forms must carry."""

    id: str  # the hash of the cookie's token
    operator: Operator
    csrf: str
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One write: who, when, what (``action`` on ``target``), before and after."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: Any
    after: Any


SignIn = Literal["ok", "wrong", "locked"]


def normalise_email(email: str) -> str:
    """An operator's address as stored: trimmed and lower-cased."""
    return email.strip().lower()


def check_password(password: str) -> None:
    """Raise ValueError unless ``password`` is long enough to accept."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Operators:
    """Operators, sessions and the audit log of one store. Thread-safe: every method
    uses its own connection."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- operators ---------------------------------------------------------------------

    def add(
        self,
        email: str,
        role: Role,
        password: str,
        now: datetime,
        channels: tuple[str, ...] = (),
    ) -> Operator:
        """A new operator (told of the drafts of ``channels``; none: of every channel);
        StoreError if the address is taken, ValueError for a bad role or a short
        password."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        check_password(password)
        values = {
            "email": normalise_email(email),
            "role": role,
            "password_hash": _hasher.hash(password),
            "created_at": now,
            "password_changed_at": now,
            "failed_signins": 0,
            "channels": list(channels),
        }
        try:
            with self.store.engine.begin() as conn:
                conn.execute(insert(operators).values(values))
        except IntegrityError as err:
            raise StoreError(f"an operator {values['email']} exists already") from err
        found = self.get(email)
        assert found is not None
        return found

    def get(self, email: str) -> Operator | None:
        """The operator with this address, or ``None``."""
        query = select(operators).where(operators.c.email == normalise_email(email))
        with self.store.engine.connect() as conn:
            row = conn.execute(query).first()
        return _operator(row) if row is not None else None

    def all(self) -> list[Operator]:
        """Every operator, by address."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(operators).order_by(operators.c.email))
            return [_operator(r) for r in rows]

    def any(self) -> bool:
        """Whether at least one operator exists (the console is off until one does)."""
        with self.store.engine.connect() as conn:
            return bool(conn.execute(select(func.count()).select_from(operators)).scalar())

    def remove(self, email: str) -> bool:
        """Remove an operator and their sessions; False if there was none."""
        with self.store.engine.begin() as conn:
            found = conn.execute(
                select(operators.c.id).where(operators.c.email == normalise_email(email))
            ).first()
            if found is None:
                return False
            conn.execute(delete(console_sessions).where(console_sessions.c.operator_id == found.id))
            conn.execute(delete(operators).where(operators.c.id == found.id))
        return True

    def set_password(self, email: str, password: str, now: datetime) -> bool:
        """Set a new password, lift a lock-out and end every session of the operator
        (a stolen session dies with the old password); False if there is no such one."""
        check_password(password)
        with self.store.engine.begin() as conn:
            found = conn.execute(
                select(operators.c.id).where(operators.c.email == normalise_email(email))
            ).first()
            if found is None:
                return False
            conn.execute(
                update(operators)
                .where(operators.c.id == found.id)
                .values(
                    password_hash=_hasher.hash(password),
                    password_changed_at=now,
                    failed_signins=0,
                    locked_until=None,
                )
            )
            conn.execute(delete(console_sessions).where(console_sessions.c.operator_id == found.id))
        return True

    def verify(
        self, email: str, password: str, now: datetime, *, lockout_after: int, lockout: timedelta
    ) -> tuple[SignIn, Operator | None]:
        """Check a sign-in. ``locked`` while the account is locked (the password is not
        even tried, so guessing on gains nothing); ``wrong`` counts a failure and locks
        the account at ``lockout_after`` in a row; ``ok`` resets the count."""
        query = select(operators).where(operators.c.email == normalise_email(email))
        with self.store.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            _verify(_DUMMY_HASH, password)
            return "wrong", None
        if row.locked_until is not None and row.locked_until > now:
            return "locked", None
        if not _verify(row.password_hash, password):
            failures = row.failed_signins + 1
            locked = now + lockout if failures >= lockout_after else None
            with self.store.engine.begin() as conn:
                conn.execute(
                    update(operators)
                    .where(operators.c.id == row.id)
                    .values(
                        failed_signins=0 if locked else failures,
                        locked_until=locked,
                    )
                )
            return ("locked" if locked else "wrong"), None
        values: dict[str, Any] = {"failed_signins": 0, "locked_until": None}
        if _hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = _hasher.hash(password)
        with self.store.engine.begin() as conn:
            conn.execute(update(operators).where(operators.c.id == row.id).values(values))
        return "ok", self.get(email)

    # --- sessions ----------------------------------------------------------------------

    def start_session(self, operator: Operator, now: datetime) -> str:
        """A new session for ``operator``; returns the token for the cookie (a fresh one
        every sign-in, so a token planted before it is worth nothing)."""
        token = secrets.token_urlsafe(32)
        with self.store.engine.begin() as conn:
            conn.execute(
                insert(console_sessions).values(
                    id=_token_hash(token),
                    operator_id=operator.id,
                    csrf=secrets.token_urlsafe(32),
                    created_at=now,
                    last_seen_at=now,
                )
            )
        return token

    def session(
        self, token: str, now: datetime, *, idle: timedelta, absolute: timedelta
    ) -> Session | None:
        """The live session of this cookie token, its last use moved to ``now``; ``None``
        (and the row deleted) when unknown, idle too long or too old."""
        if not token:
            return None
        key = _token_hash(token)
        s = console_sessions.c
        query = (
            select(
                s.operator_id,
                s.csrf,
                s.created_at.label("started_at"),
                s.last_seen_at,
                *(c for c in operators.c if c.name != "password_hash"),
            )
            .join(operators, operators.c.id == console_sessions.c.operator_id)
            .where(console_sessions.c.id == key)
        )
        with self.store.engine.begin() as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            if now - row.last_seen_at > idle or now - row.started_at > absolute:
                conn.execute(delete(console_sessions).where(console_sessions.c.id == key))
                return None
            conn.execute(
                update(console_sessions)
                .where(console_sessions.c.id == key)
                .values(last_seen_at=now)
            )
        return Session(key, _operator(row), row.csrf, row.started_at, now)

    def end_session(self, token: str) -> None:
        """Revoke the session of this cookie token (sign-out)."""
        with self.store.engine.begin() as conn:
            conn.execute(
                delete(console_sessions).where(console_sessions.c.id == _token_hash(token))
            )

    # --- audit -------------------------------------------------------------------------

    def audit(
        self,
        actor: str,
        action: str,
        target: str,
        now: datetime,
        *,
        before: Any = None,
        after: Any = None,
    ) -> None:
        """Record one write."""
        with self.store.engine.begin() as conn:
            conn.execute(
                insert(audit_log).values(
                    at=now, actor=actor, action=action, target=target, before=before, after=after
                )
            )

    def audit_entries(self, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` audit entries, newest first."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        with self.store.engine.connect() as conn:
            return [
                AuditEntry(r.id, r.at, r.actor, r.action, r.target, r.before, r.after)
                for r in conn.execute(query)
            ]

    def audit_since(self, action: str, since: datetime) -> list[AuditEntry]:
        """The entries of ``action`` recorded at or after ``since``, oldest first."""
        query = (
            select(audit_log)
            .where(audit_log.c.action == action, audit_log.c.at >= since)
            .order_by(audit_log.c.id)
        )
        with self.store.engine.connect() as conn:
            return [
                AuditEntry(r.id, r.at, r.actor, r.action, r.target, r.before, r.after)
                for r in conn.execute(query)
            ]


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _operator(row: Any) -> Operator:
    return Operator(
        id=row.id,
        email=row.email,
        role=row.role,
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
        failed_signins=row.failed_signins,
        locked_until=row.locked_until,
        channels=tuple(row.channels or ()),
    )
