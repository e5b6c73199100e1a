"""RSS 2.0 and Atom 1.0 through feedgen: the one module that imports it.

feedgen 1.0.0 gets several things wrong for a feed validators accept, and
each is worked around here, where nothing else has to know:

- ``updated`` (and RSS ``lastBuildDate``) default to *now*: both are always
  set, to the newest entry's time, so rebuilds are byte-identical.
- Atom entry links lose ``rel``, ``type``, ``hreflang`` and ``length``
  (upstream issues #135 and #143): every entry link (alternate, translations
  with ``hreflang``, the image enclosure) is written by :class:`_EntryExtension`
  instead, and feedgen's own ``link()`` is never called on an entry.
- ``media:content`` always comes inside a ``media:group``; one image alone in
  a group is a validator error, so ``media:content`` is written directly.
- Several authors become several RSS ``<author>`` elements, which need an
  e-mail address: RSS gets one ``dc:creator`` per author, Atom one
  ``atom:author`` each.
- RFC 5005 links and the WebSub hub appear only in Atom through ``link()``;
  both formats get them from :class:`_FeedExtension` as (``atom:``)``link``.
- RSS dates go through ``locale.setlocale``, which is not thread-safe: the
  formatter is replaced by :func:`rfc822`, which uses no locale.
- Characters XML forbids raise ``ValueError`` or ``UnicodeEncodeError``:
  :mod:`feeds.entries` strips them from every field first, and anything
  feedgen still raises becomes a :class:`~broadsheet.errors.RenderError`
  naming the feed.

An entry is built by feedgen and serialised once per format and build, then
used in every document that holds it (the site feed, its language, section,
tags, authors and an archive page; see :class:`EntryCache`), which is most
of why a full build with archives and JSON Feed costs about what feedgen
alone costs to serialise the current feeds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import feedgen.entry
import feedgen.feed
from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree  # type: ignore[import-untyped,unused-ignore]

from broadsheet.errors import RenderError
from feeds.model import MEDIA_TYPES, Entry, FeedDoc, Link

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
MEDIA_NS = "http://search.yahoo.com/mrss/"
FH_NS = "http://purl.org/syndication/history/1.0"
WEBFEEDS_NS = "http://webfeeds.org/rss/1.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc822(moment: datetime) -> str:
    """An RFC 822 date in UTC (``Mon, 23 Nov 2026 05:00:00 +0000``), whatever the locale."""
    m = moment.astimezone(UTC)
    return (
        f"{_DAYS[m.weekday()]}, {m.day:02d} {_MONTHS[m.month - 1]} {m.year:04d} "
        f"{m.hour:02d}:{m.minute:02d}:{m.second:02d} +0000"
    )


def rfc3339(moment: datetime) -> str:
    """An RFC 3339 date in UTC, whole seconds (``2026-11-23T05:00:00+00:00``)."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


# feedgen formats RSS dates with a helper that switches the process locale to
# "C" and back, which races with any other thread; it is looked up by name in
# both modules at call time, so replacing it there is enough.
feedgen.feed.formatRFC2822 = rfc822
feedgen.entry.formatRFC2822 = rfc822


def _sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, tag)
    for name, value in attrs.items():
        element.set(name, value)
    if text is not None:
        element.text = text
    return element


def _link(parent: Any, tag: str, link: Link) -> None:
    element = etree.SubElement(parent, tag)
    element.set("rel", link.rel)
    if link.type:
        element.set("type", link.type)
    if link.hreflang:
        element.set("hreflang", link.hreflang)
    if link.title:
        element.set("title", link.title)
    if link.length is not None:
        element.set("length", str(link.length))
    element.set("href", link.href)


class _FeedExtension(BaseExtension):  # type: ignore[misc]
    """Feed-level elements feedgen cannot write: hub and RFC 5005 links, fh:archive, webfeeds."""

    doc: FeedDoc | None = None

    def extend_ns(self) -> dict[str, str]:
        doc = self.doc
        assert doc is not None
        spaces = {"webfeeds": WEBFEEDS_NS, "dc": DC_NS}
        if any(entry.image for entry in doc.entries):
            spaces["media"] = MEDIA_NS
        if doc.archive:
            spaces["fh"] = FH_NS
        return spaces

    def _extend(self, parent: Any, link_tag: str) -> None:
        doc = self.doc
        assert doc is not None
        for link in doc.links:
            _link(parent, link_tag, link)
        if doc.archive:
            etree.SubElement(parent, f"{{{FH_NS}}}archive")
        if doc.icon:
            _sub(parent, f"{{{WEBFEEDS_NS}}}icon", doc.icon)
        if doc.logo:
            _sub(parent, f"{{{WEBFEEDS_NS}}}logo", doc.logo)
        if doc.accent_color:
            _sub(parent, f"{{{WEBFEEDS_NS}}}accentColor", doc.accent_color)

    def extend_atom(self, feed: Any) -> Any:
        self._extend(feed, "link")
        return feed

    def extend_rss(self, rss: Any) -> Any:
        self._extend(rss.find("channel"), f"{{{ATOM_NS}}}link")
        return rss


class _EntryExtension(BaseEntryExtension):  # type: ignore[misc]
    """Entry-level elements feedgen gets wrong or lacks (see the module docstring)."""

    entry: Entry | None = None

    def _image(self, parent: Any, entry: Entry) -> None:
        image = entry.image
        if image is None:
            return
        media = etree.SubElement(parent, f"{{{MEDIA_NS}}}content")
        media.set("url", image.url)
        media.set("medium", "image")
        if image.type:
            media.set("type", image.type)

    def extend_atom(self, element: Any) -> Any:
        entry = self.entry
        assert entry is not None
        if entry.language:
            element.set(XML_LANG, entry.language)
            # xml:lang is what Atom defines; dc:language is what feedparser
            # (and so many readers and importers) report as the entry's language.
            _sub(element, f"{{{DC_NS}}}language", entry.language)
        hreflang = entry.language or None
        _link(element, "link", Link(entry.url, "alternate", "text/html", hreflang))
        if entry.translations:
            for link in entry.translations:
                _link(element, "link", link)
            # Readers disagree on which alternate link is the entry's: most
            # take the first, feedparser (and what is built on it) the last.
            # Repeating the entry's own link last, without hreflang (so it is
            # no duplicate of the first), makes both right.
            _link(element, "link", Link(entry.url, "alternate", "text/html"))
        if entry.image is not None:
            _link(element, "link", Link(entry.image.url, "enclosure", entry.image.type))
        self._image(element, entry)
        return element

    def extend_rss(self, item: Any) -> Any:
        entry = self.entry
        assert entry is not None
        for link in entry.translations:
            _link(item, f"{{{ATOM_NS}}}link", link)
        # After the translations: feedparser takes the last alternate link.
        _sub(item, "link", entry.url)
        for name in entry.authors:
            _sub(item, f"{{{DC_NS}}}creator", name)
        if entry.language:
            _sub(item, f"{{{DC_NS}}}language", entry.language)
        if entry.updated != entry.published:
            _sub(item, f"{{{ATOM_NS}}}updated", rfc3339(entry.updated))
        if entry.image is not None and entry.image.type:
            # RSS allows one enclosure; its length is unknown, which the RSS
            # Best Practices Profile says to write as 0.
            _sub(item, "enclosure", url=entry.image.url, length="0", type=entry.image.type)
        self._image(item, entry)
        return item


_EXT = "broadsheet"


def _feedgen_entry(entry: Entry, doc: FeedDoc) -> FeedEntry:
    fe = FeedEntry()
    fe.register_extension(_EXT, _EntryExtension, atom=True, rss=True)
    getattr(fe, _EXT).entry = entry
    fe.id(entry.id)
    fe.title(entry.title)
    fe.updated(entry.updated)
    fe.published(entry.published)
    if entry.authors:
        fe.author([{"name": name} for name in entry.authors])
    # content() first, then summary(): feedgen writes RSS content:encoded only
    # beside a description, and description() would overwrite Atom content.
    fe.content(entry.content_html, type="html")
    fe.summary(entry.summary or entry.title)
    categories = [{"term": c.term, "scheme": c.scheme} for c in doc.categories(entry)]
    if categories:
        fe.category(categories)
    return fe


# Where feedgen's pretty-printed documents end; entries go just before.
_CLOSING = {"atom": b"</feed>\n", "rss": b"  </channel>\n</rss>\n"}
_OPENING = {"atom": b"  <entry", "rss": b"    <item"}


def _wrapper(fmt: str) -> Any:
    """A stand-in document root declaring the prefixes entries use, at the same depth."""
    if fmt == "atom":
        # feedgen's Atom elements carry no namespace of their own: the feed
        # element's default namespace applies to them.
        return etree.Element("feed", nsmap={"dc": DC_NS, "media": MEDIA_NS})
    rss = etree.Element(
        "rss",
        nsmap={
            "atom": ATOM_NS,
            "content": "http://purl.org/rss/1.0/modules/content/",
            "dc": DC_NS,
            "media": MEDIA_NS,
        },
    )
    return etree.SubElement(rss, "channel")


class EntryCache:
    """Entries built by feedgen once per build and format, as serialised XML.

    Every document that holds an entry (the site feed, its language, section,
    tags, authors, an archive page) gets the same bytes: feedgen builds the
    entry element once, lxml serialises it once, and each document is
    feedgen's rendering of the feed itself with those entries inserted where
    feedgen would have put them.
    """

    def __init__(self) -> None:
        self._built: dict[tuple[str, str, str, str], bytes] = {}

    def get(self, entry: Entry, doc: FeedDoc) -> bytes:
        """``entry`` as XML in ``doc``'s format, indented for its place in the document."""
        key = (doc.format, entry.digest, doc.section_scheme, doc.tag_scheme)
        found = self._built.get(key)
        if found is None:
            fe = _feedgen_entry(entry, doc)
            element = fe.atom_entry() if doc.format == "atom" else fe.rss_entry()
            parent = _wrapper(doc.format)
            parent.append(element)
            root = parent.getroottree().getroot()
            text: bytes = etree.tostring(
                root, pretty_print=True, encoding="UTF-8", xml_declaration=False
            )
            start = text.index(_OPENING[doc.format])
            stop = text.rindex(b"</feed>" if doc.format == "atom" else b"  </channel>")
            found = text[start:stop]
            self._built[key] = found
        return found


def _stylesheet(href: str | None) -> bytes:
    if not href:
        return b""
    return f'<?xml-stylesheet type="text/xsl" href="{href}"?>\n'.encode()


def _generator(fg: FeedGenerator, doc: FeedDoc, rss: bool) -> None:
    if rss:
        label = doc.generator
        if doc.generator_version:
            label = f"{label} {doc.generator_version}"
        fg.generator(label)
    else:
        fg.generator(doc.generator, version=doc.generator_version, uri=doc.generator_uri)


def _feed(doc: FeedDoc) -> FeedGenerator:
    fg = FeedGenerator()
    fg.register_extension(_EXT, _FeedExtension, _EntryExtension, atom=True, rss=True)
    getattr(fg, _EXT).doc = doc
    fg.title(doc.title)
    fg.description(doc.description or doc.title)
    if doc.language:
        fg.language(doc.language)
    if doc.copyright:
        fg.rights(doc.copyright)
    _generator(fg, doc, rss=doc.format == "rss")
    if doc.format == "rss":
        # RSS <link> is the last link given, whatever its rel.
        fg.link(href=doc.url, rel="self", type=MEDIA_TYPES["rss"])
        fg.link(href=doc.home, rel="alternate")
        fg.lastBuildDate(doc.updated)
        if doc.logo:
            fg.image(url=doc.logo, title=doc.title, link=doc.home)
    else:
        fg.id(doc.feed_id)
        fg.updated(doc.updated)
        fg.author({"name": doc.author, "uri": doc.home})
        fg.link(href=doc.url, rel="self", type=MEDIA_TYPES["atom"])
        fg.link(href=doc.home, rel="alternate", type="text/html")
        if doc.icon:
            fg.icon(doc.icon)
        if doc.logo:
            fg.logo(doc.logo)
    return fg


def render(doc: FeedDoc, cache: EntryCache) -> bytes:
    """``doc`` (format ``rss`` or ``atom``) as UTF-8 XML bytes.

    Raises:
        RenderError: feedgen refused the document; the message names the feed.
    """
    if doc.format not in ("rss", "atom"):
        raise ValueError(f"feedgen renders rss and atom, not {doc.format}")
    current: Entry | None = None
    try:
        entries = []
        for current in doc.entries:
            entries.append(cache.get(current, doc))
        current = None
        fg = _feed(doc)
        shell: bytes = fg.rss_str(pretty=True) if doc.format == "rss" else fg.atom_str(pretty=True)
    except (ValueError, TypeError, UnicodeError, etree.LxmlError) as exc:
        where = f" entry {current.id!r}" if current is not None else ""
        raise RenderError(f"feed {doc.path}:{where} {exc}") from exc
    closing = _CLOSING[doc.format]
    declaration = shell.find(b"\n") + 1
    if not shell.endswith(closing) or not shell.startswith(b"<?xml "):
        raise RenderError(f"feed {doc.path}: unexpected output from feedgen: {shell[-40:]!r}")
    # The stylesheet goes right after the XML declaration; the entries where
    # feedgen would have put them, last in the feed.
    return b"".join(
        [
            shell[:declaration],
            _stylesheet(doc.stylesheet),
            shell[declaration : -len(closing)],
            *entries,
            closing,
        ]
    )
