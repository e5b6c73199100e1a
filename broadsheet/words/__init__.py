"""The fixed words readers see: gettext catalogs, with a publication's own words over them.

broadsheet's words are the messages of the ``broadsheet`` gettext domain
(:mod:`broadsheet.words.messages` marks them; ``locale/LANG/LC_MESSAGES/
broadsheet.po`` translates them; ``docs/translations.md`` says how to add a
language). Each message's context is ``GROUP.KEY``, so the keys of
``[labels.LANG.GROUP]`` in ``broadsheet.toml`` (a public contract) name the
message they reword: ``[labels.ru.newsletter] lead`` rewords the message
``newsletter.lead``. The groups are an edition's labels (``newsletter``), the
subscription pages and the confirmation message (``pages``) and feed
descriptions and archive titles (``feeds``).

A publication's words are a :class:`Words` value built from its settings
(``settings.words``) and passed to whatever renders words; nothing is
installed anywhere, so publications with different words live side by side
in one process. Lookups go: the publication's words for the language, then
the catalog of the language, then (for a language without a catalog) English.

A message with plural forms (``NP_``) is chosen by a count with the
catalog's ``Plural-Forms``; in ``[labels.LANG.GROUP]`` its forms are the keys
``KEY_CATEGORY`` with the CLDR plural categories of the language
(``preheader_one``, ``preheader_few``, ``preheader_many``, ``preheader_other``).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import Final

from broadsheet.words import catalogs, messages
from broadsheet.words.catalogs import base_language, has_catalog, locale

__all__ = [
    "GROUPS",
    "Labels",
    "Words",
    "base_language",
    "built_in",
    "check",
    "fields",
    "has_catalog",
    "locale",
]

GROUPS: Final = ("newsletter", "pages", "feeds")
"""The groups of words a publication may set in ``[labels.LANG.GROUP]``."""

PLURAL_CATEGORIES: Final = ("zero", "one", "two", "few", "many", "other")
"""CLDR plural categories, in CLDR's order."""

Labels = Mapping[str, Mapping[str, Mapping[str, str]]]
"""Language -> group -> key -> text: a publication's own words."""

Gettext = Callable[..., str]


def fields(text: str) -> set[str]:
    """The ``{name}`` fields of a ``str.format`` template.

    Raises:
        ValueError: the template is malformed (an unmatched brace).
    """
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _categories(language: str) -> tuple[str, ...]:
    """The plural categories of ``language``, in CLDR order."""
    tags = set(locale(language).plural_form.tags) | {"other"}
    return tuple(category for category in PLURAL_CATEGORIES if category in tags)


@cache
def _samples(language: str) -> Mapping[str, int]:
    """A count in each plural category of ``language`` (the smallest one)."""
    rule = locale(language).plural_form
    found: dict[str, int] = {}
    for count in range(1000):
        found.setdefault(rule(count), count)
    return MappingProxyType({c: found[c] for c in PLURAL_CATEGORIES if c in found})


def _catalog_language(language: str | None) -> str:
    code = base_language(language)
    return code if code in catalogs.languages() else catalogs.SOURCE_LANGUAGE


@cache
def _built_in(group: str, code: str) -> Mapping[str, str]:
    translations = catalogs.translations(code)
    table: dict[str, str] = {}
    for message in messages.MESSAGES.values():
        if message.group != group:
            continue
        if message.plural is None:
            table[message.key] = translations.pgettext(message.context, message.singular)
            continue
        for category, count in _samples(code).items():
            table[f"{message.key}_{category}"] = translations.npgettext(
                message.context, message.singular, message.plural, count
            )
    return MappingProxyType(table)


def built_in(group: str, language: str | None) -> Mapping[str, str]:
    """The catalog's words of ``group`` in ``language`` (English without a catalog), by key.

    A message with plural forms is there once per plural category of the
    language, as ``KEY_CATEGORY`` with a count of that category.
    """
    return _built_in(group, _catalog_language(language))


@cache
def _allowed(group: str, language: str) -> Mapping[str, frozenset[str]]:
    """The keys ``[labels.LANGUAGE.GROUP]`` may set, with the fields each may use."""
    codes = sorted(catalogs.languages())
    allowed: dict[str, frozenset[str]] = {}
    for message in messages.MESSAGES.values():
        if message.group != group:
            continue
        texts = {message.singular, *([message.plural] if message.plural else [])}
        if message.plural is None:
            texts |= {_built_in(group, code)[message.key] for code in codes}
            allowed[message.key] = frozenset().union(*(fields(t) for t in texts))
            continue
        prefix = f"{message.key}_"
        for code in codes:
            texts |= {t for k, t in _built_in(group, code).items() if k.startswith(prefix)}
        used = frozenset().union(*(fields(t) for t in texts))
        for category in sorted(
            {*_categories(language), *_categories(catalogs.SOURCE_LANGUAGE)},
            key=PLURAL_CATEGORIES.index,
        ):
            allowed[prefix + category] = used
    return MappingProxyType(allowed)


def check(labels: Mapping[str, object], languages: tuple[str, ...], problems: list[str]) -> Labels:
    """``[labels]`` from the file, checked; each problem names its key.

    Every key must name a message of its group (a message with plural forms
    by ``KEY_CATEGORY``), and a text may only use the ``{fields}`` the
    message's English text and its translations use.
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
            known = _allowed(group, code)
            for key, text in words.items():
                if key not in known:
                    problems.append(
                        f"{where}.{key}: unknown key (known keys: {', '.join(sorted(known))})"
                    )
                    continue
                if not isinstance(text, str):
                    problems.append(f"{where}.{key}: expected text")
                    continue
                allowed = known[key]
                try:
                    used = fields(text)
                except ValueError as exc:
                    problems.append(f"{where}.{key}: {exc} (write {{{{ and }}}} for braces)")
                    continue
                unknown = sorted(used - allowed)
                if unknown:
                    shown = ", ".join(f"{{{name}}}" for name in sorted(allowed)) or "none"
                    problems.append(
                        f"{where}.{key}: unknown field {{{unknown[0]}}} (this text may use {shown})"
                    )
                    continue
                checked.setdefault(code, {}).setdefault(group, {})[key] = text
    return MappingProxyType(
        {
            code: MappingProxyType({g: MappingProxyType(w) for g, w in groups.items()})
            for code, groups in checked.items()
        }
    )


def _frozen(labels: Labels) -> Labels:
    return MappingProxyType(
        {
            base_language(code): MappingProxyType(
                {group: MappingProxyType(dict(words)) for group, words in groups.items()}
            )
            for code, groups in labels.items()
        }
    )


@dataclass(frozen=True)
class Words:
    """A publication's words: the catalogs with its ``[labels.LANG.GROUP]`` over them.

    Attributes:
        own: the publication's words, language (a base code) -> group -> key -> text.
    """

    own: Labels = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, labels: Labels) -> Words:
        """The words of a publication whose ``[labels]`` (already checked) are ``labels``."""
        return cls(_frozen(labels))

    def overrides(self, group: str, language: str | None) -> Mapping[str, str]:
        """The words of ``group`` the publication sets for ``language`` (often none)."""
        return self.own.get(base_language(language), {}).get(group, MappingProxyType({}))

    def has_words(self, language: str) -> bool:
        """Whether ``language`` has words of its own (a catalog, or the configuration)."""
        return has_catalog(language) or base_language(language) in self.own

    def table(self, group: str, language: str | None) -> Mapping[str, str]:
        """Every word of ``group`` in ``language``, by key: the publication's first."""
        table = built_in(group, language)
        own = self.overrides(group, language)
        return {**table, **own} if own else table

    def missing(self, group: str, language: str) -> list[str]:
        """The keys of ``group`` with no words in ``language`` (English stands in)."""
        if has_catalog(language):
            return []
        own = self.overrides(group, language)
        return [key for key in built_in(group, catalogs.SOURCE_LANGUAGE) if key not in own]

    def plural(self, group: str, language: str, key: str, count: int) -> str:
        """The form of the plural message ``GROUP.KEY`` for ``count`` (a template).

        The publication's ``KEY_CATEGORY`` for the count's plural category
        comes first; then the catalog's form for ``count`` (``npgettext``);
        a language without a catalog falls back on ``KEY_other``.
        """
        own = self.overrides(group, language)
        category = f"{key}_{locale(language).plural_form(count)}"
        if category in own:
            return own[category]
        message = messages.MESSAGES[f"{group}.{key}"]
        if has_catalog(language) and message.plural is not None:
            return catalogs.for_language(language).npgettext(
                message.context, message.singular, message.plural, count
            )
        table = self.table(group, language)
        return table.get(category, table[f"{key}_other"])

    def built_in_word(self, context: str, language: str) -> str | None:
        """A word the configuration does not set, in ``language``'s own catalog.

        ``None`` when the language has no catalog or there is no such message,
        so the caller can word it another way (with Babel's names, say).
        """
        message = messages.MESSAGES.get(context)
        if message is None or not has_catalog(language):
            return None
        return catalogs.for_language(language).pgettext(context, message.singular)

    def gettext_callables(self, language: str) -> Mapping[str, Gettext]:
        """``gettext``, ``ngettext``, ``pgettext`` and ``npgettext`` for a template context.

        They translate into ``language`` (English without a catalog) and
        honour the publication's words for ``GROUP.KEY`` contexts. jinja2's
        i18n extension (``{% trans %}``, ``_()``) calls them by these names
        from the render context; nothing is installed on the environment.
        """
        translations = catalogs.for_language(language)

        def own(context: str) -> str | None:
            group, _, key = context.partition(".")
            return self.overrides(group, language).get(key) if group in GROUPS else None

        def pgettext(context: str, message: str) -> str:
            mine = own(context)
            return mine if mine is not None else translations.pgettext(context, message)

        def npgettext(context: str, singular: str, plural: str, count: int) -> str:
            group, _, key = context.partition(".")
            if group in GROUPS:
                mine = self.overrides(group, language).get(
                    f"{key}_{locale(language).plural_form(count)}"
                )
                if mine is not None:
                    return mine
            return translations.npgettext(context, singular, plural, count)

        return MappingProxyType(
            {
                "gettext": translations.gettext,
                "ngettext": translations.ngettext,
                "pgettext": pgettext,
                "npgettext": npgettext,
            }
        )
