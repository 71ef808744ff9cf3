"""Untrusted text in rich output: titles, names, errors and reason phrases come from
sources, subscribers and upstream servers, and must print as written.

rich reads ``[...]`` in a string as markup: an article titled ``[/]`` would crash a
table, and ``[link=…]`` would turn a title into a hyperlink. Every cell and line that
carries data from outside goes through :func:`cell` or :func:`esc`.
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text


def cell(value: object, style: str = "") -> Text:
    """``value`` as a table cell that rich prints literally (optionally styled)."""
    return Text(str(value), style=style)


def esc(value: object) -> str:
    """``value`` escaped for a string that also holds our own markup."""
    return escape(str(value))
