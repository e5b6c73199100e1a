"""The fixed words a publication sets in its configuration (``[labels.LANG.GROUP]``).

broadsheet has its own words in English and Russian: the labels of an edition
(``newsletter``), of the subscription pages and the confirmation message
(``pages``) and of feed titles and descriptions (``feeds``). A publication
in another language gives its words in ``broadsheet.toml``; one in English
or Russian can reword any of them. What the file leaves out stays in the
built-in table of the language, or in English.

Loading the settings installs their words (:func:`use`); the tables in
:mod:`broadsheet.emails.edition.labels`, :mod:`broadsheet.emails.subscriptions.pagetext`
and :mod:`broadsheet.feeds.sets` consult
:func:`overrides` on every lookup.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

GROUPS: Final = ("newsletter", "pages", "feeds")
BUILT_IN: Final = ("en", "ru")
"""Languages with built-in words in every group."""

Labels = Mapping[str, Mapping[str, Mapping[str, str]]]
"""Language -> group -> key -> text."""

_current: Labels = MappingProxyType({})


def base_language(language: str | None) -> str:
    """``pt-BR`` -> ``pt``: the part of a language code the tables are keyed by."""
    return (language or "en").split("-")[0].lower()


def use(labels: Labels) -> None:
    """Install a publication's words, replacing those installed before."""
    global _current
    _current = MappingProxyType({base_language(code): groups for code, groups in labels.items()})


def overrides(group: str, language: str | None) -> Mapping[str, str]:
    """The words of ``group`` the publication sets for ``language`` (often none)."""
    return _current.get(base_language(language), {}).get(group, {})


def has_words(language: str) -> bool:
    """Whether ``language`` has words of its own (built in, or in the configuration)."""
    code = base_language(language)
    return code in BUILT_IN or code in _current


def built_in(group: str) -> Mapping[str, Mapping[str, str]]:
    """The built-in tables of ``group``, by language."""
    if group == "newsletter":
        from broadsheet.emails.edition.labels import TABLES as newsletter

        return newsletter
    if group == "pages":
        from broadsheet.emails.subscriptions.pagetext import TABLES as pages

        return pages
    from broadsheet.feeds.sets import WORDS as feeds

    return feeds


def fields(text: str) -> set[str]:
    """The ``{name}`` fields of a ``str.format`` template.

    Raises:
        ValueError: the template is malformed (an unmatched brace).
    """
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def check(labels: Mapping[str, object], languages: tuple[str, ...], problems: list[str]) -> Labels:
    """``[labels]`` from the file, checked; each problem names its key.

    Every key must be one of the built-in words of its group, and a text may
    only use the ``{fields}`` the built-in texts of that key use.
    """
    checked: dict[str, dict[str, dict[str, str]]] = {}
    for code, groups in labels.items():
        prefix = f"labels.{code}"
        if code not in languages:
            problems.append(f"{prefix}: language not in site.languages")
            continue
        if not isinstance(groups, Mapping):
            problems.append(f"{prefix}: expected a table of {', '.join(GROUPS)}")
            continue
        for group, words in groups.items():
            where = f"{prefix}.{group}"
            if group not in GROUPS:
                problems.append(f"{where}: unknown table (known: {', '.join(GROUPS)})")
                continue
            if not isinstance(words, Mapping):
                problems.append(f"{where}: expected a table of texts")
                continue
            tables = built_in(group)
            english = tables["en"]
            for key, text in words.items():
                if key not in english:
                    problems.append(
                        f"{where}.{key}: unknown key (known keys: {', '.join(sorted(english))})"
                    )
                    continue
                if not isinstance(text, str):
                    problems.append(f"{where}.{key}: expected text")
                    continue
                allowed = set().union(*(fields(t[key]) for t in tables.values() if key in t))
                try:
                    used = fields(text)
                except ValueError as exc:
                    problems.append(f"{where}.{key}: {exc} (write {{{{ and }}}} for braces)")
                    continue
                unknown = sorted(used - allowed)
                if unknown:
                    known = ", ".join(f"{{{name}}}" for name in sorted(allowed)) or "none"
                    problems.append(
                        f"{where}.{key}: unknown field {{{unknown[0]}}} (this text may use {known})"
                    )
                    continue
                checked.setdefault(code, {}).setdefault(group, {})[key] = text
    return MappingProxyType(
        {
            code: MappingProxyType({g: MappingProxyType(w) for g, w in groups.items()})
            for code, groups in checked.items()
        }
    )
