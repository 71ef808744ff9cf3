"""Errors of the digest: where they sit in the tree of :mod:`syndicate.errors`.

::

    SyndicateError
    └── DigestError             an edition could not be composed or rendered
        ├── TemplateError       a template is missing, malformed, or fails to render
        ├── RenderLimitError    the rendered edition breaks a quality limit (size)
        └── ReviewError         an edition cannot make a review move (wrong state)

A ``TemplateError`` names the template file and, when known, the line; nothing is
recorded in the store when rendering fails.
"""

from __future__ import annotations

from syndicate.errors import SyndicateError


class DigestError(SyndicateError):
    """An edition could not be composed or rendered."""


class TemplateError(DigestError):
    """A template is missing, malformed or failed to render.

    ``template`` is the file (path, or a name such as ``[digest] subject``) and ``line``
    the line in it, when known.
    """

    def __init__(self, message: str, *, template: str, line: int | None = None) -> None:
        where = f"{template}, line {line}" if line else template
        super().__init__(f"{where}: {message}")
        self.template = template
        self.line = line


class RenderLimitError(DigestError):
    """The rendered edition is over a limit (e.g. ``max_html_bytes``)."""

    def __init__(self, message: str, *, template: str) -> None:
        super().__init__(f"{template}: {message}")
        self.template = template


class ReviewError(DigestError):
    """An edition cannot make the review move asked for: it is in the wrong state
    (an approved edition cannot change), or an article named is not stored."""
