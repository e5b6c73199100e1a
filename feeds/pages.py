"""Feeds for people: a small HTML page beside each feed (``section/economy.html``).

A feed opened in a browser is XML or JSON, or (with the XSL stylesheet) a
page that browsers are ceasing to draw. So every current feed also gets a
page of its own at the same path with ``.html``, which any static web server
serves: its newest entries (title, date, authors, standfirst, link), a few
words in the feed's language on what a feed is and how to follow it in a
reader, a link to each format's URL, and ``<link rel="alternate">`` tags
so a browser or reader given the page finds the feeds.

Like the feeds, a page is byte-stable (no "now": its dates are its
entries'), written only when its bytes change, and removed with its feed.
The template is ``templates/feeds/page.html.j2``; the words are the
``feeds.page_*`` messages of the gettext catalogs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jinja2
from babel.dates import format_date
from babel.lists import format_list
from markupsafe import Markup

from broadsheet.config.theme import environment
from broadsheet.errors import RenderError
from broadsheet.feeds.model import MEDIA_TYPES, Entry, Format
from broadsheet.words.catalogs import locale

__all__ = ["PAGE_SUFFIX", "TEMPLATE", "FeedPage", "page_path", "render_page"]

PAGE_SUFFIX = ".html"
"""The suffix of a feed's page: ``all.html`` beside ``all.rss``."""

TEMPLATE = "feeds/page.html.j2"
"""The page's template, under the built-in ``templates/`` folder."""

ENTRY_TEMPLATE = "feeds/entry.html.j2"
"""One entry of the page's list: rendered once per entry and language, however
many pages show it."""

FORMAT_NAMES: Mapping[str, str] = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}
"""What each format's button says (names, not words: the same in every language)."""


def page_path(base: str) -> str:
    """The page of the feed whose paths begin ``base`` (``section/economy``)."""
    return base + PAGE_SUFFIX


@dataclass(frozen=True)
class FeedPage:
    """What one feed's page shows.

    Attributes:
        path: the page, relative to the feeds folder.
        title: the feed's title.
        description: its one line on what it holds.
        language: the language its words are in.
        site_title: the publication's name in that language.
        site_url: the publication's home page.
        accent: the accent colour (``#rrggbb``) or empty.
        formats: each format of the feed with its absolute URL, in the configured order.
        words: the ``feeds`` words of ``language``.
    """

    path: str
    title: str
    description: str
    language: str
    site_title: str
    site_url: str
    accent: str
    formats: tuple[tuple[Format, str], ...]
    words: Mapping[str, str]

    def inputs(self, fingerprint: str, digests: Sequence[str]) -> str:
        """A digest of everything the page is made from (its entries by their digests)."""
        head = [fingerprint, repr(self), repr(sorted(self.words.items())), *digests]
        return hashlib.sha256("\n".join(head).encode("utf-8", "surrogatepass")).hexdigest()


def _direction(language: str) -> str:
    return "rtl" if locale(language).character_order == "right-to-left" else "ltr"


def _entry(entry: Entry, page: FeedPage) -> dict[str, str]:
    where = locale(entry.language or page.language)
    day = entry.published.date()
    byline = ""
    if entry.authors:
        names = str(format_list(list(entry.authors), locale=locale(page.language)))
        byline = page.words["page_by"].format(authors=names)
    return {
        "title": entry.title,
        "url": entry.url,
        "lang": entry.language,
        "date": str(format_date(day, format="long", locale=where)),
        "date_iso": day.isoformat(),
        "byline": byline,
        "summary": entry.summary,
    }


EntryCache = dict[tuple[Entry, str, str], Markup]
"""Each entry's list item, by entry and the page's language and words."""


def _item(entry: Entry, page: FeedPage, cache: EntryCache | None) -> Markup:
    key = (entry, page.language, page.words["page_by"])
    found = cache.get(key) if cache is not None else None
    if found is None:
        try:
            template = environment(None).get_template(ENTRY_TEMPLATE)
            found = Markup(template.render(entry=_entry(entry, page)))
        except jinja2.TemplateError as exc:
            raise RenderError(f"template {ENTRY_TEMPLATE} ({page.path}): {exc}") from exc
        if cache is not None:
            cache[key] = found
    return found


def render_page(page: FeedPage, entries: Sequence[Entry], cache: EntryCache | None = None) -> bytes:
    """The page's bytes (UTF-8), ``entries`` newest first.

    ``cache`` keeps each entry's list item (:data:`ENTRY_TEMPLATE`, its date
    formatted for the language) for the other pages of a build that show it.

    Raises:
        RenderError: the template is missing or broken; the message names it.
    """
    words = page.words
    context = {
        "lang": page.language,
        "dir": _direction(page.language),
        "title": page.title,
        "description": page.description,
        "site_title": page.site_title,
        "site_url": page.site_url,
        "accent": page.accent or "#1c1c1c",
        "what": words["page_what"].format(site=page.site_title),
        "how": words["page_how"],
        "formats_heading": words["page_formats"],
        "latest_heading": words["page_latest"],
        "formats": [
            {"name": FORMAT_NAMES.get(fmt, fmt), "url": url, "type": MEDIA_TYPES[fmt]}
            for fmt, url in page.formats
        ],
        "entries": [_item(entry, page, cache) for entry in entries],
    }
    try:
        text = environment(None).get_template(TEMPLATE).render(context)
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {TEMPLATE} ({page.path}): {exc}") from exc
    return text.encode("utf-8")
