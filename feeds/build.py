"""``build_feeds``: every feed set, in every format, with archives and index.json.

The output folder (``[feeds] out``, public at ``[feeds] url``) holds::

    index.json                    every current feed (see DESIGN.md, "Outputs")
    feed.xsl                      the stylesheet browsers use to show a feed as a page
    all.rss  all.atom  all.json   the whole site, every language
    en.rss   en.atom   en.json    one language (one set per language)
    section/economy.atom          one section, every language
    en/section/economy.atom       the same section in one language (multilingual sites)
    tag/sanctions.atom            likewise for tags ...
    author/irina-volkova.atom     ... and authors
    archive/all/1.atom            RFC 5005 archive pages of the site feed, oldest first
    archive/en/1.atom             ... and of each language feed
    .immutable.map                archive pages with a successor (for web servers)

Every feed comes in each configured format (``.rss``, ``.atom``, ``.json``).
Gather, then write: the sets and their documents are decided first
(:mod:`broadsheet.feeds.sets`, :mod:`broadsheet.feeds.archive`), rendered
(:mod:`broadsheet.feeds.fg`,
:mod:`broadsheet.feeds.jsonfeed`), then written (:mod:`broadsheet.feeds.publish`). A document whose
inputs (its entries' digests, its own metadata and the code that renders it)
are unchanged since the last build is not rendered again.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from broadsheet import __version__
from broadsheet.config import Settings
from broadsheet.errors import RenderError
from broadsheet.feeds import archive, fg, jsonfeed, websub
from broadsheet.feeds.entries import entry_digest, live, make_entry, translation_links, utc
from broadsheet.feeds.model import MEDIA_TYPES, Entry, FeedDoc, Format, Link
from broadsheet.feeds.publish import Writer
from broadsheet.feeds.serving import IMMUTABLE_MAP, immutable_map
from broadsheet.feeds.sets import ARCHIVED_SCOPES, FeedSet, feed_sets, words
from broadsheet.model import Article
from broadsheet.resources import templates_dir

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
    """

    out: Path
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    feeds: list[dict[str, Any]] = field(default_factory=list)
    rendered: int = 0
    pinged: list[str] = field(default_factory=list)
    ping_pending: list[str] = field(default_factory=list)

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
    digest = hashlib.sha256()
    digest.update(__version__.encode())
    package = Path(__file__).parent
    for source in [*sorted(package.glob("*.py")), templates_dir() / "feeds" / STYLESHEET]:
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    digest.update(metadata.version("feedgen").encode())
    return digest.hexdigest()


@cache
def _relative(target: str, folder: str) -> str:
    return posixpath.relpath(target, folder)


class _Plan:
    """Everything one build needs to turn sets into documents."""

    def __init__(self, articles: Sequence[Article], settings: Settings) -> None:
        self.settings = settings
        site = settings.site
        self.base_url = settings.feeds_url
        self.hub = settings.feeds.hub
        self.by_id = {a.id: a for a in articles}
        self.translations = {a.id: translation_links(a, self.by_id) for a in articles}
        self.digests = {a.id: entry_digest(a, self.translations[a.id]) for a in articles}
        self.modified = {a.id: utc(a.modified) for a in articles}
        self._entries: dict[str, Entry] = {}
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

    def entry(self, article: Article) -> Entry:
        found = self._entries.get(article.id)
        if found is None:
            found = make_entry(article, self.translations[article.id], self.digests[article.id])
            self._entries[article.id] = found
        return found

    def stylesheet(self, path: str, fmt: Format) -> str | None:
        if fmt == "json" or not self.settings.feeds.stylesheet:
            return None
        return _relative(STYLESHEET, posixpath.dirname(path) or ".")


@dataclass
class _Doc:
    """A document to write: its metadata, and the articles its entries come from."""

    meta: FeedDoc
    articles: Sequence[Article]
    current: bool

    def inputs(self, plan: _Plan) -> str:
        digests = plan.digests
        text = "\n".join(
            [plan.fingerprint, repr(self.meta), *(digests[a.id] for a in self.articles)]
        )
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _updated(articles: Sequence[Article], plan: _Plan) -> datetime:
    return max(plan.modified[a.id] for a in articles)


def _documents(feed: FeedSet, fmt: Format, plan: _Plan) -> list[_Doc]:
    """The current document of ``feed`` in ``fmt`` and its archive pages."""
    settings = plan.settings
    articles = feed.articles
    archived = feed.archive_base is not None and feed.scope in ARCHIVED_SCOPES
    size = settings.feeds.archive_size if archived else None
    full_pages = archive.pages(len(articles), size) if size else []
    current_path = f"{feed.base}.{fmt}"
    current_url = plan.url(current_path)

    def page_path(number: int) -> str:
        return f"{feed.archive_base}/{number}.{fmt}"

    media_type = MEDIA_TYPES[fmt]
    author = plan.settings.site.title_in(feed.language or plan.settings.site.default_language)
    base = {
        **plan.common,
        "format": fmt,
        "feed_id": current_url,
        "language": feed.language,
        "author": author,
    }
    links: list[Link] = []
    if plan.hub and fmt != "json":
        links.append(Link(plan.hub, "hub"))
    if full_pages:
        newest = plan.url(page_path(full_pages[-1].number))
        links.append(Link(newest, "prev-archive", media_type))
    shown = articles[: archive.current_size(len(articles), settings.feeds.items, size)]
    docs = [
        _Doc(
            FeedDoc(
                **base,
                path=current_path,
                url=current_url,
                title=feed.title,
                description=feed.description,
                entries=(),
                updated=_updated(shown, plan),
                links=tuple(links),
                next_url=plan.url(page_path(full_pages[-1].number)) if full_pages else None,
                generator_version=__version__,
                stylesheet=plan.stylesheet(current_path, fmt),
                hub=plan.hub,
            ),
            shown,
            current=True,
        )
    ]
    title_words = words(settings.words, feed.language or settings.site.default_language)
    for page in full_pages:
        path = page_path(page.number)
        members = archive.page_entries(articles, page)
        page_links = [Link(current_url, "current", media_type)]
        if page.number > 1:
            page_links.append(
                Link(plan.url(page_path(page.number - 1)), "prev-archive", media_type)
            )
        if page.number < len(full_pages):
            # Only a page that exists is linked: the newest page gains its
            # next-archive once the page after it is full, and changes that once.
            page_links.append(
                Link(plan.url(page_path(page.number + 1)), "next-archive", media_type)
            )
        docs.append(
            _Doc(
                FeedDoc(
                    **base,
                    path=path,
                    url=plan.url(path),
                    title=title_words["archive"].format(title=feed.title, page=page.number),
                    description=feed.description,
                    entries=(),
                    updated=_updated(members, plan),
                    links=tuple(page_links),
                    archive=True,
                    next_url=plan.url(page_path(page.number - 1)) if page.number > 1 else None,
                    # No version: a full page stays byte-identical across upgrades.
                    generator_version=None,
                    stylesheet=plan.stylesheet(path, fmt),
                ),
                members,
                current=False,
            )
        )
    return docs


@dataclass
class _Caches:
    """Entries serialised once per build and format, shared by every document."""

    xml: fg.EntryCache
    json: jsonfeed.ItemCache = field(default_factory=jsonfeed.ItemCache)


def _render(doc: _Doc, plan: _Plan, caches: _Caches) -> list[bytes]:
    """``doc`` in pieces (its entries are the caches' shared bytes), ready to write."""
    full = replace(doc.meta, entries=tuple(plan.entry(a) for a in doc.articles))
    if full.format == "json":
        return jsonfeed.render_parts(full, caches.json)
    return fg.render_parts(full, caches.xml)


def _index_entry(feed: FeedSet, doc: _Doc, archives: list[str]) -> dict[str, Any]:
    return {
        "path": doc.meta.path,
        "url": doc.meta.url,
        "format": doc.meta.format,
        "language": feed.language,
        "scope": feed.scope,
        "name": feed.name,
        "title": doc.meta.title,
        "items": len(doc.articles),
        "updated": fg.rfc3339(doc.meta.updated),
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


def _build_digest(articles: Sequence[Article], settings: Settings) -> str:
    """A digest of everything a build depends on: code, settings and every live article."""
    site, options = settings.site, settings.feeds
    head = [
        _code_fingerprint(),
        repr(site),
        settings.feeds_url,
        repr((options.items, options.archive_size, options.sets, options.formats)),
        repr((options.hub, options.stylesheet)),
    ]
    rows = [f"{a.id}\t{a.guid}\t{a.content_hash or entry_digest(a, ())}" for a in articles]
    text = "\n".join([*head, *rows])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


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
    if ping:
        outcome = websub.ping(settings.feeds.hub, topics, target)
        report.pinged, report.ping_pending = outcome.sent, outcome.pending
    else:
        report.ping_pending = websub.defer(topics, target)


def build_feeds(
    articles: Sequence[Article],
    settings: Settings,
    *,
    out: Path | None = None,
    ping: bool = True,
) -> FeedBuildReport:
    """Write every feed, its archive pages, feed.xsl and index.json.

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
    target = (out or settings.feeds.out).absolute()
    published = live(articles)
    try:
        target.mkdir(parents=True, exist_ok=True)
        writer = Writer(target, precompress=settings.feeds.precompress)
    except OSError as exc:
        raise RenderError(f"{target}: cannot create the feeds folder: {exc.strerror}") from exc
    report = FeedBuildReport(out=target)
    build = _build_digest(published, settings)
    if writer.previous_build == build and (kept := _kept_index(writer)) is not None:
        # Nothing the feeds are made from has changed, and every file is as
        # the last build left it: there is nothing to render or write.
        report.unchanged, report.feeds = writer.unchanged, kept
        _announce(report, [], settings, target, ping)
        return report
    plan = _Plan(published, settings)
    sets = feed_sets(published, settings)
    caches = _Caches(fg.EntryCache(settings.feeds.formats))
    changed_topics: list[str] = []
    index: list[dict[str, Any]] = []
    try:
        for feed in sets:
            for fmt in settings.feeds.formats:
                docs = _documents(feed, fmt, plan)
                for doc in docs:
                    inputs = doc.inputs(plan)
                    if writer.is_current(doc.meta.path, inputs):
                        continue
                    report.rendered += 1
                    changed = writer.write(doc.meta.path, _render(doc, plan, caches), inputs)
                    if changed and doc.current:
                        changed_topics.append(doc.meta.url)
                archives = [d.meta.path for d in docs if not d.current]
                index.append(_index_entry(feed, docs[0], archives))
        if settings.feeds.stylesheet and {"rss", "atom"} & set(settings.feeds.formats):
            xsl = (templates_dir() / "feeds" / STYLESHEET).read_bytes()
            writer.write(STYLESHEET, xsl)
        writer.write(IMMUTABLE_MAP, immutable_map(index))
        writer.write(INDEX, _index(index))
        writer.finish(build)
    except OSError as exc:
        where = exc.filename or target
        raise RenderError(f"{where}: cannot write feeds: {exc.strerror or exc}") from exc
    report.written, report.unchanged, report.removed = (
        writer.written,
        writer.unchanged,
        writer.removed,
    )
    report.feeds = index
    _announce(report, changed_topics, settings, target, ping)
    log.info(
        "feeds: %d written, %d unchanged, %d removed in %s",
        len(report.written),
        len(report.unchanged),
        len(report.removed),
        target,
    )
    return report
