"""The ``[console]`` section: the editor's console (sign-in, sessions, test sends)."""

from __future__ import annotations

from pydantic import Field, field_validator

from syndicate.config.base import Section


class ConsoleSettings(Section):
    """The operator console served by ``syndicate serve`` (docs/console.md).

    The console is off until at least one operator exists (``syndicate operators add``);
    the sign-in counters live in the memory of the one ``syndicate serve`` process, the
    lock-out in the store.
    """

    path: str = Field(
        "/console", description="URL path prefix the console is mounted at ('/console')."
    )
    idle_minutes: float = Field(
        30.0, gt=0, description="A session unused for this long is over (idle expiry)."
    )
    session_hours: float = Field(
        12.0, gt=0, description="A session is over this long after sign-in, used or not."
    )
    signin_per_client: int = Field(
        10, ge=1, description="Sign-in attempts one client address may make per window."
    )
    signin_window: float = Field(
        900.0, gt=0, description="Seconds over which signin_per_client is counted."
    )
    lockout_after: int = Field(
        5, ge=1, description="Wrong passwords in a row that lock an operator's account."
    )
    lockout_minutes: float = Field(
        15.0, gt=0, description="How long a locked account stays locked."
    )
    test_sends_per_hour: int = Field(
        20, ge=1, description="Test messages the console and CLI may send per hour."
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or value.endswith("/") or " " in value:
            raise ValueError("a path such as '/console', starting with '/', no trailing '/'")
        return value
