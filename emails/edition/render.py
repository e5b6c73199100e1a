"""The one jinja2 environment: templates are data, rendered strictly.

``StrictUndefined`` turns a missing context key into an error rather than a
blank; HTML templates are autoescaped, text templates are not. Failures
leave as :class:`~broadsheet.errors.RenderError` naming the template.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2

from broadsheet.errors import RenderError
from broadsheet.resources import templates_dir

TEXT_WIDTH = 72
"""Columns of the plain-text twin."""


def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "") -> str:
    """``text`` as paragraphs wrapped at ``width`` columns; long URLs stay whole."""
    paragraphs = [" ".join(p.split()) for p in str(text).split("\n\n")]
    return "\n\n".join(
        textwrap.fill(
            p,
            width=width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        for p in paragraphs
        if p
    )


def rule(width: int = TEXT_WIDTH, char: str = "-") -> str:
    """A horizontal rule for the text twin."""
    return char * width


@cache
def environment() -> jinja2.Environment:
    """The shared environment, loading from the shipped ``templates/`` folder."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "html.j2", "xml.j2"),
            disabled_extensions=("txt", "txt.j2", "css"),
            default_for_string=True,
            default=True,
        ),
        undefined=jinja2.StrictUndefined,
        # {% trans %} and _() call gettext, ngettext, pgettext, npgettext from each
        # render's context (``Words.gettext_callables``): no words live on the environment.
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = wrap
    env.globals["rule"] = rule
    return env


def render(name: str, context: Mapping[str, Any]) -> str:
    """Render the template ``name`` (e.g. ``emails/edition.html.j2``).

    Raises:
        RenderError: the template is missing, broken, or reads a missing key.
    """
    try:
        return environment().get_template(name).render(context)
    except jinja2.TemplateError as exc:
        where = (
            f"{exc.filename}:{exc.lineno}" if isinstance(exc, jinja2.TemplateSyntaxError) else name
        )
        raise RenderError(f"template {where}: {exc}") from exc
