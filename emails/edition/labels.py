"""Every fixed word of an edition, in English and Russian, and Babel for the rest.

Labels are plain strings with ``str.format`` fields. A publication sets or
rewords any of them per language in ``[labels.LANG.newsletter]`` (see
:mod:`broadsheet.wording`); what neither the file nor a built-in table gives
is in English, with Babel still formatting dates, lists and language names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Final

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.lists import format_list

from broadsheet import wording
from broadsheet.model import Frequency

_EN: Final = MappingProxyType(
    {
        "edition_daily": "Daily newsletter",
        "edition_weekly": "Weekly newsletter",
        "new_daily": "New today",
        "new_weekly": "New this week",
        "lead": "Lead story",
        "read_also": "Read also",
        "top_reads": "Top reads",
        "read_more": "Read the article",
        "by": "By {authors}",
        "by_one": "By {authors}",
        "greeting_named": "Hello {name},",
        "greeting_neutral": "Dear reader,",
        "intro_daily": "Here is what {title} published since yesterday's letter.",
        "intro_weekly": "Here is what {title} published this week, and what readers read most.",
        "preheader_single": "{lead} and one more new article from {title}",
        "preheader_one": "{lead} and {count} more new article from {title}",
        "preheader_other": "{lead} and {count} more new articles from {title}",
        "preheader_alone": "{lead}: new from {title}",
        "this_edition_in": "This edition in English",
        "view_in_browser": "View this email in your browser",
        "why_daily": (
            "You receive this because you subscribed to the daily {title} newsletter in {language}."
        ),
        "why_weekly": (
            "You receive this because you subscribed to the weekly {title} newsletter in "
            "{language}."
        ),
        "preferences": "Change your preferences",
        "unsubscribe": "Unsubscribe",
        "archive": "Past editions",
        "web_copy": "This is the web copy of an edition of the {title} newsletter.",
        "subscribe_hint": "Subscribe on {site} to receive it by email.",
        "archive_title": "{title} newsletter: past editions",
        "archive_intro": "Every edition of the newsletter in English, newest first.",
        "archive_empty": "No edition has been published yet.",
        "logo_home": "{title} home page",
        "links": "Links",
    }
)

_RU: Final = MappingProxyType(
    {
        "edition_daily": "Ежедневная рассылка",
        "edition_weekly": "Еженедельная рассылка",
        "new_daily": "Новое за день",
        "new_weekly": "Новое за неделю",
        "lead": "Главный материал",
        "read_also": "Читайте также",
        "top_reads": "Самое читаемое",
        "read_more": "Читать статью",
        "by": "Авторы: {authors}",
        "by_one": "Автор: {authors}",
        "greeting_named": "Здравствуйте, {name}!",
        "greeting_neutral": "Здравствуйте!",
        "intro_daily": "Вот что {title} опубликовал со времени вчерашнего письма.",
        "intro_weekly": "Вот что {title} опубликовал за неделю и что читатели читали больше всего.",
        "preheader_single": "{lead} и ещё одна новая статья — {title}",
        "preheader_one": "{lead} и ещё {count} новая статья — {title}",
        "preheader_few": "{lead} и ещё {count} новые статьи — {title}",
        "preheader_many": "{lead} и ещё {count} новых статей — {title}",
        "preheader_other": "{lead} и ещё {count} новых статьи — {title}",
        "preheader_alone": "{lead} — новое в {title}",
        "this_edition_in": "Этот выпуск на русском",
        "view_in_browser": "Открыть письмо в браузере",
        "why_daily": (
            "Вы получили это письмо, потому что подписались на ежедневную рассылку "
            "«{title}» на {language_prepositional} языке."
        ),
        "why_weekly": (
            "Вы получили это письмо, потому что подписались на еженедельную рассылку "
            "«{title}» на {language_prepositional} языке."
        ),
        "preferences": "Настроить подписку",
        "unsubscribe": "Отписаться",
        "archive": "Архив выпусков",
        "web_copy": "Это веб-версия выпуска рассылки «{title}».",
        "subscribe_hint": "Подпишитесь на сайте {site}, чтобы получать её по почте.",
        "archive_title": "Рассылка «{title}»: архив выпусков",
        "archive_intro": "Все выпуски рассылки на русском языке, начиная с последнего.",
        "archive_empty": "Ни одного выпуска пока не вышло.",
        "logo_home": "Главная страница «{title}»",
        "links": "Ссылки",
    }
)

TABLES: Final = MappingProxyType({"en": _EN, "ru": _RU})
"""The built-in labels, by language."""

# "Read in Russian" is worded in the edition's language; the Russian
# preposition needs the prepositional case, which Babel does not give.
_READ_IN: Final = MappingProxyType(
    {
        "en": MappingProxyType({"en": "Read in English", "ru": "Read in Russian"}),
        "ru": MappingProxyType({"en": "Читать на английском", "ru": "Читать на русском"}),
    }
)
_PREPOSITIONAL: Final = MappingProxyType({"en": "английском", "ru": "русском"})


def locale(language: str) -> Locale:
    """The Babel locale of ``language`` (English when Babel does not know it)."""
    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def labels(language: str) -> Mapping[str, str]:
    """Every label of an edition in ``language``: the publication's words first."""
    table = TABLES.get(wording.base_language(language), _EN)
    own = wording.overrides("newsletter", language)
    return {**table, **own} if own else table


def missing(language: str) -> list[str]:
    """The labels ``language`` has no words for (English stands in), by key."""
    if wording.base_language(language) in TABLES:
        return []
    own = wording.overrides("newsletter", language)
    return [key for key in _EN if key not in own]


def label(lang: str, key: str, **fields: object) -> str:
    """One label in the language ``lang`` with its fields filled in."""
    text = labels(lang)[key]
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


def read_in(target: str, language: str) -> str:
    """ "Read in Russian" in ``language`` for a translation into ``target``."""
    table = _READ_IN.get(language.split("-")[0])
    if table and target in table:
        return table[target]
    return f"{language_name(target, language)} ↗"


def this_edition_in(target: str) -> str:
    """ "This edition in English", worded in the target language itself."""
    own = wording.overrides("newsletter", target).get("this_edition_in")
    if own is not None:
        return own
    table = TABLES.get(wording.base_language(target))
    if table is not None:
        return table["this_edition_in"]
    return language_name(target, target)


def why(language: str, frequency: Frequency, title: str) -> str:
    """The footer line saying why the reader receives the edition."""
    key = f"why_{frequency}"
    return label(
        language,
        key,
        title=title,
        language=language_name(language, "en"),
        language_prepositional=_PREPOSITIONAL.get(language, language_name(language, language)),
    )


def preheader(language: str, lead: str, more: int, title: str) -> str:
    """Preview text: the lead story and how many more articles follow."""
    table = labels(language)
    if more == 0:
        return table["preheader_alone"].format(lead=lead, title=title)
    key = "preheader_single" if more == 1 else f"preheader_{locale(language).plural_form(more)}"
    text = table.get(key, table["preheader_other"])
    return text.format(lead=lead, count=more, title=title)


def text_direction(language: str) -> str:
    """``ltr`` or ``rtl``, for the ``dir`` attribute."""
    return "rtl" if locale(language).character_order == "right-to-left" else "ltr"


def greeting(language: str, name: str) -> str:
    """ "Hello Anna," with a name, a neutral greeting without one."""
    clean = " ".join(name.split())
    if clean:
        return label(language, "greeting_named", name=clean)
    return label(language, "greeting_neutral")
