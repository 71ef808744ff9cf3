"""Digest templates: Jinja2 with instance overrides and errors that name file and line.

Lookup order: the instance's ``templates_dir`` (a file there with the same name replaces
the default), then the defaults shipped in this package (``digest/templates/``). Names
ending in ``.mjml.j2`` or ``.html.j2`` are autoescaped; ``.txt.j2`` and the subject and
preheader templates are plain text. Undefined variables are errors (StrictUndefined), so a
typo in a template fails the render instead of printing an empty string.
"""

from __future__ import annotations

import textwrap
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from syndicate.config import Settings
from syndicate.digest.errors import TemplateError

DEFAULT_DIR = Path(__file__).parent / "templates"
TEXT_WIDTH = 72


def _autoescape(name: str | None) -> bool:
    return bool(name) and str(name).endswith((".mjml.j2", ".html.j2"))


def wrap(value: str, width: int = TEXT_WIDTH, indent: str = "") -> str:
    """Fill ``value`` to ``width`` columns, never breaking a word or URL."""
    return textwrap.fill(
        " ".join(str(value).split()),
        width=width,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


class DigestTemplates:
    """The template environment of one instance."""

    def __init__(self, settings: Settings | None = None, *, directory: Path | None = None) -> None:
        dirs: list[Path] = []
        if directory is not None:
            dirs.append(directory)
        elif settings is not None:
            dirs.append(settings.resolve(settings.templates_dir))
        dirs.append(DEFAULT_DIR)
        self.dirs = [d for d in dirs if d.is_dir()]
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d) for d in self.dirs]),
            autoescape=_autoescape,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["wrap"] = wrap
        self._strings = jinja2.Environment(
            autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=False
        )

    def path(self, name: str) -> str:
        """Where template ``name`` is read from (for messages), or its bare name."""
        for folder in self.dirs:
            if (folder / name).is_file():
                return str(folder / name)
        return name

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render template file ``name``; any failure is a TemplateError naming file/line."""
        try:
            template = self.env.get_template(name)
        except jinja2.TemplateNotFound as err:
            where = ", ".join(str(d) for d in self.dirs)
            raise TemplateError(f"template not found (looked in {where})", template=name) from err
        except jinja2.TemplateSyntaxError as err:
            raise TemplateError(
                f"syntax error: {err.message}",
                template=err.filename or self.path(name),
                line=err.lineno,
            ) from err
        return self._run(template, context, template.filename or self.path(name))

    def render_string(self, source: str, context: Mapping[str, Any], *, origin: str) -> str:
        """Render a one-line template from config (subject, preheader); ``origin`` names it."""
        try:
            template = self._strings.from_string(source)
        except jinja2.TemplateSyntaxError as err:
            raise TemplateError(f"syntax error: {err.message}", template=origin) from err
        return " ".join(self._run(template, context, origin).split())

    def _run(self, template: jinja2.Template, context: Mapping[str, Any], origin: str) -> str:
        try:
            return template.render(context)
        except TemplateError:
            raise
        except Exception as err:
            # Jinja rewrites tracebacks so template frames carry the template's file name
            # and line: the last such frame is where the template failed.
            line = _template_line(err, template.filename)
            message = str(err) or type(err).__name__
            if isinstance(err, jinja2.UndefinedError):
                message = f"undefined variable: {message}"
            raise TemplateError(message, template=origin, line=line) from err


def _template_line(err: BaseException, filename: str | None) -> int | None:
    frames = traceback.extract_tb(err.__traceback__)
    names = {filename, "<template>"}
    for frame in reversed(frames):
        if frame.filename in names or frame.filename.endswith(".j2"):
            return frame.lineno
    return None
