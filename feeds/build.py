"""``build_feeds``: every feed set, in every format, with archives and index.json.

The output folder (``[feeds] out``, public at ``[feeds] url``) holds::

    index.json                    every current feed (see DESIGN.md, "Outputs")
    feed.xsl                      the stylesheet browsers use to show a feed as a page
    all.rss  all.atom  all.json   the whole site, every language
    all.html                      the site feed's page for people (one beside every feed)
    en.rss   en.atom   en.json    one language (one set per language)
    section/economy.atom          one section, every language
    en/section/economy.atom       the same section in one language (multilingual sites)
    tag/sanctions.atom            likewise for tags ...
    author/irina-volkova.atom     ... and authors
    archive/all/1.atom            RFC 5005 archive pages of the site feed, oldest first
    archive/en/1.atom             ... and of each language feed
    .immutable.map                archive pages with a successor (for web servers)

Every feed comes in each configured format (``.rss``, ``.atom``, ``.json``),
with a page for people beside it (``.html``, :mod:`broadsheet.feeds.pages`).

One scan of the live articles, newest first and without their text, decides
everything (:mod:`broadsheet.feeds.sets`, :mod:`broadsheet.feeds.archive`):
each archive page is rendered (:mod:`broadsheet.feeds.fg`,
:mod:`broadsheet.feeds.jsonfeed`) and written (:mod:`broadsheet.feeds.publish`)
as soon as the scan has seen its oldest entry, and the current documents
once the scan is over. A document whose inputs (its entries' digests, its
own metadata and the code that renders it) are unchanged since the last
build is not rendered, and its entries' text is never read. Memory holds a
few archive pages of entries and the newest entries of each feed, whatever
the size of the archive: :func:`build_feeds_from_store` reads the store a
page of rows at a time. Before any of that, a digest of the settings, the
code and every live article's stored fingerprint (id, guid, content hash)
tells whether anything changed at all; when nothing did and every file is as
the last build left it, the build ends there.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import posixpath
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from broadsheet import __version__
from broadsheet.config import Settings
from broadsheet.errors import RenderError
from broadsheet.feeds import archive
from broadsheet.feeds.entries import entry_digest, live, make_entry, translation_links, utc
from broadsheet.feeds.model import MEDIA_TYPES, Entry, FeedDoc, Format, Link, Scope
from broadsheet.feeds.publish import Writer
from broadsheet.feeds.serving import IMMUTABLE_MAP, immutable_map
from broadsheet.feeds.sets import (
    ARCHIVED_SCOPES,
    SCOPES,
    FeedSet,
    languages_of,
    plan_sets,
    words,
)
from broadsheet.model import Article
from broadsheet.resources import templates_dir

if TYPE_CHECKING:
    from broadsheet.feeds.pages import EntryCache as PageItems
    from broadsheet.store import Store, Tx

log = logging.getLogger(__name__)

INDEX = "index.json"
STYLESHEET = "feed.xsl"
GENERATOR_URI = "https://github.com/broadsheet/broadsheet"


@dataclass
class FeedBuildReport:
    """What :func:`build_feeds` did.

    Attributes:
        out: the output folder.
        written: files whose bytes changed or are new.
        unchanged: files left as they were (bytes and mtime).
        removed: files of feeds that no longer exist.
        feeds: the index.json entries, one per current feed and format.
        rendered: documents rendered this build (the rest had unchanged inputs).
        pinged: feed URLs announced to the WebSub hub.
        ping_pending: feed URLs whose announcement waits for a later build.
        articles: live articles the feeds were built from.
    """

    out: Path
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    feeds: list[dict[str, Any]] = field(default_factory=list)
    rendered: int = 0
    pinged: list[str] = field(default_factory=list)
    ping_pending: list[str] = field(default_factory=list)
    articles: int = 0

    @property
    def index(self) -> Path:
        """The index.json file."""
        return self.out / INDEX


@cache
def _code_fingerprint() -> str:
    """A digest of the code and stylesheet that render feeds.

    Part of every document's inputs, so any change to how feeds are rendered
    renders them again (bytes that come out the same are still not written).
    """

    from importlib import metadata

    digest = hashlib.sha256()
    digest.update(__version__.encode())
    package = Path(__file__).parent
    templates = templates_dir() / "feeds"
    for source in [
        *sorted(package.glob("*.py")),
        templates / STYLESHEET,
        templates / "page.html.j2",
        templates / "entry.html.j2",
    ]:
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    digest.update(metadata.version("feedgen").encode())
    return digest.hexdigest()


@cache
def _relative(target: str, folder: str) -> str:
    return posixpath.relpath(target, folder)


@dataclass(frozen=True, slots=True)
class _Item:
    """What a document needs of one article before it is rendered (no text)."""

    id: str
    digest: str
    modified: datetime
    translations: tuple[Link, ...]


class _Source(Protocol):
    """Where a build reads its articles: a sequence in memory, or the store."""

    def fingerprints(self) -> Iterable[tuple[str, str, str]]:
        """``(id, guid, content_hash)`` of each live article, newest first."""

    def full(self, article_id: str) -> Article | None:
        """One live article with every field."""

    def counts(self) -> Mapping[str, int]:
        """Live articles per language."""

    def rows(self) -> Iterable[Article]:
        """Live articles newest first, bodies optional when ``content_hash`` is set."""

    def targets(self, ids: Iterable[str]) -> Mapping[str, Article]:
        """Those of ``ids`` that are live (bodies optional)."""

    def bodies(self, ids: Sequence[str]) -> Mapping[str, Article]:
        """Live articles with every field, by id."""


class _Given:
    """Articles handed to :func:`build_feeds`, already live and in feed order."""

    def __init__(self, published: list[Article]) -> None:
        self.published = published
        self.by_id = {a.id: a for a in published}

    def fingerprints(self) -> Iterable[tuple[str, str, str]]:
        return ((a.id, a.guid, a.content_hash) for a in self.published)

    def full(self, article_id: str) -> Article | None:
        return self.by_id.get(article_id)

    def counts(self) -> Mapping[str, int]:
        found: dict[str, int] = {}
        for article in self.published:
            found[article.language] = found.get(article.language, 0) + 1
        return found

    def rows(self) -> Iterable[Article]:
        return self.published

    def targets(self, ids: Iterable[str]) -> Mapping[str, Article]:
        return self.by_id

    def bodies(self, ids: Sequence[str]) -> Mapping[str, Article]:
        return self.by_id


STORE_BATCH = 1000
"""Rows read from the store per query while scanning."""


class _Stored:
    """Articles streamed from the store, live at ``now``, a page of rows at a time."""

    def __init__(self, tx: Tx, now: datetime) -> None:
        self.articles = tx.articles
        self.now = now

    def fingerprints(self) -> Iterable[tuple[str, str, str]]:
        return self.articles.live_fingerprints(self.now)

    def full(self, article_id: str) -> Article | None:
        return self.articles.get(article_id)

    def counts(self) -> Mapping[str, int]:
        return self.articles.live_counts(self.now)

    def rows(self) -> Iterable[Article]:
        for article in self.articles.iter_live(self.now, bodies=False, batch=STORE_BATCH):
            # An article stored without a content hash is digested from its fields.
            yield article if article.content_hash else self.articles.get(article.id) or article

    def targets(self, ids: Iterable[str]) -> Mapping[str, Article]:
        return self.articles.live_light(ids, self.now)

    def bodies(self, ids: Sequence[str]) -> Mapping[str, Article]:
        return self.articles.many(ids)


class _Plan:
    """What every document of one build shares."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        site = settings.site
        self.base_url = settings.feeds_url
        self.hub = settings.feeds.hub
        self.fingerprint = _code_fingerprint()
        self.common: dict[str, Any] = {
            "home": site.url,
            "icon": site.absolute(site.icon) if site.icon else None,
            "logo": site.absolute(site.logo) if site.logo else None,
            "accent_color": site.accent_color.lstrip("#").lower() or None,
            "copyright": site.copyright or site.title,
            "generator_uri": GENERATOR_URI,
            "section_scheme": site.url.rstrip("/") + "/sections",
            "tag_scheme": site.url.rstrip("/") + "/tags",
        }

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def stylesheet(self, path: str, fmt: Format) -> str | None:
        if fmt == "json" or not self.settings.feeds.stylesheet:
            return None
        return _relative(STYLESHEET, posixpath.dirname(path) or ".")

    def base(self, feed: FeedSet, fmt: Format) -> dict[str, Any]:
        site = self.settings.site
        return {
            **self.common,
            "format": fmt,
            "feed_id": self.url(f"{feed.base}.{fmt}"),
            "language": feed.language,
            "author": site.title_in(feed.language or site.default_language),
        }

    def page_path(self, feed: FeedSet, number: int, fmt: Format) -> str:
        return f"{feed.archive_base}/{number}.{fmt}"

    def current(self, feed: FeedSet, fmt: Format, shown: Sequence[_Item], pages: int) -> _Doc:
        """The current document of ``feed``: its newest entries; ``pages`` full archive pages."""
        path = f"{feed.base}.{fmt}"
        links: list[Link] = []
        if self.hub and fmt != "json":
            links.append(Link(self.hub, "hub"))
        newest = self.url(self.page_path(feed, pages, fmt)) if pages else None
        if newest:
            links.append(Link(newest, "prev-archive", MEDIA_TYPES[fmt]))
        meta = FeedDoc(
            **self.base(feed, fmt),
            path=path,
            url=self.url(path),
            title=feed.title,
            description=feed.description,
            entries=(),
            updated=max(item.modified for item in shown),
            links=tuple(links),
            next_url=newest,
            generator_version=__version__,
            stylesheet=self.stylesheet(path, fmt),
            hub=self.hub,
        )
        return _Doc(meta, shown, current=True)

    def page(
        self, feed: FeedSet, fmt: Format, number: int, members: Sequence[_Item], pages: int
    ) -> _Doc:
        """Archive page ``number`` of ``feed`` (of ``pages``), its entries newest first."""
        settings = self.settings
        media_type = MEDIA_TYPES[fmt]
        path = self.page_path(feed, number, fmt)
        page_links = [Link(self.url(f"{feed.base}.{fmt}"), "current", media_type)]
        if number > 1:
            older = self.url(self.page_path(feed, number - 1, fmt))
            page_links.append(Link(older, "prev-archive", media_type))
        if number < pages:
            # Only a page that exists is linked: the newest page gains its
            # next-archive once the page after it is full, and changes that once.
            newer = self.url(self.page_path(feed, number + 1, fmt))
            page_links.append(Link(newer, "next-archive", media_type))
        title_words = words(settings.words, feed.language or settings.site.default_language)
        meta = FeedDoc(
            **self.base(feed, fmt),
            path=path,
            url=self.url(path),
            title=title_words["archive"].format(title=feed.title, page=number),
            description=feed.description,
            entries=(),
            updated=max(item.modified for item in members),
            links=tuple(page_links),
            archive=True,
            next_url=self.url(self.page_path(feed, number - 1, fmt)) if number > 1 else None,
            # No version: a full page stays byte-identical across upgrades.
            generator_version=None,
            stylesheet=self.stylesheet(path, fmt),
        )
        return _Doc(meta, members, current=False)


@dataclass
class _Doc:
    """A document to write: its metadata, and the entries it holds (newest first)."""

    meta: FeedDoc
    items: Sequence[_Item]
    current: bool

    def inputs(self, fingerprint: str) -> str:
        text = "\n".join([fingerprint, repr(self.meta), *(item.digest for item in self.items)])
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class _Archived:
    """A site or language feed as the scan of its articles, newest first, fills it.

    Attributes:
        feed: the set.
        total: its live articles.
        size: entries per archive page, or ``None`` when it is not archived.
        pages: its full archive pages.
        shown: entries of its current document.
        seen: articles of the set scanned so far.
        current: the current document's entries, once scanned.
        page: the archive page being filled (newest first).
    """

    feed: FeedSet
    total: int
    size: int | None
    pages: int
    shown: int
    seen: int = 0
    current: list[_Item] = field(default_factory=list)
    page: list[_Item] = field(default_factory=list)


@dataclass
class _Names:
    """The section, tag or author feeds of one scope, as the scan finds them.

    Attributes:
        first_use: each name, with its oldest live article's publication time.
        languages: the languages each name has live articles in.
        newest: each name's newest entries (up to ``items``).
        local: the same per name and language (sites with several languages).
    """

    first_use: dict[str, datetime] = field(default_factory=dict)
    languages: dict[str, set[str]] = field(default_factory=dict)
    newest: dict[str, list[_Item]] = field(default_factory=dict)
    local: dict[tuple[str, str], list[_Item]] = field(default_factory=dict)


def _names_of(article: Article, scope: Scope) -> Iterable[str]:
    if scope == "section":
        return (article.section,) if article.section else ()
    return dict.fromkeys(article.tags if scope == "tag" else article.authors)


SCAN_BATCH = 500
"""Articles whose translations are looked up together during the scan."""

CACHE_PAGES = 4
"""Archive pages' worth of entries the renderers keep per archived feed while scanning."""


class _Run:
    """One build that renders: scans the articles once, newest first, then the current feeds.

    Archive pages are decided (and rendered when their inputs changed) as the
    scan completes them; then every current document. Memory holds a few
    pages of entries per archived feed and the newest entries of each feed,
    never the archive.
    """

    def __init__(self, source: _Source, settings: Settings, writer: Writer) -> None:

        self.source = source
        self.settings = settings
        self.writer = writer
        from broadsheet.feeds import fg, jsonfeed

        self.plan = _Plan(settings)
        self.formats: tuple[Format, ...] = tuple(settings.feeds.formats)
        self.xml = fg.EntryCache(self.formats)
        self.json = jsonfeed.ItemCache()
        self.entries: dict[str, Entry] = {}
        self.hot_ids: set[str] = set()
        self.hot_digests: set[str] = set()
        self.rendered = 0
        self.changed_topics: list[str] = []
        self.index: list[dict[str, Any]] = []
        self.page_entries: PageItems = {}

    # Rendering ---------------------------------------------------------------

    def _entries(self, items: Sequence[_Item], path: str) -> tuple[Entry, ...]:
        """The entries of ``items``, reading the bodies of those not yet made."""
        missing = [item for item in items if item.id not in self.entries]
        if missing:
            found = self.source.bodies([item.id for item in missing])
            for item in missing:
                article = found.get(item.id)
                if article is None:  # deleted since the scan began (outside its transaction)
                    raise RenderError(f"feed {path}: article {item.id!r} disappeared")
                self.entries[item.id] = make_entry(
                    article, item.translations, item.digest, self.settings.site
                )
        return tuple(self.entries[item.id] for item in items)

    def _render(self, doc: _Doc) -> list[bytes]:
        full = replace(doc.meta, entries=self._entries(doc.items, doc.meta.path))
        from broadsheet.feeds import fg, jsonfeed

        if full.format == "json":
            return jsonfeed.render_parts(full, self.json)
        return fg.render_parts(full, self.xml)

    def _emit(self, doc: _Doc) -> None:
        """Write ``doc`` unless its inputs are those of the file on disk."""
        inputs = doc.inputs(self.plan.fingerprint)
        if self.writer.is_current(doc.meta.path, inputs):
            return
        self.rendered += 1
        changed = self.writer.write(doc.meta.path, self._render(doc), inputs)
        if changed and doc.current:
            self.changed_topics.append(doc.meta.url)

    def _page(self, feed: FeedSet, shown: Sequence[_Item]) -> None:
        """Write the page for people beside ``feed`` unless its inputs are unchanged."""
        from broadsheet.feeds import pages

        settings = self.settings
        language = feed.language or settings.site.default_language
        page = pages.FeedPage(
            path=pages.page_path(feed.base),
            title=feed.title,
            description=feed.description,
            language=language,
            site_title=settings.site.title_in(language),
            site_url=settings.site.url,
            accent=settings.site.accent_color,
            formats=tuple((fmt, self.plan.url(f"{feed.base}.{fmt}")) for fmt in self.formats),
            words=words(settings.words, language),
        )
        inputs = page.inputs(self.plan.fingerprint, [item.digest for item in shown])
        if self.writer.is_current(page.path, inputs):
            return
        self.rendered += 1
        entries = self._entries(shown, page.path)
        self.writer.write(page.path, pages.render_page(page, entries, self.page_entries), inputs)

    def _hot(self, item: _Item) -> None:
        """Keep ``item``'s entry for the whole build: a current document holds it."""
        self.hot_ids.add(item.id)
        self.hot_digests.add(item.digest)

    def _trim(self, keep: int) -> None:
        from broadsheet.feeds.model import trim_oldest

        if len(self.entries) <= len(self.hot_ids) + 2 * keep:
            return  # trimmed in bulk, now and then: each trim walks the oldest entries
        keep += len(self.hot_ids)
        trim_oldest(self.entries, keep, self.hot_ids)
        self.xml.trim(keep, self.hot_digests)
        self.json.trim(keep, self.hot_digests)

    # The scan ----------------------------------------------------------------

    def _items(self) -> Iterator[tuple[Article, _Item]]:
        """Every live article (no text needed) with its item, newest first."""
        rows = iter(self.source.rows())
        while batch := list(itertools.islice(rows, SCAN_BATCH)):
            wanted = {target for a in batch for target in a.translations.values()}
            targets = self.source.targets(wanted) if wanted else {}
            for article in batch:
                links = translation_links(article, targets)
                digest = entry_digest(article, links, self.settings.site)
                yield article, _Item(article.id, digest, utc(article.modified), links)

    def _take(self, scan: _Archived, item: _Item, keep: int) -> None:
        seen = scan.seen
        scan.seen += 1
        if seen < scan.shown:
            scan.current.append(item)
            self._hot(item)
        if scan.size is None:
            return
        oldest = scan.total - 1 - seen  # its place counted from the oldest, 0-based
        if oldest >= scan.pages * scan.size:
            return
        scan.page.append(item)
        if oldest % scan.size:
            return
        number = oldest // scan.size + 1
        for fmt in self.formats:
            self._emit(self.plan.page(scan.feed, fmt, number, scan.page, scan.pages))
        scan.page = []
        self._trim(keep)

    def run(self) -> None:
        """Scan, write every document, and gather the index entries."""
        settings = self.settings
        options = settings.feeds
        several = len(settings.site.languages) > 1
        counts = self.source.counts()
        languages = languages_of(settings, (code for code, n in counts.items() if n))
        scans: dict[str | None, _Archived] = {}
        for feed in plan_sets(settings, languages, {}, {}):
            total = sum(counts.values()) if feed.scope == "site" else counts[feed.language or ""]
            archived = feed.archive_base is not None and feed.scope in ARCHIVED_SCOPES
            size = options.archive_size if archived else None
            key = None if feed.scope == "site" else feed.language
            scans[key] = _Archived(
                feed,
                total,
                size,
                pages=total // size if size else 0,
                shown=archive.current_size(total, options.items, size),
            )
        keep = CACHE_PAGES * options.archive_size * max(1, len(scans))
        site = scans.get(None)
        scopes = [scope for scope in SCOPES[2:] if scope in options.sets]
        names: dict[Scope, _Names] = {scope: _Names() for scope in scopes}
        items = options.items
        for article, item in self._items():
            if site is not None:
                self._take(site, item, keep)
            if (local := scans.get(article.language)) is not None:
                self._take(local, item, keep)
            for scope in scopes:
                found = names[scope]
                for name in _names_of(article, scope):
                    found.first_use[name] = article.published  # the oldest wins
                    found.languages.setdefault(name, set()).add(article.language)
                    newest = found.newest.setdefault(name, [])
                    if len(newest) < items:
                        newest.append(item)
                        self._hot(item)
                    if several:
                        local_newest = found.local.setdefault((name, article.language), [])
                        if len(local_newest) < items:
                            local_newest.append(item)
                            self._hot(item)
        first_use: dict[Scope, Mapping[str, datetime]] = {
            scope: found.first_use for scope, found in names.items()
        }
        name_languages: dict[Scope, Mapping[str, Iterable[str]]] = {
            scope: found.languages for scope, found in names.items()
        }
        for feed in plan_sets(settings, languages, first_use, name_languages):
            pages = 0
            if feed.scope in ("site", "language"):
                scan = scans[None if feed.scope == "site" else feed.language]
                shown: Sequence[_Item] = scan.current
                pages = scan.pages
            elif several and feed.language is not None:
                shown = names[feed.scope].local[feed.name or "", feed.language]
            else:
                shown = names[feed.scope].newest[feed.name or ""]
            for fmt in self.formats:
                doc = self.plan.current(feed, fmt, shown, pages)
                self._emit(doc)
                archives = [self.plan.page_path(feed, n, fmt) for n in range(1, pages + 1)]
                self.index.append(self._index_entry(feed, doc, archives))
            self._page(feed, shown)

    def _index_entry(self, feed: FeedSet, doc: _Doc, archives: list[str]) -> dict[str, Any]:
        from broadsheet.feeds.fg import rfc3339

        return {
            "path": doc.meta.path,
            "url": doc.meta.url,
            "format": doc.meta.format,
            "language": feed.language,
            "scope": feed.scope,
            "name": feed.name,
            "title": doc.meta.title,
            "items": len(doc.items),
            "updated": rfc3339(doc.meta.updated),
            "archives": archives,
        }


def _index(entries: list[dict[str, Any]]) -> bytes:
    """index.json: one feed per line, so it diffs well and is quick to write."""
    import json

    if not entries:
        return b'{"feeds": []}\n'
    lines = ",\n  ".join(
        json.dumps(e, ensure_ascii=False, separators=(", ", ": ")) for e in entries
    )
    return f'{{"feeds": [\n  {lines}\n]}}\n'.encode()


def _build_digest(source: _Source, settings: Settings) -> tuple[str, int]:
    """A digest of everything a build depends on: code, settings and every live article.

    Articles count by their stored fingerprints (id, guid, content hash):
    no body is read. Returns the digest and the number of live articles.
    """
    site, options = settings.site, settings.feeds
    head = [
        _code_fingerprint(),
        repr(site),
        settings.feeds_url,
        repr((options.items, options.archive_size, options.sets, options.formats)),
        repr((options.hub, options.stylesheet)),
    ]
    digest = hashlib.sha256("\n".join(head).encode("utf-8", "surrogatepass"))
    count = 0
    for ident, guid, content_hash in source.fingerprints():
        if not content_hash:
            article = source.full(ident)
            content_hash = entry_digest(article, ()) if article else ""
        digest.update(f"\n{ident}\t{guid}\t{content_hash}".encode("utf-8", "surrogatepass"))
        count += 1
    return digest.hexdigest(), count


def _kept_index(writer: Writer) -> list[dict[str, Any]] | None:
    """The last build's index entries, when every file it wrote is untouched."""
    import json

    try:
        index = json.loads((writer.out / INDEX).read_text(encoding="utf-8"))["feeds"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(index, list) or not writer.keep_all():
        return None
    return index


def _announce(
    report: FeedBuildReport, topics: list[str], settings: Settings, target: Path, ping: bool
) -> None:
    """WebSub: announce changed feeds (and earlier failures), or keep them for later."""
    if not settings.feeds.hub:
        return
    from broadsheet.feeds import websub

    if ping:
        outcome = websub.ping(settings.feeds.hub, topics, target)
        report.pinged, report.ping_pending = outcome.sent, outcome.pending
    else:
        report.ping_pending = websub.defer(topics, target)


def _build(
    source: _Source, settings: Settings, out: Path | None
) -> tuple[FeedBuildReport, list[str]]:
    """Build from ``source``; the report and the current feeds whose bytes changed."""
    target = (out or settings.feeds.out).absolute()
    try:
        target.mkdir(parents=True, exist_ok=True)
        writer = Writer(target, precompress=settings.feeds.precompress)
    except OSError as exc:
        raise RenderError(f"{target}: cannot create the feeds folder: {exc.strerror}") from exc
    report = FeedBuildReport(out=target)
    build, report.articles = _build_digest(source, settings)
    if writer.previous_build == build and (kept := _kept_index(writer)) is not None:
        # Nothing the feeds are made from has changed, and every file is as
        # the last build left it: there is nothing to render or write.
        report.unchanged, report.feeds = writer.unchanged, kept
        return report, []
    run = _Run(source, settings, writer)
    try:
        run.run()
        if settings.feeds.stylesheet and {"rss", "atom"} & set(settings.feeds.formats):
            xsl = (templates_dir() / "feeds" / STYLESHEET).read_bytes()
            writer.write(STYLESHEET, xsl)
        writer.write(IMMUTABLE_MAP, immutable_map(run.index))
        writer.write(INDEX, _index(run.index))
        writer.finish(build)
    except OSError as exc:
        where = exc.filename or target
        raise RenderError(f"{where}: cannot write feeds: {exc.strerror or exc}") from exc
    report.written, report.unchanged, report.removed = (
        writer.written,
        writer.unchanged,
        writer.removed,
    )
    report.feeds, report.rendered = run.index, run.rendered
    log.info(
        "feeds: %d written, %d unchanged, %d removed in %s",
        len(report.written),
        len(report.unchanged),
        len(report.removed),
        target,
    )
    return report, run.changed_topics


def build_feeds(
    articles: Sequence[Article],
    settings: Settings,
    *,
    out: Path | None = None,
    ping: bool = True,
) -> FeedBuildReport:
    """Write every feed, its archive pages, feed.xsl and index.json.

    For a publication's store, :func:`build_feeds_from_store` does the same
    without holding the archive in memory.

    Args:
        articles: the live articles (``tx.articles.live(now)``); drafts are
            dropped here too, whatever is passed.
        settings: the publication's settings (``[site]`` and ``[feeds]``).
        out: the output folder; default ``settings.feeds.out``.
        ping: announce changed feeds to the WebSub hub (when one is
            configured); when off, they wait for the next build that pings.

    Returns:
        What was written, left unchanged and removed, and the index entries.

    Raises:
        RenderError: a feed could not be rendered or written; the message
            names it.
    """
    report, topics = _build(_Given(live(articles)), settings, out)
    _announce(report, topics, settings, report.out, ping)
    return report


def build_feeds_from_store(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    out: Path | None = None,
    ping: bool = True,
) -> FeedBuildReport:
    """:func:`build_feeds` of the articles live at ``now``, streamed from ``store``.

    Memory does not grow with the archive: articles are read a page of rows
    at a time in one read transaction, each document is written as soon as
    it is complete, archive pages whose entries are unchanged are not
    rendered, and whether anything changed at all is decided from the
    articles' stored fingerprints, without reading a body. The files are
    byte for byte those :func:`build_feeds` writes from ``tx.articles.live(now)``.

    Args:
        store: the publication's store.
        settings: the publication's settings (``[site]`` and ``[feeds]``).
        now: the moment that decides which articles are live (aware).
        out: the output folder; default ``settings.feeds.out``.
        ping: as for :func:`build_feeds`.

    Raises:
        RenderError: a feed could not be rendered or written; the message
            names it.
        StoreError: the store could not be read.
    """
    with store.read() as tx:
        report, topics = _build(_Stored(tx, now), settings, out)
    _announce(report, topics, settings, report.out, ping)
    return report
