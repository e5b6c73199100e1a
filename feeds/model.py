"""Values the feed renderers share: one entry, one link, one feed document.

Everything here is plain data, already cleaned: text is free of characters
XML forbids, every URL is absolute, every time is aware and in UTC with whole
seconds. The renderers (:mod:`broadsheet.feeds.fg` for RSS and Atom,
:mod:`broadsheet.feeds.jsonfeed` for JSON Feed) only serialise these values, so the three
formats always say the same thing.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Format = Literal["rss", "atom", "json"]
Scope = Literal["site", "language", "section", "tag", "author"]

MEDIA_TYPES: dict[str, str] = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
"""The media type of each format, as used in links and autodiscovery."""

BYLINE_SEPARATOR = ", "
"""Between the names of an entry's authors where a format has room for one name."""


@dataclass(frozen=True, slots=True)
class Link:
    """A typed link (Atom ``link``; ``atom:link`` in RSS)."""

    href: str
    rel: str = "alternate"
    type: str | None = None
    hreflang: str | None = None
    title: str | None = None
    length: int | None = None


@dataclass(frozen=True, slots=True)
class Image:
    """An entry's lead image."""

    url: str
    type: str | None
    alt: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One article as every feed format shows it.

    Attributes:
        id: the entry id (the article's guid; never its URL).
        url: the article page.
        title: plain text.
        language: the article's language code.
        content_html: the full body, lead image first.
        summary: plain text (the standfirst, or the body's opening words).
        authors: names in byline order.
        section: the section name, or ``None``.
        tags: tag names.
        published: first publication.
        updated: the later of published and updated.
        image: the lead image, if any.
        translations: ``rel="alternate"`` links with ``hreflang`` to live translations.
        digest: changes whenever anything above does.
    """

    id: str
    url: str
    title: str
    language: str
    content_html: str
    summary: str
    authors: tuple[str, ...]
    section: str | None
    tags: tuple[str, ...]
    published: datetime
    updated: datetime
    image: Image | None
    translations: tuple[Link, ...]
    digest: str

    @property
    def byline(self) -> str:
        """Every author's name in one string (``Ann Author, Boris Writer``).

        Feed readers show one author field: each format carries the whole
        byline where readers look, rather than one author per element, of
        which most readers show only the first or the last (docs/feeds.md).
        """
        return BYLINE_SEPARATOR.join(self.authors)


@dataclass(frozen=True, slots=True)
class Category:
    """A category as written in every entry: a term and the scheme it belongs to."""

    term: str
    scheme: str


@dataclass(frozen=True, slots=True)
class FeedDoc:
    """One document to write: a current feed or one of its archive pages.

    Attributes:
        format: rss, atom or json.
        path: where it goes, relative to the output folder (POSIX form).
        url: its public URL (``rel="self"``).
        feed_id: the logical feed's id (the current Atom document's URL),
            shared by its archive pages.
        title: the feed's title (archive pages say which page they are).
        description: one line on what the feed holds.
        language: the feed's language, or ``None`` when it spans several.
        home: the site's home page (``rel="alternate"``).
        entries: newest first.
        author: who publishes the feed; entries without authors inherit it.
        links: further feed-level links (hub, RFC 5005 relations).
        archive: whether this is an RFC 5005 archive document (``fh:archive``).
        next_url: JSON Feed pagination: the next (older) page, if any.
        icon: square icon URL.
        logo: wide logo URL.
        accent_color: six hex digits, no ``#`` (Feedly's webfeeds:accentColor).
        copyright: rights statement.
        generator: software name.
        generator_version: its version, or ``None`` to leave it out.
        generator_uri: where the software lives.
        stylesheet: relative URL of the XSL stylesheet, or ``None``.
        section_scheme: category scheme of sections.
        tag_scheme: category scheme of tags.
        hub: the WebSub hub, if any (JSON Feed ``hubs``).
        updated: the newest entry's modification time (never "now").
    """

    format: Format
    path: str
    url: str
    feed_id: str
    title: str
    description: str
    language: str | None
    home: str
    entries: tuple[Entry, ...]
    author: str
    updated: datetime
    links: tuple[Link, ...] = ()
    archive: bool = False
    next_url: str | None = None
    icon: str | None = None
    logo: str | None = None
    accent_color: str | None = None
    copyright: str | None = None
    generator: str = "broadsheet"
    generator_version: str | None = None
    generator_uri: str | None = None
    stylesheet: str | None = None
    section_scheme: str = ""
    tag_scheme: str = ""
    hub: str | None = None

    def categories(self, entry: Entry) -> list[Category]:
        """The entry's section, then its tags, each with its scheme."""
        found = [Category(entry.section, self.section_scheme)] if entry.section else []
        found.extend(Category(tag, self.tag_scheme) for tag in entry.tags)
        return found


def trim_oldest(table: dict[Any, Any], keep: int, protected: Container[Any] = ()) -> None:
    """Drop the first-inserted items of ``table`` until at most ``keep`` remain.

    Keys in ``protected`` stay where they are. The renderers' caches use it to
    stay bounded when a build streams a large archive: one pass over the keys,
    then the deletions.
    """
    excess = len(table) - keep
    if excess <= 0:
        return
    doomed = []
    for key in table:
        if key not in protected:
            doomed.append(key)
            if len(doomed) == excess:
                break
    for key in doomed:
        del table[key]
