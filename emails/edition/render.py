"""Rendering the templates: strictly, through the publication's environment.

The environment (the built-in templates, and a theme's over them) is built
by :func:`broadsheet.config.theme.environment`, one per theme folder.
``StrictUndefined`` turns a missing context key into an error rather than a
blank; HTML templates are autoescaped, text templates are not. Failures
leave as :class:`~broadsheet.errors.RenderError` naming the template, and
the file and line where that is known.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from broadsheet.config.theme import TEXT_WIDTH, rule, wrap
from broadsheet.config.theme import environment as _environment
from broadsheet.errors import RenderError

__all__ = ["TEXT_WIDTH", "environment", "render", "rule", "wrap"]


def environment(theme: Path | None = None) -> jinja2.Environment:
    """The environment of a publication with ``theme`` (``None``: the built-in templates)."""
    return _environment(theme)


def _where(exc: BaseException, name: str) -> str:
    """``file:line`` of the template frame that failed, else ``name``."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"{exc.filename or name}:{exc.lineno}"
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename.endswith((".j2", ".css", ".xsl")) and frame.lineno
    ]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else name


def render(name: str, context: Mapping[str, Any], *, theme: Path | None = None) -> str:
    """Render the template ``name`` (e.g. ``emails/edition.html.j2``).

    Args:
        name: the template, as the built-in ``templates/`` folder names it.
        context: its variables.
        theme: the publication's ``[emails] theme`` folder, whose templates win.

    Raises:
        RenderError: the template is missing, broken, or reads a missing key.
    """
    try:
        return environment(theme).get_template(name).render(context)
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {_where(exc, name)}: {exc}") from exc
