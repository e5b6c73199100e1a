"""The words of the subscription pages and the confirmation message, from the catalogs.

They are the ``pages`` messages of :mod:`broadsheet.words`: plain
``str.format`` templates, translated in the gettext catalogs, which a
publication sets or rewords per language in ``[labels.LANG.pages]``. They
come in a :class:`~broadsheet.words.Words` value (``settings.words``);
what neither the file nor a catalog gives is in English (Babel still names
the languages).
"""

from __future__ import annotations

from collections.abc import Mapping

from broadsheet.model import Frequency
from broadsheet.words import Words

GROUP = "pages"


def words(all_words: Words, language: str) -> Mapping[str, str]:
    """Every page string in ``language``: the publication's words first, then the catalog's."""
    return all_words.table(GROUP, language)


def word(all_words: Words, language: str, key: str, **fields: object) -> str:
    """One string in ``language`` with its fields filled in."""
    return words(all_words, language)[key].format(**fields)


def frequency_name(all_words: Words, language: str, frequency: Frequency | str) -> str:
    """ "Every day" / "Once a week" in ``language``."""
    return word(all_words, language, f"frequency_{frequency}")


def newsletter_name(all_words: Words, language: str, newsletter: str, frequency: str) -> str:
    """One newsletter named in ``language``: ``English · Once a week``."""
    from broadsheet.emails.edition.labels import language_name

    return word(
        all_words,
        language,
        "newsletter_choice",
        language_name=language_name(newsletter, language),
        how_often=frequency_name(all_words, language, frequency),
    )


def pick_language(candidates: list[str | None], accept: str, languages: tuple[str, ...]) -> str:
    """The first candidate among ``languages``, else the best of ``Accept-Language``.

    Args:
        candidates: explicit choices in order (a ``?lang=`` query, a form field).
        accept: the ``Accept-Language`` header.
        languages: the site's languages, the first being the default.
    """
    for candidate in candidates:
        if candidate and candidate in languages:
            return candidate
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        code = tag.strip().lower().split("-")[0]
        if code in languages and quality > 0:
            ranked.append((-quality, position, code))
    return sorted(ranked)[0][2] if ranked else languages[0]
