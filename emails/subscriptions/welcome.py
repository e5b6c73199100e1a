"""The welcome message: sent once to an address that has just confirmed.

It says, in the subscriber's language, what the newsletter is and when it
comes (the frequency's ``send_time`` and ``weekday`` in ``site.timezone``),
where the archive is, the donation appeal (``[donation.LANG]``) and how to
change preferences or unsubscribe. It is rendered from
``emails/welcome.html.j2`` and ``emails/welcome.txt.j2``, which an
``[emails] theme`` may extend block by block (``masthead``, ``intro``,
``schedule``, ``archive``, ``donation``, ``footer``); its words are the
``pages.welcome_*`` messages of the catalogs.

Only :meth:`broadsheet.emails.subscriptions.flows.Subscriptions.confirm`
sends it, right after confirming; ``subscribers.welcomed`` records that it
went, so it never goes twice. A welcome that cannot be delivered is logged
and left unsent (nothing retries it): the confirmation stands, and the
next edition is what the reader gets.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime, make_msgid
from typing import Any

from babel import Locale, UnknownLocaleError

from broadsheet.config import Settings
from broadsheet.emails.edition import headers, labels, links, render, tokens
from broadsheet.emails.edition.compose import OutgoingMessage, one_off_message
from broadsheet.emails.subscriptions import pagetext
from broadsheet.model import Frequency, Subscriber

__all__ = ["welcome_message"]

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekday_name(language: str, weekday: str) -> str:
    """``weekday`` (``"monday"``…) as ``language`` writes it, by Babel's locale data."""
    try:
        names = Locale.parse(language).days["format"]["wide"]
    except (UnknownLocaleError, ValueError):
        return weekday.capitalize()
    return str(names[_WEEKDAYS.index(weekday)])


def schedule_text(settings: Settings, language: str, frequency: Frequency) -> str:
    """ "You will receive it every day at 07:00 (Europe/Berlin)." in ``language``."""
    newsletter = settings.newsletters[frequency]
    words = settings.words
    fields: dict[str, Any] = {"time": newsletter.send_time, "zone": settings.site.timezone}
    if frequency is Frequency.WEEKLY:
        fields["weekday"] = _weekday_name(language, newsletter.weekday)
        return pagetext.word(words, language, "welcome_weekly", **fields)
    return pagetext.word(words, language, "welcome_daily", **fields)


def welcome_message(
    settings: Settings, subscriber: Subscriber, *, secret: str, now: datetime
) -> OutgoingMessage:
    """The welcome message for ``subscriber``, who has just confirmed.

    Headers are built as confirmations' are, with the From name of the
    subscriber's language, ``List-Unsubscribe`` (one click) and a DKIM
    signature when the publication signs.

    Raises:
        RenderError: a (themed) welcome template is broken.
    """
    language = subscriber.language
    title = settings.site.title_in(language)
    words = settings.words
    text = pagetext.words(words, language)
    subject = pagetext.word(words, language, "welcome_subject", title=title)
    unsubscribe_token = tokens.sign(secret, "unsubscribe", subscriber.id)
    unsubscribe_url = links.unsubscribe_url(settings, unsubscribe_token)
    preferences_url = links.preferences_url(
        settings, tokens.sign(secret, "preferences", subscriber.id)
    )
    greeting = (
        pagetext.word(words, language, "confirm_greeting_named", name=subscriber.name)
        if subscriber.name
        else text["confirm_greeting"]
    )
    context = {
        "lang": language,
        "dir": labels.text_direction(language),
        "t": text,
        "title": title,
        "subject": subject,
        "greeting": greeting,
        "intro": pagetext.word(words, language, "welcome_intro", title=title),
        "schedule": schedule_text(settings, language, subscriber.frequency),
        "frequency": str(subscriber.frequency),
        "archive_url": links.archive_url(settings, language),
        "donation": settings.donation.get(language),
        "preferences_url": preferences_url,
        "unsubscribe_url": unsubscribe_url,
        "site_url": settings.site.url,
        "postal_address": settings.postal_address(language),
        "accent": settings.site.accent_color,
        **words.gettext_callables(language),
    }
    theme = settings.emails.theme
    message_id = make_msgid("welcome", domain=settings.site.domain)
    list_name = headers.clean(settings.sender_name(language), limit=60) or "newsletter"
    head = [
        headers.address("From", settings.sender_name(language), settings.sender.email),
        headers.address("To", subscriber.name, subscriber.email),
        headers.unstructured("Subject", subject),
        headers.fold("Date", [format_datetime(now)]),
        f"Message-ID: {message_id}\r\n",
        headers.fold("List-Id", [*headers.text_tokens(list_name), f"<{settings.list_id}>"]),
        headers.fold("List-Unsubscribe", [f"<{unsubscribe_url}>"]),
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
    ]
    return one_off_message(
        settings,
        head,
        text=render.render("emails/welcome.txt.j2", context, theme=theme),
        html=render.render("emails/welcome.html.j2", context, theme=theme),
        message_id=message_id,
        recipient=subscriber.email,
    )
