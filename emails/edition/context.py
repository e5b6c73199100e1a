"""The template context of an edition: typed, complete, built from selected articles.

:func:`build_context` turns what the scheduler selected into the one
``TypedDict`` the HTML and text templates read; the templates make no
decisions beyond layout. Content strings are defused so no article can pose
as a personal placeholder, and every URL is absolute.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, NotRequired, TypedDict

from broadsheet.config import Settings
from broadsheet.emails.edition import appeals, links
from broadsheet.emails.edition import labels as words
from broadsheet.emails.edition.personalize import GREETING, PREFERENCES_URL, UNSUBSCRIBE_URL, defuse
from broadsheet.model import Article, Frequency
from broadsheet.text import as_uri

log = logging.getLogger(__name__)

Mode = Literal["email", "web"]


class Translation(TypedDict):
    """A link to the same article in another language."""

    language: str
    label: str
    url: str


class Item(TypedDict):
    """One article as the templates show it."""

    id: str
    url: str
    title: str
    section: str
    byline: str
    standfirst: str
    date: str
    image: str | None
    image_alt: str
    translations: list[Translation]


class Donation(TypedDict):
    """The donation appeal, or one of its wordings (:mod:`~broadsheet.emails.edition.appeals`).

    ``variant`` names the wording (``appeal``, ``v1``…, ``thanks``, ``renew``),
    ``kind`` its purpose (``appeal``, ``thanks``, ``renew``); a thank-you has
    no ``button_label`` (and no ``url``).
    """

    heading: str
    text: str
    button_label: str
    url: str
    variant: NotRequired[str]
    kind: NotRequired[str]


class OtherEdition(TypedDict):
    """The same edition in another language."""

    language: str
    label: str
    url: str


FEED_TYPES: Mapping[str, tuple[str, str]] = {
    "rss": ("application/rss+xml", "RSS"),
    "atom": ("application/atom+xml", "Atom"),
    "json": ("application/feed+json", "JSON Feed"),
}
"""Each feed format's media type and name, for autodiscovery links (as the feeds write them)."""


def feed_links(settings: Settings, language: str) -> list[dict[str, str]]:
    """Autodiscovery links to the feeds of ``language``, one per configured format.

    The language's own feed (``[feeds] url``/``en.atom``) when the ``language``
    set is built, else the site's (``all.atom``); none when neither is. The
    URLs follow the feeds' layout (docs/feeds.md): emails do not read the
    feeds folder, which may be built later or elsewhere.
    """
    sets = settings.feeds.sets
    base = language if "language" in sets else "all" if "site" in sets else None
    if base is None:
        return []
    title = settings.site.title_in(language)
    return [
        {
            "type": FEED_TYPES[fmt][0],
            "title": f"{title} ({FEED_TYPES[fmt][1]})",
            "href": f"{settings.feeds_url}/{base}.{fmt}",
            "hreflang": language,
        }
        for fmt in settings.feeds.formats
        if fmt in FEED_TYPES
    ]


class EditionContext(TypedDict):
    """Everything the edition templates read."""

    mode: Mode
    lang: str
    dir: str
    accent: str
    page_title: str
    heading: str
    edition_label: str
    date_text: str
    site_title: str
    site_url: str
    logo_url: str | None
    logo_alt: str
    preheader: str
    greeting: str
    intro: str
    lead: Item | None
    read_also: list[Item]
    new: list[Item]
    top: list[Item]
    new_heading: str
    donation: Donation | None
    donations: list[Donation]
    other_editions: list[OtherEdition]
    view_url: str
    archive_url: str
    preferences_url: str
    unsubscribe_url: str
    why: str
    postal_address: str
    web_copy_note: str
    more_url: str | None
    feed_links: list[dict[str, str]]
    labels: Mapping[str, str]


@dataclass(frozen=True)
class EditionContent:
    """What one edition shows, gathered by the scheduler.

    Attributes:
        edition_id: e.g. ``weekly-en-2026-11-23``.
        language: the edition's language.
        frequency: daily or weekly.
        slot: the time the edition belongs to (its date is shown).
        new: the new articles, lead story first.
        top: the top reads, most read first.
        read_also: articles related to the lead story.
        since: new articles were published after this.
        until: ...and at or before this (the edition's cutoff).
        window: first and last day of the views that ranked the top reads.
        translations: article id -> its live translations.
        other_editions: language -> web copy URL of the same edition in that language.
    """

    edition_id: str
    language: str
    frequency: Frequency
    slot: datetime
    new: Sequence[Article]
    top: Sequence[Article]
    read_also: Sequence[Article]
    since: datetime
    until: datetime
    window: tuple[date, date]
    translations: Mapping[str, Sequence[Article]] = field(default_factory=dict)
    other_editions: Mapping[str, str] = field(default_factory=dict)


def _item(article: Article, content: EditionContent, settings: Settings) -> Item:
    language = content.language
    translations: list[Translation] = [
        Translation(
            language=other.language,
            label=words.read_in(settings.words, other.language, language),
            url=links.with_utm(other.url, settings, edition_id=content.edition_id),
        )
        for other in content.translations.get(article.id, ())
    ]
    byline = ""
    if article.authors:
        key = "by_one" if len(article.authors) == 1 else "by"
        byline = words.label(
            settings.words,
            language,
            key,
            authors=words.join_names(
                [settings.site.author_in(name, language) for name in article.authors], language
            ),
        )
    day = article.published.astimezone(settings.site.tz).date()
    return Item(
        id=article.id,
        url=links.with_utm(article.url, settings, edition_id=content.edition_id),
        title=defuse(article.title),
        section=defuse(
            settings.site.section_in(article.section, language) if article.section else ""
        ),
        byline=defuse(byline),
        standfirst=defuse(article.standfirst),
        date=words.format_day(day, language),
        image=as_uri(article.image) if article.image else None,
        image_alt=defuse(article.image_alt or article.title),
        translations=translations,
    )


def _donation(settings: Settings, language: str, edition_id: str) -> Donation | None:
    appeal = settings.donation.get(language)
    if appeal is None:
        log.warning(
            "no [donation.%s] table in %s: the %s edition has no donation block",
            language,
            settings.path,
            language,
        )
        return None
    return Donation(
        heading=appeal.heading,
        text=appeal.text,
        button_label=appeal.button_label,
        url=links.with_utm(appeal.url, settings, edition_id=edition_id),
    )


def _wordings(settings: Settings, language: str, appeal: Donation | None) -> list[Donation]:
    """Every wording of the donation block a message may carry (none without an appeal)."""
    if appeal is None:
        return []
    return [
        Donation(
            heading=block["heading"],
            text=block["text"],
            button_label=block["button_label"],
            url=block["url"],
            variant=block["variant"],
            kind=block["kind"],
        )
        for block in appeals.alternatives(settings, language, appeal["url"])
    ]


def _intro_key(content: EditionContent) -> str:
    """The opening line's label: a weekly edition without top reads does not promise them."""
    if content.frequency == "weekly" and not content.top:
        return "intro_weekly_new_only"
    return f"intro_{content.frequency}"


def build_context(content: EditionContent, settings: Settings, *, mode: Mode) -> EditionContext:
    """The template context of ``content``.

    Args:
        content: the selected articles and the edition's identity.
        settings: the publication's settings.
        mode: ``email`` leaves personal placeholders (greeting, unsubscribe and
            preferences links) for :mod:`broadsheet.emails.edition.personalize`; ``web`` is the
            public web copy, with no personal parts.
    """
    language = content.language
    table = words.labels(settings.words, language)
    title = settings.site.title_in(language)
    local_day = content.slot.astimezone(settings.site.tz).date()
    date_text = words.format_day(local_day, language)
    edition_label = table[f"edition_{content.frequency}"]
    items = [_item(article, content, settings) for article in content.new]
    lead = items[0] if items else None
    lead_title = lead["title"] if lead else title
    others = [
        OtherEdition(language=code, label=words.this_edition_in(settings.words, code), url=url)
        for code, url in sorted(content.other_editions.items())
    ]
    logo = settings.site.logo
    email = mode == "email"
    donation = _donation(settings, language, content.edition_id)
    return EditionContext(
        mode=mode,
        lang=language,
        dir=words.text_direction(language),
        accent=settings.site.accent_color
        if settings.site.accent_color.startswith("#")
        else "#" + settings.site.accent_color,
        page_title=f"{title} — {edition_label}, {date_text}",
        heading=edition_label,
        edition_label=edition_label,
        date_text=date_text,
        site_title=title,
        site_url=settings.site.url,
        logo_url=links.absolute(settings, logo) if logo else None,
        logo_alt=title,
        preheader=words.preheader(
            settings.words, language, lead_title, max(len(items) - 1, 0), title
        ),
        greeting=GREETING if email else "",
        intro=table[_intro_key(content)].format(title=title),
        lead=lead,
        read_also=[_item(article, content, settings) for article in content.read_also],
        new=items[1:],
        top=[_item(article, content, settings) for article in content.top],
        new_heading=table[f"new_{content.frequency}"],
        donation=donation,
        donations=_wordings(settings, language, donation) if email else [],
        other_editions=others,
        view_url=links.edition_url(settings, language, content.edition_id),
        archive_url=links.archive_url(settings, language),
        preferences_url=PREFERENCES_URL if email else "",
        unsubscribe_url=UNSUBSCRIBE_URL if email else "",
        why=words.why(settings.words, language, content.frequency, title),
        postal_address=settings.postal_address(language),
        web_copy_note=table["web_copy"].format(title=title),
        more_url=None,
        labels=table,
        feed_links=[] if email else feed_links(settings, language),
    )


def _plain_item(item: Item, settings: Settings, edition_id: str) -> Item:
    plain = Item(**item)
    plain["url"] = links.without_utm(item["url"], settings, edition_id=edition_id)
    plain["translations"] = [
        Translation(
            language=other["language"],
            label=other["label"],
            url=links.without_utm(other["url"], settings, edition_id=edition_id),
        )
        for other in item["translations"]
    ]
    return plain


def _plain_donation(donation: Donation, settings: Settings, edition_id: str) -> Donation:
    plain = Donation(**donation)
    plain["url"] = links.without_utm(donation["url"], settings, edition_id=edition_id)
    return plain


def text_context(context: EditionContext, settings: Settings, *, edition_id: str) -> EditionContext:
    """The plain-text twin's context: ``context`` with its links shown as plain addresses.

    A text part shows its URLs: each is read, copied into a browser or shared
    as it stands, and wrapped at 72 columns. So unless ``[emails] text_utm``
    is on, the text twin's links go without the UTM tags the HTML part's
    links carry (:func:`~broadsheet.emails.edition.links.without_utm`). Call
    it only on links that go straight to their page: counted links
    (``/r/TOKEN``) carry no tags, and the redirect adds them.

    Args:
        context: the email's context (after counting and clipping).
        settings: the publication's settings.
        edition_id: the edition the tags name.
    """
    if settings.emails.text_utm:
        return context
    plain = EditionContext(**context)
    lead = context["lead"]
    plain["lead"] = _plain_item(lead, settings, edition_id) if lead else None
    plain["read_also"] = [_plain_item(i, settings, edition_id) for i in context["read_also"]]
    plain["new"] = [_plain_item(i, settings, edition_id) for i in context["new"]]
    plain["top"] = [_plain_item(i, settings, edition_id) for i in context["top"]]
    donation = context["donation"]
    plain["donation"] = _plain_donation(donation, settings, edition_id) if donation else None
    plain["donations"] = [_plain_donation(d, settings, edition_id) for d in context["donations"]]
    return plain
