"""Delivery backends by name.

Built-ins register exactly as plugins do, through the entry-point group
``syndicate.backends``; ``BUILTIN`` lists them too so an uninstalled checkout works.
A backend's settings live in ``[delivery.<name>]`` and are validated by its ``Options``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from syndicate import plugins
from syndicate.config import Settings, describe_errors
from syndicate.delivery.base import Backend
from syndicate.errors import ConfigError

GROUP = "syndicate.backends"

BUILTIN: dict[str, str] = {
    "file": "syndicate.delivery.file:FileBackend",
    "smtp": "syndicate.delivery.smtp:SMTPBackend",
    "postmark": "syndicate.delivery.postmark:PostmarkBackend",
    "sendgrid": "syndicate.delivery.sendgrid:SendGridBackend",
    "mailgun": "syndicate.delivery.mailgun:MailgunBackend",
    "ses": "syndicate.delivery.ses:SESBackend",
}


def _targets() -> dict[str, str]:
    return plugins.targets(GROUP, tuple(BUILTIN.items()))


def backend_names() -> list[str]:
    """Every backend name, built-in and plugin."""
    return sorted(_targets())


def backend_class(name: str) -> type[Backend]:
    """The class registered as ``name``; ConfigError listing the known names if none."""
    found = _targets()
    if name not in found:
        raise ConfigError(
            f"unknown delivery backend {name!r}; expected one of {plugins.known(found)}"
        )
    cls: type[Backend] = plugins.load(found[name])
    return cls


def backend_options(settings: Settings, name: str | None = None) -> dict[str, Any]:
    """The raw ``[delivery.<name>]`` table (empty if absent)."""
    name = name or settings.delivery.backend
    table = (settings.delivery.model_extra or {}).get(name, {})
    return dict(table) if isinstance(table, dict) else {}


def make_backend(settings: Settings, name: str | None = None) -> Backend:
    """Build the configured backend; a bad ``[delivery.<name>]`` table is a ConfigError."""
    name = name or settings.delivery.backend
    cls = backend_class(name)
    path = settings.base_dir / "syndicate.toml"
    try:
        options = cls.Options.model_validate(backend_options(settings, name))
    except ValidationError as err:
        raise ConfigError(
            f"{path}: invalid [delivery.{name}]",
            describe_errors(err, path, prefix=f"delivery.{name}."),
        ) from err
    return cls.from_settings(options, settings)
