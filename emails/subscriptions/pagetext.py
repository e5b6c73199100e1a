"""The words of the subscription pages and the confirmation message, in English and Russian.

Strings are plain ``str.format`` templates. A publication sets or rewords
any of them per language in ``[labels.LANG.pages]`` (see
:mod:`broadsheet.wording`); what neither the file nor a built-in table gives
is in English (Babel still names the languages).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from broadsheet import wording
from broadsheet.model import Frequency

_EN: Final = MappingProxyType(
    {
        "subscribe_title": "Subscribe to the {title} newsletter",
        "subscribe_intro": (
            "Our analysis in your inbox, daily or once a week. "
            "We send a message to confirm your address first."
        ),
        "email": "Email address",
        "name": "Name (optional)",
        "language": "Language",
        "frequency": "How often",
        "frequency_daily": "Every day",
        "frequency_weekly": "Once a week",
        "topics": "Topics",
        "topics_hint": "Leave all unticked to receive every edition.",
        "subscribe_button": "Subscribe",
        "privacy": (
            "We use your address only to send the newsletter. "
            "Every message has a link to unsubscribe at once."
        ),
        "check_inbox_title": "Check your inbox",
        "check_inbox_text": (
            "If {email} can receive mail, a message is on its way to it now. "
            "Open the link inside within {hours} hours to confirm your subscription."
        ),
        "confirmed_title": "Subscription confirmed",
        "confirmed_text": "Thank you. {email} will receive the {title} newsletter.",
        "confirm_page_title": "Confirm your subscription",
        "confirm_question": "Send the {title} newsletter to {email}?",
        "confirm_stale_title": "This subscription was cancelled",
        "confirm_stale_text": (
            "The address was unsubscribed after this link was sent. "
            "Subscribe again if you want the newsletter."
        ),
        "unsubscribe_title": "Unsubscribe",
        "unsubscribe_question": "Stop sending the {title} newsletter to {email}?",
        "unsubscribe_button": "Unsubscribe",
        "unsubscribed_title": "You are unsubscribed",
        "unsubscribed_text": "{email} will receive no more newsletters from {title}.",
        "change_mind": "Changed your mind? Resume on your preferences page.",
        "preferences_title": "Newsletter preferences",
        "preferences_intro": "Choose what {email} receives from {title}.",
        "save_button": "Save preferences",
        "saved_title": "Preferences saved",
        "saved_text": "{email} will receive the newsletter as you chose.",
        "resume": "Resume my subscription",
        "status_unsubscribed": "This address is unsubscribed: nothing is sent to it.",
        "status_bounced": (
            "Mail to this address was refused, so nothing is sent to it. "
            "Subscribe again once it works."
        ),
        "status_pending": "This address is not confirmed yet: open the link we sent to it.",
        "unsubscribe_instead": "Unsubscribe from every newsletter",
        "bad_link_title": "This link does not work",
        "bad_link_text": (
            "It may be incomplete, altered or too old. Open the link from your latest "
            "newsletter again, or subscribe anew."
        ),
        "bad_field_title": "Please check the form",
        "bad_field": "{field}: {reason}",
        "too_many_title": "Too many requests",
        "too_many_text": "Please wait a few minutes and try again.",
        "unavailable_title": "Please try again later",
        "unavailable_text": "The confirmation message could not be sent just now.",
        "home": "Back to {title}",
        "confirm_subject": "Confirm your subscription to {title}",
        "confirm_greeting_named": "Hello {name},",
        "confirm_greeting": "Hello,",
        "confirm_body": (
            "Someone, probably you, asked to receive the {title} newsletter at this address. "
            "To confirm, open this link within {hours} hours:"
        ),
        "confirm_button": "Confirm my subscription",
        "already_subject": "Your {title} newsletter subscription",
        "already_text": (
            "This address is already subscribed to the {title} newsletter. "
            "To change what you receive, or to unsubscribe, open your preferences:"
        ),
        "confirm_ignore": (
            "If it was not you, ignore this message: without confirmation nothing more "
            "is sent to you."
        ),
    }
)

_RU: Final = MappingProxyType(
    {
        "subscribe_title": "Подписка на рассылку {title}",
        "subscribe_intro": (
            "Наша аналитика в вашей почте — каждый день или раз в неделю. "
            "Сначала мы попросим подтвердить адрес."
        ),
        "email": "Адрес электронной почты",
        "name": "Имя (необязательно)",
        "language": "Язык",
        "frequency": "Как часто",
        "frequency_daily": "Каждый день",
        "frequency_weekly": "Раз в неделю",
        "topics": "Темы",
        "topics_hint": "Не отмечайте ничего, чтобы получать все выпуски.",
        "subscribe_button": "Подписаться",
        "privacy": (
            "Мы используем ваш адрес только для рассылки. "
            "В каждом письме есть ссылка, чтобы сразу отписаться."
        ),
        "check_inbox_title": "Проверьте почту",
        "check_inbox_text": (
            "Если на адрес {email} приходит почта, письмо уже в пути. "
            "Откройте ссылку из него в течение {hours} ч., чтобы подтвердить подписку."
        ),
        "confirmed_title": "Подписка подтверждена",
        "confirmed_text": "Спасибо. Рассылка {title} будет приходить на адрес {email}.",
        "confirm_page_title": "Подтвердите подписку",
        "confirm_question": "Присылать рассылку {title} на адрес {email}?",
        "confirm_stale_title": "Эта подписка отменена",
        "confirm_stale_text": (
            "Адрес отписался уже после того, как было отправлено это письмо. "
            "Подпишитесь снова, если хотите получать рассылку."
        ),
        "unsubscribe_title": "Отписка",
        "unsubscribe_question": "Больше не присылать рассылку {title} на адрес {email}?",
        "unsubscribe_button": "Отписаться",
        "unsubscribed_title": "Вы отписались",
        "unsubscribed_text": "На адрес {email} больше не придёт рассылка {title}.",
        "change_mind": "Передумали? Подписку можно возобновить на странице настроек.",
        "preferences_title": "Настройки рассылки",
        "preferences_intro": "Выберите, что {title} присылает на адрес {email}.",
        "save_button": "Сохранить",
        "saved_title": "Настройки сохранены",
        "saved_text": "Рассылка будет приходить на адрес {email} так, как вы выбрали.",
        "resume": "Возобновить подписку",
        "status_unsubscribed": "Этот адрес отписан: на него ничего не отправляется.",
        "status_bounced": (
            "Почтовый сервер отклонил письма на этот адрес, поэтому на него ничего не "
            "отправляется. Подпишитесь снова, когда он заработает."
        ),
        "status_pending": "Адрес ещё не подтверждён: откройте ссылку из нашего письма.",
        "unsubscribe_instead": "Отписаться от всех рассылок",
        "bad_link_title": "Ссылка не работает",
        "bad_link_text": (
            "Возможно, она неполная, изменена или устарела. Откройте ссылку из последнего "
            "письма ещё раз или подпишитесь заново."
        ),
        "bad_field_title": "Проверьте форму",
        "bad_field": "{field}: {reason}",
        "too_many_title": "Слишком много запросов",
        "too_many_text": "Подождите несколько минут и попробуйте снова.",
        "unavailable_title": "Попробуйте позже",
        "unavailable_text": "Сейчас не удалось отправить письмо с подтверждением.",
        "home": "Вернуться на сайт {title}",
        "confirm_subject": "Подтвердите подписку на рассылку {title}",
        "confirm_greeting_named": "{name}, здравствуйте!",
        "confirm_greeting": "Здравствуйте!",
        "confirm_body": (
            "Кто-то — вероятно, вы — попросил присылать рассылку {title} на этот адрес. "
            "Чтобы подтвердить подписку, откройте ссылку в течение {hours} ч.:"
        ),
        "confirm_button": "Подтвердить подписку",
        "already_subject": "Ваша подписка на рассылку {title}",
        "already_text": (
            "Этот адрес уже подписан на рассылку {title}. "
            "Чтобы изменить настройки или отписаться, откройте страницу настроек:"
        ),
        "confirm_ignore": (
            "Если это были не вы, просто не отвечайте: без подтверждения мы больше ничего "
            "не пришлём."
        ),
    }
)

TABLES: Final = MappingProxyType({"en": _EN, "ru": _RU})
"""The built-in page strings, by language."""


def words(language: str) -> Mapping[str, str]:
    """Every page string in ``language``: the publication's words first, then built-in ones."""
    table = TABLES.get(wording.base_language(language), _EN)
    own = wording.overrides("pages", language)
    return {**table, **own} if own else table


def word(language: str, key: str, **fields: object) -> str:
    """One string in ``language`` with its fields filled in."""
    return words(language)[key].format(**fields)


def frequency_name(language: str, frequency: Frequency | str) -> str:
    """ "Every day" / "Once a week" in ``language``."""
    return word(language, f"frequency_{frequency}")


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
