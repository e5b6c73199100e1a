"""Every fixed word of an edition, from the catalogs, and Babel for the rest.

The words are the ``newsletter`` messages of :mod:`broadsheet.words`: plain
strings with ``str.format`` fields, translated in the gettext catalogs, which
a publication sets or rewords per language in ``[labels.LANG.newsletter]``.
They come in a :class:`~broadsheet.words.Words` value (``settings.words``),
passed to each function here; what neither the file nor a catalog gives is
in English, with Babel still formatting dates, lists and language names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.lists import format_list

from broadsheet import words as catalog
from broadsheet.model import Frequency
from broadsheet.words import Words

GROUP = "newsletter"


def locale(language: str) -> Locale:
    """The Babel locale of ``language`` (English when Babel does not know it)."""
    return catalog.locale(language)


def labels(words: Words, language: str) -> Mapping[str, str]:
    """Every label of an edition in ``language``: the publication's words first."""
    return words.table(GROUP, language)


def missing(words: Words, language: str) -> list[str]:
    """The labels ``language`` has no words for (English stands in), by key."""
    return words.missing(GROUP, language)


def label(words: Words, lang: str, key: str, **fields: object) -> str:
    """One label in the language ``lang`` with its fields filled in."""
    text = labels(words, lang)[key]
    return text.format(**fields) if fields else text


def format_day(day: date, language: str) -> str:
    """A date as written in ``language``: "23 ноября 2026 г.", "November 23, 2026"."""
    return str(babel_format_date(day, format="long", locale=locale(language)))


def join_names(names: tuple[str, ...] | list[str], language: str) -> str:
    """Names joined as ``language`` joins a list: "A, B and C", "A, B и C"."""
    return str(format_list(list(names), locale=locale(language))) if names else ""


def language_name(code: str, in_language: str) -> str:
    """The name of the language ``code``, written in ``in_language``."""
    name = locale(in_language).languages.get(code.split("-")[0], code)
    return str(name)


def read_in(words: Words, target: str, language: str) -> str:
    """ "Read in Russian" in ``language`` for a translation into ``target``."""
    text = words.built_in_word(f"read_in.{target}", language)
    return text if text is not None else f"{language_name(target, language)} ↗"


def this_edition_in(words: Words, target: str) -> str:
    """ "This edition in English", worded in the target language itself."""
    own = words.overrides(GROUP, target).get("this_edition_in")
    if own is not None:
        return own
    if catalog.has_catalog(target):
        return labels(words, target)["this_edition_in"]
    return language_name(target, target)


def why(words: Words, language: str, frequency: Frequency, title: str) -> str:
    """The footer line saying why the reader receives the edition."""
    key = f"why_{frequency}"
    prepositional = words.built_in_word(f"language_in.{language}", language)
    return label(
        words,
        language,
        key,
        title=title,
        language=language_name(language, "en"),
        language_prepositional=prepositional or language_name(language, language),
    )


def preheader(words: Words, language: str, lead: str, more: int, title: str) -> str:
    """Preview text: the lead story and how many more articles follow.

    One more is worded on its own ("and one more new article"); two or more
    take the catalog's plural form for the count.
    """
    table = labels(words, language)
    if more == 0:
        return table["preheader_alone"].format(lead=lead, title=title)
    if more == 1:
        return table["preheader_single"].format(lead=lead, title=title)
    text = words.plural(GROUP, language, "preheader", more)
    return text.format(lead=lead, count=more, title=title)


def text_direction(language: str) -> str:
    """``ltr`` or ``rtl``, for the ``dir`` attribute."""
    return "rtl" if locale(language).character_order == "right-to-left" else "ltr"


def greeting(words: Words, language: str, name: str) -> str:
    """ "Hello Anna," with a name, a neutral greeting without one."""
    clean = " ".join(name.split())
    if clean:
        return label(words, language, "greeting_named", name=clean)
    return label(words, language, "greeting_neutral")
