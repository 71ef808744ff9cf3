"""Named plugins: built-ins and entry points, looked up the same way (STYLE 10).

A registry maps names to ``"module:attribute"`` targets: the built-ins, then whatever
installed packages declare under an entry-point group (which may override a built-in).
Targets are imported only when looked up, so an unused kind costs nothing.

The source kinds' table lives here, not in :mod:`syndicate.ingest.sources.registry`,
because the config loader validates each ``[[sources]]`` entry against its kind's
``Options`` at load time: it finds the kind by name here and imports nothing of ingest,
which itself depends on config.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import Any

SOURCE_GROUP = "syndicate.sources"

BUILTIN_SOURCES: tuple[tuple[str, str], ...] = (
    ("folder", "syndicate.ingest.sources.folder:FolderSource"),
    ("feed", "syndicate.ingest.sources.feed:FeedSource"),
    ("page", "syndicate.ingest.sources.page:PageSource"),
)


@cache
def targets(group: str, builtin: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Name → ``module:attribute`` for ``group``: the built-ins plus entry points."""
    found = dict(builtin)
    for ep in entry_points(group=group):
        found[ep.name] = ep.value
    return found


def load(target: str) -> Any:
    """The object a ``module:attribute`` target names."""
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def known(names: dict[str, str]) -> str:
    """``'a', 'b', 'c'``: the names, sorted and quoted, for error messages."""
    return ", ".join(repr(k) for k in sorted(names))


def source_targets() -> dict[str, str]:
    """Source kind name → ``module:attribute``: the built-ins plus entry points."""
    return targets(SOURCE_GROUP, BUILTIN_SOURCES)


def lazy_exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for ``package``'s re-exported names.

    ``where`` maps each public name to the submodule that defines it. A name is imported
    on first use, so importing one light submodule (a slot calculation, the atomic
    writer) never pulls in a whole stage's heavy dependencies (feedgen, numpy and scipy).
    """

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__
