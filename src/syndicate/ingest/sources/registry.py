"""Source kinds by name.

Built-in kinds register exactly as plugins do: by name, through the entry-point group
``syndicate.sources`` (see ``pyproject.toml``). ``BUILTIN`` lists them too, so a source
tree that is not installed (a checkout on ``PYTHONPATH``) still finds them.
"""

from __future__ import annotations

from pydantic import BaseModel

from syndicate import plugins
from syndicate.errors import ConfigError
from syndicate.ingest.sources.base import Source

GROUP = plugins.SOURCE_GROUP
BUILTIN: dict[str, str] = dict(plugins.BUILTIN_SOURCES)


class UnknownSourceKind(ConfigError):
    """No source kind has this name. ``known`` lists the names that exist."""

    def __init__(self, kind: str, known: str) -> None:
        super().__init__(f"unknown source kind {kind!r}; expected {known}")
        self.known = known


def _targets() -> dict[str, str]:
    return plugins.source_targets()


def kinds() -> list[str]:
    """Every source kind name, built-in and plugin."""
    return sorted(_targets())


def source_class(kind: str) -> type[Source]:
    """The class registered for ``kind``; :class:`UnknownSourceKind` if none is."""
    found = _targets()
    if kind not in found:
        raise UnknownSourceKind(kind, "one of " + plugins.known(found))
    cls: type[Source] = plugins.load(found[kind])
    return cls


def options_model(kind: str) -> type[BaseModel]:
    """The pydantic model of the keys this kind takes in its ``[[sources]]`` entry."""
    return source_class(kind).Options
