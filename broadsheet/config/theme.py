"""A publication's templates: the built-in ones, and its theme over them.

``[emails] theme = "theme/"`` names a folder laid out like the shipped
``templates/`` (``emails/edition.html.j2``, ``web/archive.html.j2``, ...). A
template there is used instead of the built-in one of the same name, and
reaches the built-in one under the ``builtin:`` prefix, so it overrides only
the blocks it names::

    {% extends "builtin:emails/edition.html.j2" %}
    {% block donation %}...{% endblock %}

:func:`environment` is the one jinja2 environment factory (``StrictUndefined``,
autoescape for HTML, the text filters): one environment per theme folder,
cached by its path, so two publications with different themes render
differently in one process. :func:`check_theme` compiles every template of a
theme when the settings load; the loader reports what it finds under the key
``emails.theme``, with the file and line.

This module is core (the settings check a theme as they load), so the
edition room's :mod:`broadsheet.emails.edition.render` builds on it.
"""

from __future__ import annotations

import textwrap
from functools import cache
from pathlib import Path

import jinja2
import jinja2.meta
from jinja2 import nodes

from broadsheet.resources import templates_dir

TEXT_WIDTH = 72
"""Columns of the plain-text twin."""

BUILTIN = "builtin"
"""The prefix naming a built-in template from a theme: ``builtin:emails/edition.html.j2``."""

_ALWAYS = frozenset(
    {"gettext", "ngettext", "pgettext", "npgettext", "_", "self", "super", "loop", "caller"}
)
"""Names a template may read without its context giving them."""


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


def _loader(theme: Path | None) -> jinja2.BaseLoader:
    builtin = jinja2.FileSystemLoader(str(templates_dir()))
    if theme is None:
        return builtin
    return jinja2.ChoiceLoader(
        [
            jinja2.PrefixLoader({BUILTIN: builtin}, delimiter=":"),
            jinja2.FileSystemLoader(str(theme)),
            builtin,
        ]
    )


@cache
def environment(theme: Path | None = None) -> jinja2.Environment:
    """The environment of a publication whose theme is ``theme`` (``None``: no theme).

    One per theme folder (cached by its path); the built-in templates stay
    reachable as ``builtin:NAME``.
    """
    env = jinja2.Environment(
        loader=_loader(theme),
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


def _files(folder: Path) -> list[str]:
    """Template names under ``folder`` (posix, relative), hidden files left out."""
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.parts)
    )


def _blocks(env: jinja2.Environment, name: str, seen: frozenset[str] = frozenset()) -> set[str]:
    """Every block ``name`` offers to a template extending it (its own and its parents')."""
    if name in seen:
        return set()
    source = env.loader.get_source(env, name)[0] if env.loader else ""
    tree = env.parse(source, name)
    found = {block.name for block in tree.find_all(nodes.Block)}
    for extends in tree.find_all(nodes.Extends):
        if isinstance(extends.template, nodes.Const) and isinstance(extends.template.value, str):
            found |= _blocks(env, extends.template.value, seen | {name})
    return found


def _known_variables(env: jinja2.Environment) -> set[str]:
    """The names the built-in templates read from their context."""
    builtin = templates_dir()
    names: set[str] = set(env.globals) | _ALWAYS
    for name in _files(builtin):
        if name.endswith(".j2"):
            tree = env.parse((builtin / name).read_text(encoding="utf-8"), name)
            names |= jinja2.meta.find_undeclared_variables(tree)
            # What a built-in template imports ({% import ... as m %}) its blocks see too.
            names |= {node.target for node in tree.find_all(nodes.Import)}
            for node in tree.find_all(nodes.FromImport):
                names |= {n if isinstance(n, str) else n[1] for n in node.names}
    return names


def _nested(tree: nodes.Template) -> set[int]:
    """ids of the blocks defined inside another block (new blocks a theme may add)."""
    inner: set[int] = set()
    for block in tree.find_all(nodes.Block):
        inner |= {id(child) for child in block.find_all(nodes.Block)}
    return inner


def check_theme(theme: Path, shown: str) -> list[str]:
    """Compile every template of ``theme``; what is wrong, each with its file and line.

    Checks syntax (and unknown filters or tests), that templates a theme
    extends, includes or imports exist, that a block it overrides is a block
    of the template it extends, and that it reads only variables the built-in
    templates are given.

    Args:
        theme: the theme folder (absolute).
        shown: how to name the folder in messages (as written in the file).
    """
    if not theme.is_dir():
        return [f"not a folder: {shown} ({theme})"]
    env = environment(theme)
    known = _known_variables(env)
    problems: list[str] = []
    for name in _files(theme):
        where = f"{shown.rstrip('/')}/{name}"
        try:
            source = (theme / name).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            problems.append(f"{where}: not valid UTF-8 at byte {exc.start}")
            continue
        except OSError as exc:
            problems.append(f"{where}: cannot read: {exc.strerror}")
            continue
        try:
            tree = env.parse(source, name, str(theme / name))
            env.compile(tree, name, str(theme / name))
        except jinja2.TemplateSyntaxError as exc:
            problems.append(f"{where}:{exc.lineno}: {exc.message}")
            continue
        problems.extend(_check_tree(env, tree, name, where, known))
    return problems


def _check_tree(
    env: jinja2.Environment, tree: nodes.Template, name: str, where: str, known: set[str]
) -> list[str]:
    problems: list[str] = []
    parents: list[str] = []
    for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        assert isinstance(node, nodes.Extends | nodes.Include | nodes.Import | nodes.FromImport)
        target = node.template
        if not (isinstance(target, nodes.Const) and isinstance(target.value, str)):
            continue
        if target.value == name:
            problems.append(
                f"{where}:{node.lineno}: uses itself; the built-in one is {BUILTIN}:{name}"
            )
            continue
        try:
            env.get_template(target.value)
        except jinja2.TemplateNotFound:
            problems.append(f"{where}:{node.lineno}: no template {target.value!r}")
            continue
        except jinja2.TemplateSyntaxError:
            continue  # reported as that template's own problem
        if isinstance(node, nodes.Extends):
            parents.append(target.value)
    if parents:
        offered = set().union(*(_blocks(env, parent) for parent in parents))
        nested = _nested(tree)
        for block in tree.find_all(nodes.Block):
            if id(block) not in nested and block.name not in offered:
                problems.append(
                    f"{where}:{block.lineno}: block {block.name!r} is not a block of "
                    f"{parents[0]} (its blocks: {', '.join(sorted(offered))})"
                )
    for variable in sorted(jinja2.meta.find_undeclared_variables(tree) - known):
        line = next(
            (n.lineno for n in tree.find_all(nodes.Name) if n.name == variable and n.ctx == "load"),
            1,
        )
        problems.append(
            f"{where}:{line}: {variable!r} is undefined (no built-in template is given it)"
        )
    return problems
