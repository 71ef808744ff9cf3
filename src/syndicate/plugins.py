"""Named plugins: built-ins and entry points, looked up the same way (STYLE 10).

A registry maps names to ``"module:attribute"`` targets: the built-ins, then whatever
installed packages declare under an entry-point group (which may override a built-in).
Targets are imported only when looked up, so an unused kind costs nothing.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import Any


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
