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
  e-mail address; and readers given several authors (as several
  ``dc:creator`` or ``atom:author`` elements) show only the first or the
  last. Both formats get one author holding the whole byline
  (:attr:`~broadsheet.feeds.model.Entry.byline`): RSS one ``dc:creator``,
  Atom one ``atom:author``. docs/feeds.md has the table of what each reader shows.
- Readers render RSS ``description`` (the channel's and each item's) as
  HTML, and feedgen writes plain text there as it is: a tag named
  ``<svg onload=...>`` would become markup. Plain text is HTML-escaped
  there (:func:`html_text`). Titles are left as text: every reader tried
  takes RSS titles as text, and escaping them would show ``&amp;``. Atom's
  title, subtitle and summary carry no ``type``, so they are text.
- RFC 5005 links and the WebSub hub appear only in Atom through ``link()``;
  both formats get them from :class:`_FeedExtension` as (``atom:``)``link``.
- RSS dates go through ``locale.setlocale``, which is not thread-safe: the
  formatter is replaced by :func:`rfc822`, which uses no locale.
- Characters XML forbids raise ``ValueError`` or ``UnicodeEncodeError``:
  :mod:`broadsheet.feeds.entries` strips them from every field first, and anything
  feedgen still raises becomes a :class:`~broadsheet.errors.RenderError`
  naming the feed.

An entry is built once per build and serialised once per format, then used
in every document that holds it (the site feed, its language, section, tags,
authors and an archive page; see :class:`EntryCache`). Entries are built as
the very lxml elements feedgen's ``FeedEntry`` makes (:func:`_atom_entry`,
:func:`_rss_item`) without going through it: its setters' checks and copies
cost more than the rest of a build's rendering, and a test holds the two to
the same bytes (:func:`feedgen_element` is the reference). A document comes
back in pieces (:func:`render_parts`): feedgen's rendering of the feed itself
around the cached entries, written out without being joined.
"""

from __future__ import annotations

import html
import re
from collections.abc import Container, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import feedgen.entry
import feedgen.feed
from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree  # type: ignore[import-untyped,unused-ignore]

from broadsheet.errors import RenderError
from broadsheet.feeds.model import MEDIA_TYPES, Entry, FeedDoc, Link, trim_oldest
from broadsheet.text import as_uri

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
    if moment.tzinfo is UTC and not moment.microsecond:
        return moment.isoformat()  # as every entry's times already are
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


# feedgen formats RSS dates with a helper that switches the process locale to
# "C" and back, which races with any other thread; it is looked up by name in
# both modules at call time, so replacing it there is enough.
feedgen.feed.formatRFC2822 = rfc822
feedgen.entry.formatRFC2822 = rfc822


def html_text(text: str) -> str:
    """Plain ``text`` as HTML that shows exactly that text (``<`` as ``&lt;``)."""
    return html.escape(text, quote=False)


_SubElement = etree.SubElement

_DC_LANGUAGE = f"{{{DC_NS}}}language"
_DC_CREATOR = f"{{{DC_NS}}}creator"
_ATOM_LINK = f"{{{ATOM_NS}}}link"
_ATOM_UPDATED = f"{{{ATOM_NS}}}updated"
_MEDIA_CONTENT = f"{{{MEDIA_NS}}}content"


def _sub(parent: Any, tag: str, text: str) -> Any:
    element = _SubElement(parent, tag)
    element.text = text
    return element


def _link_attributes(link: Link) -> dict[str, str]:
    """A link's attributes, in the order every document writes them."""
    attributes = {"rel": link.rel}
    if link.type:
        attributes["type"] = link.type
    if link.hreflang:
        attributes["hreflang"] = link.hreflang
    if link.title:
        attributes["title"] = link.title
    if link.length is not None:
        attributes["length"] = str(link.length)
    attributes["href"] = link.href
    return attributes


def _link(parent: Any, tag: str, link: Link) -> None:
    _SubElement(parent, tag, _link_attributes(link))


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


def _image(parent: Any, entry: Entry) -> None:
    image = entry.image
    if image is None:
        return
    attributes = {"url": image.url, "medium": "image"}
    if image.type:
        attributes["type"] = image.type
    _SubElement(parent, _MEDIA_CONTENT, attributes)


_OWN_LINK = {"rel": "alternate", "type": "text/html"}


def _extend_atom(element: Any, entry: Entry) -> None:
    """Entry links feedgen gets wrong, language and image: after feedgen's own elements."""
    if entry.language:
        element.set(XML_LANG, entry.language)
        # xml:lang is what Atom defines; dc:language is what feedparser
        # (and so many readers and importers) report as the entry's language.
        _SubElement(element, _DC_LANGUAGE).text = entry.language
        _SubElement(element, "link", {**_OWN_LINK, "hreflang": entry.language, "href": entry.url})
    else:
        _SubElement(element, "link", {**_OWN_LINK, "href": entry.url})
    if entry.translations:
        for link in entry.translations:
            _SubElement(element, "link", _link_attributes(link))
        # Readers disagree on which alternate link is the entry's: most
        # take the first, feedparser (and what is built on it) the last.
        # Repeating the entry's own link last, without hreflang (so it is
        # no duplicate of the first), makes both right.
        _SubElement(element, "link", {**_OWN_LINK, "href": entry.url})
    image = entry.image
    if image is not None:
        enclosure = {"rel": "enclosure"}
        if image.type:
            enclosure["type"] = image.type
        enclosure["href"] = image.url
        _SubElement(element, "link", enclosure)
        _image(element, entry)


def _extend_rss(item: Any, entry: Entry, description: Any) -> None:
    """Links, byline, language, update time and image, after feedgen's own elements."""
    for link in entry.translations:
        _SubElement(item, _ATOM_LINK, _link_attributes(link))
    # After the translations: feedparser takes the last alternate link.
    _SubElement(item, "link").text = entry.url
    if description is not None and description.text:
        # The summary is plain text; readers render an RSS description as HTML.
        description.text = html_text(description.text)
    if entry.authors:
        _SubElement(item, _DC_CREATOR).text = entry.byline
    if entry.language:
        _SubElement(item, _DC_LANGUAGE).text = entry.language
    if entry.updated != entry.published:
        _SubElement(item, _ATOM_UPDATED).text = rfc3339(entry.updated)
    image = entry.image
    if image is not None:
        if image.type:
            # RSS allows one enclosure; its length is unknown, which the
            # RSS Best Practices Profile says to write as 0.
            _SubElement(item, "enclosure", {"url": image.url, "length": "0", "type": image.type})
        _image(item, entry)


class _EntryExtension(BaseEntryExtension):  # type: ignore[misc]
    """Entry-level elements feedgen gets wrong or lacks (see the module docstring)."""

    entry: Entry | None = None

    def extend_atom(self, element: Any) -> Any:
        assert self.entry is not None
        _extend_atom(element, self.entry)
        return element

    def extend_rss(self, item: Any) -> Any:
        assert self.entry is not None
        _extend_rss(item, self.entry, item.find("description"))
        return item


_EXT = "broadsheet"


_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


def atom_id(entry: Entry, home: str) -> str:
    """The Atom id of ``entry``: its own id when that is an IRI, as RFC 4287 asks.

    An id imported from elsewhere may be anything (``12345``, ``post 17``);
    RSS takes it as it is, and Atom gets a ``tag:`` URI made from it, which
    stays the same as long as the id does.
    """
    if _IRI.fullmatch(entry.id) and as_uri(entry.id) == entry.id:
        return entry.id
    host = urlsplit(as_uri(home)).hostname or "localhost"
    day = entry.published.strftime("%Y-%m-%d")
    return f"tag:{host},{day}:guid/{quote(entry.id, safe='')}"


def _feedgen_entry(entry: Entry, doc: FeedDoc) -> FeedEntry:
    """feedgen's own entry for ``entry``: the reference :func:`_atom_entry` and
    :func:`_rss_item` are tested against (``tests/feeds/test_render.py``)."""
    fe = FeedEntry()
    fe.register_extension(_EXT, _EntryExtension, atom=True, rss=True)
    getattr(fe, _EXT).entry = entry
    fe.id(entry.id)
    fe.title(entry.title)
    fe.updated(entry.updated)
    fe.published(entry.published)
    if entry.authors:
        fe.author({"name": entry.byline})
    # content() first, then summary(): feedgen writes RSS content:encoded only
    # beside a description, and description() would overwrite Atom content.
    fe.content(entry.content_html, type="html")
    fe.summary(entry.summary or entry.title)
    categories = [{"term": c.term, "scheme": c.scheme} for c in doc.categories(entry)]
    if categories:
        fe.category(categories)
    return fe


def feedgen_element(entry: Entry, doc: FeedDoc, fmt: str) -> Any:
    """``entry`` as feedgen itself builds it in ``fmt``, with the extension's elements.

    The reference for :func:`_atom_entry` and :func:`_rss_item`, which build the
    same elements directly (a test compares their bytes).
    """
    fe = _feedgen_entry(entry, doc)
    if fmt == "atom":
        fe.id(atom_id(entry, doc.home))
        return fe.atom_entry()
    fe.id(entry.id)
    return fe.rss_entry()


_CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"


def _atom_entry(parent: Any, entry: Entry, doc: FeedDoc) -> None:
    """``entry`` as an Atom ``entry`` under ``parent``, as feedgen builds it.

    feedgen's ``FeedEntry`` costs most of a build's time: each setter checks
    and copies its values, each entry makes a ``datetime.now()``, and both
    formats go through it. This builds the very elements its ``atom_entry()``
    makes from :func:`_feedgen_entry`, in the same order, with the same checks
    (see :func:`feedgen_element`, the reference the tests compare against).
    """
    ident = atom_id(entry, doc.home)
    title = entry.title
    if not (ident and title):
        raise ValueError("Required fields not set")
    element = _SubElement(parent, "entry")
    _SubElement(element, "id").text = ident
    _SubElement(element, "title").text = title
    _SubElement(element, "updated").text = entry.updated.isoformat()
    if entry.authors and entry.byline:
        _SubElement(_SubElement(element, "author"), "name").text = entry.byline
    content = _SubElement(element, "content")
    if entry.content_html:
        content.text = entry.content_html
    content.set("type", "html")
    summary = _SubElement(element, "summary")
    text = entry.summary or title
    if text:
        summary.text = text
    if entry.section:
        category = _SubElement(element, "category", {"term": entry.section})
        if doc.section_scheme:
            category.set("scheme", doc.section_scheme)
    for tag in entry.tags:
        category = _SubElement(element, "category", {"term": tag})
        if doc.tag_scheme:
            category.set("scheme", doc.tag_scheme)
    _SubElement(element, "published").text = entry.published.isoformat()
    _extend_atom(element, entry)


def _rss_item(parent: Any, entry: Entry, doc: FeedDoc) -> None:
    """``entry`` as an RSS ``item`` under ``parent``, as feedgen builds it (see
    :func:`_atom_entry`)."""
    item = _SubElement(parent, "item")
    title = entry.title
    if title:
        _SubElement(item, "title").text = title
    summary = entry.summary or title
    description = _SubElement(item, "description")
    if summary:
        description.text = summary
        _SubElement(item, _CONTENT_ENCODED).text = entry.content_html
    else:
        description.text = entry.content_html
    if entry.id:
        _SubElement(item, "guid", {"isPermaLink": "false"}).text = entry.id
    if entry.section:
        category = _SubElement(item, "category")
        category.text = entry.section
        if doc.section_scheme:
            category.set("domain", doc.section_scheme)
    for tag in entry.tags:
        category = _SubElement(item, "category")
        category.text = tag
        if doc.tag_scheme:
            category.set("domain", doc.tag_scheme)
    _SubElement(item, "pubDate").text = rfc822(entry.published)
    _extend_rss(item, entry, description)


# Where feedgen's pretty-printed documents end; entries go just before.
_CLOSING = {"atom": b"</feed>\n", "rss": b"  </channel>\n</rss>\n"}
_CLOSING_TAG = {"atom": b"</feed>", "rss": b"  </channel>"}
# Each entry's start tag, on its own line at its depth in the document.
_OPENING = {"atom": b"\n  <entry", "rss": b"\n    <item"}


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
    """Entries built once per build, serialised once per format.

    Every document that holds an entry (the site feed, its language, section,
    tags, authors, an archive page) gets the same bytes: the entry's elements
    are built once per format as feedgen would build them (:func:`_atom_entry`),
    lxml serialises them once, and each document is feedgen's
    rendering of the feed itself with those entries inserted where feedgen
    would have put them.

    The entries a document still needs are serialised together, as children
    of one stand-in root (:func:`_wrapper`) per format, and the result is cut
    at each entry's start tag: one lxml call per document and format instead
    of one per entry.

    Args:
        formats: the XML formats of the build (``rss``, ``atom``): an entry
            is serialised in all of them at once, while feedgen's entry for
            it is at hand.
    """

    def __init__(self, formats: Sequence[str] = ("rss", "atom")) -> None:
        self._formats = tuple(f for f in ("rss", "atom") if f in formats)
        # One table per format and category schemes, by entry digest.
        self._tables: dict[tuple[str, str, str], dict[str, bytes]] = {}

    def _table(self, fmt: str, doc: FeedDoc) -> dict[str, bytes]:
        key = (fmt, doc.section_scheme, doc.tag_scheme)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = {}
        return table

    def prepare(self, entries: Sequence[Entry], doc: FeedDoc) -> None:
        """Serialise those of ``entries`` not yet cached in ``doc``'s format.

        Raises:
            RenderError: feedgen or lxml refused an entry; the message names it.
        """
        table = self._table(doc.format, doc)
        missing = [entry for entry in entries if entry.digest not in table]
        if not missing:
            return
        formats = self._formats if doc.format in self._formats else (doc.format,)
        batches = []
        for fmt in formats:
            other = self._table(fmt, doc)
            batch = list({e.digest: e for e in missing if e.digest not in other}.values())
            if batch:
                batches.append((fmt, other, batch, _wrapper(fmt)))
        for fmt, _, batch, parent in batches:
            build = _atom_entry if fmt == "atom" else _rss_item
            for entry in batch:
                try:
                    build(parent, entry, doc)
                except (ValueError, TypeError, UnicodeError, etree.LxmlError) as exc:
                    raise RenderError(f"feed {doc.path}: entry {entry.id!r} {exc}") from exc
        for fmt, other, batch, parent in batches:
            for entry, text in zip(batch, _serialise(fmt, parent, len(batch), doc), strict=True):
                other[entry.digest] = text

    def trim(self, keep: int, protected: Container[str] = ()) -> None:
        """Forget the oldest entries, so that each table holds at most ``keep``.

        Entries whose digest is in ``protected`` are kept whatever their age.
        """
        for table in self._tables.values():
            trim_oldest(table, keep, protected)

    def entries(self, doc: FeedDoc) -> list[bytes]:
        """``doc``'s entries as XML in its format, indented for their place in it."""
        self.prepare(doc.entries, doc)
        table = self._table(doc.format, doc)
        return [table[entry.digest] for entry in doc.entries]

    def get(self, entry: Entry, doc: FeedDoc) -> bytes:
        """``entry`` as XML in ``doc``'s format, indented for its place in the document."""
        self.prepare((entry,), doc)
        return self._table(doc.format, doc)[entry.digest]


def _serialise(fmt: str, parent: Any, count: int, doc: FeedDoc) -> list[bytes]:
    """The ``count`` entries under the stand-in root ``parent``, each as XML."""
    root = parent.getroottree().getroot()
    try:
        text: bytes = etree.tostring(
            root, pretty_print=True, encoding="UTF-8", xml_declaration=False
        )
    except (ValueError, TypeError, UnicodeError, etree.LxmlError) as exc:
        raise RenderError(f"feed {doc.path}: {exc}") from exc
    # Text and attribute values escape "<", and only the entries sit at this
    # depth, so each start tag at this indentation opens one entry.
    opening = _OPENING[fmt]
    starts = []
    at = text.find(opening)
    while at >= 0:
        starts.append(at + 1)  # after the newline: the entry's indentation
        at = text.find(opening, at + len(opening))
    if len(starts) != count:
        raise RenderError(f"feed {doc.path}: unexpected output from lxml")
    # Each entry runs to its closing tag's line end: the next entry's
    # indentation, or the closing tag of the stand-in root.
    starts.append(text.rindex(_CLOSING_TAG[fmt]))
    return [text[starts[n] : starts[n + 1]] for n in range(count)]


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


def _rss_image(url: str) -> bool:
    """Whether RSS 2.0 allows ``url`` as the channel image (GIF, JPEG or PNG only)."""
    from urllib.parse import urlsplit

    return urlsplit(url).path.lower().endswith((".gif", ".jpg", ".jpeg", ".png"))


def _feed(doc: FeedDoc) -> FeedGenerator:
    fg = FeedGenerator()
    fg.register_extension(_EXT, _FeedExtension, _EntryExtension, atom=True, rss=True)
    getattr(fg, _EXT).doc = doc
    fg.title(doc.title)
    description = doc.description or doc.title
    # RSS readers render the channel description as HTML; Atom's subtitle is text.
    fg.description(html_text(description) if doc.format == "rss" else description)
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
        image = next((url for url in (doc.logo, doc.icon) if url and _rss_image(url)), None)
        if image:
            fg.image(url=image, title=doc.title, link=doc.home)
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
    return b"".join(render_parts(doc, cache))


def render_parts(doc: FeedDoc, cache: EntryCache) -> list[bytes]:
    """``doc`` as :func:`render` makes it, in pieces to be written one after another.

    The entries are the cache's own bytes, shared with every other document
    that holds them, so a document costs no copy of its entries until it is
    written.

    Raises:
        RenderError: feedgen refused the document; the message names the feed.
    """
    if doc.format not in ("rss", "atom"):
        raise ValueError(f"feedgen renders rss and atom, not {doc.format}")
    entries = cache.entries(doc)
    try:
        fg = _feed(doc)
        shell: bytes = fg.rss_str(pretty=True) if doc.format == "rss" else fg.atom_str(pretty=True)
    except (ValueError, TypeError, UnicodeError, etree.LxmlError) as exc:
        raise RenderError(f"feed {doc.path}: {exc}") from exc
    closing = _CLOSING[doc.format]
    declaration = shell.find(b"\n") + 1
    if not shell.endswith(closing) or not shell.startswith(b"<?xml "):
        raise RenderError(f"feed {doc.path}: unexpected output from feedgen: {shell[-40:]!r}")
    # The stylesheet goes right after the XML declaration; the entries where
    # feedgen would have put them, last in the feed.
    return [
        shell[:declaration],
        _stylesheet(doc.stylesheet),
        shell[declaration : -len(closing)],
        *entries,
        closing,
    ]
