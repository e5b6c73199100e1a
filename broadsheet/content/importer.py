"""``broadsheet import``: articles from Markdown, JSON Lines or a feed into the store.

Records are read, checked and saved a batch at a time (:data:`BATCH`), so
memory does not grow with the archive; only valid ones are written, so a
bad file never changes what is stored. Re-importing unchanged content writes
nothing (the content hash is compared), a changed file updates its article,
and an article keeps its feed id for ever.

A Markdown file is recognised as unchanged before it is parsed: the store
keeps, per file, its size, modification time and the SHA-256 of its bytes
(:mod:`broadsheet.store.sources`), with a digest of the settings the import
depends on and of the release (:func:`settings_digest`). A file whose size
and time match is not read; one whose bytes match is read but not parsed;
a changed ``site.url``, time zone or language list parses everything again.
A file whose import gave warnings is parsed every time, so they are repeated.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from broadsheet import __version__
from broadsheet.config import Settings
from broadsheet.content.fields import Checked, RawArticle, check_article
from broadsheet.content.readers import parse_markdown, read_bytes, read_feed, read_jsonl
from broadsheet.errors import ContentError
from broadsheet.store import Store
from broadsheet.store.sources import SourceState

log = logging.getLogger(__name__)

_T = TypeVar("_T")

Format = Literal["md", "jsonl", "feed"]

Progress = Callable[[int, int], None]
"""Called with (done, total) as records are checked; total is 0 when not known."""

BATCH = 500
"""Files or records checked and saved per transaction."""

IMPORT_FORMAT = 1
"""Raise when a change to reading or checking changes what an import stores
without a new release number: every source is then parsed again."""

_RECENT_NS = 2_000_000_000
"""A file modified less than this long before it is read may change again
within the same timestamp tick; its time is not trusted next time (its
bytes are read and compared instead)."""

_SUFFIXES: dict[str, Format] = {
    ".md": "md",
    ".markdown": "md",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
}


@dataclass
class ImportReport:
    """What an import did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    not_read: int = 0
    """Markdown files whose size and time matched what the store kept: not read."""
    read: int = 0
    """Markdown files read whose bytes matched what the store kept: not parsed."""
    parsed: int = 0
    """Records parsed and checked (one per Markdown file)."""

    @property
    def ok(self) -> bool:
        """Whether nothing was rejected."""
        return not self.rejected


def guess_format(location: str) -> Format:
    """The import format of a path or URL, from its kind and suffix."""
    if urlsplit(location).scheme in ("http", "https"):
        return "feed"
    path = Path(location)
    if path.is_dir():
        return "md"
    return _SUFFIXES.get(path.suffix.lower(), "md")


def _shown(path: Path | str) -> str:
    """A path as the user would write it (relative to the working folder); URLs as they are."""
    if urlsplit(str(path)).scheme in ("http", "https"):
        return str(path)
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def stored_source(file: Path, root: Path) -> str:
    """Where an article came from, as the store keeps it.

    A file inside the publication's folder is kept relative to it (POSIX
    style), so a publication moved or copied as a whole still recognises its
    own files; anything else is kept as an absolute path.
    """
    resolved = file.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(resolved)


def _raw_records(
    location: str, fmt: Format, settings: Settings
) -> Iterator[RawArticle | ContentError]:
    root, limits = settings.root, settings.content
    if fmt == "feed":
        local = urlsplit(location).scheme not in ("http", "https")
        try:
            for record in read_feed(location, max_bytes=limits.max_file_bytes):
                if local and isinstance(record, RawArticle):
                    record.source = stored_source(Path(location), root)
                yield record
        except ContentError as exc:
            yield exc
        return
    path = Path(location)
    if not path.exists():
        yield ContentError(location, "no such file or folder")
        return
    if fmt == "jsonl":
        files = (
            sorted(p for p in path.rglob("*.jsonl") if not _hidden(p.relative_to(path)))
            if path.is_dir()
            else [path]
        )
        for file in files:
            try:
                records = read_jsonl(
                    file, str(file.resolve()), max_body_bytes=limits.max_body_bytes
                )
                for record in records:
                    if isinstance(record, RawArticle):
                        record.source = stored_source(file, root)
                    if isinstance(record, RawArticle):
                        record.label = _shown(file)
                    yield _relabel(record, file)
            except ContentError as exc:
                yield _relabel(exc, file)
        return
    yield ContentError(location, f"not an import format: {fmt}")  # md goes elsewhere


def _hidden(relative: Path) -> bool:
    """Whether a file in a folder being imported is hidden, or in a hidden folder.

    ``.git/``, editors' ``.#x.md`` locks and macOS's ``._x.md`` companions are
    not articles.
    """
    return any(part.startswith(".") for part in relative.parts)


def _relabel(record: RawArticle | ContentError, file: Path) -> RawArticle | ContentError:
    if isinstance(record, ContentError) and record.source == str(file.resolve()):
        return ContentError(_shown(file), record.reason, line=record.line, field=record.field)
    return record


def _conflict(stored_source: str, new_source: str, root: Path) -> bool:
    """Whether another file that still exists already owns this id.

    Sources inside the publication are relative to its folder. One stored
    as an absolute path (by an earlier version, or from outside the folder)
    that ends in the new file's relative path is the same file in a copy of
    the publication, not a rival.
    """
    if stored_source == new_source:
        return False
    if urlsplit(stored_source).scheme in ("http", "https"):
        return False
    stored = Path(stored_source)
    if not stored.is_absolute():
        stored = root / stored
    elif not Path(new_source).is_absolute() and stored.as_posix().endswith("/" + new_source):
        return False
    new = Path(new_source) if Path(new_source).is_absolute() else root / new_source
    if stored.resolve() == new.resolve():
        return False
    return stored.is_file()


def _located(source: str, root: Path) -> str:
    """A stored source as a path or URL the user can open."""
    if urlsplit(source).scheme in ("http", "https") or Path(source).is_absolute():
        return source
    return str(root / source)


def _taken(raw: RawArticle, field: str, value: str, owner: str) -> str:
    """The rejection of ``raw`` whose ``field`` (id or guid) ``owner`` already has."""
    return str(
        ContentError(
            raw.shown,
            f"{value!r} is already the {field} of {owner}; {field}s must be unique",
            line=raw.field_lines.get(field, raw.line),
            field=field,
        )
    )


def settings_digest(settings: Settings) -> str:
    """A digest of everything besides a file's bytes that decides what its import stores.

    The settings the field checks read (``site.url``, ``site.languages``,
    ``site.timezone``, ``site.article_url``, the ``[content]`` limits), the
    release and :data:`IMPORT_FORMAT`: when any changes, every source is
    parsed again.
    """
    site, content = settings.site, settings.content
    data = {
        "format": IMPORT_FORMAT,
        "version": __version__,
        "url": site.url,
        "languages": list(site.languages),
        "timezone": site.timezone,
        "article_url": site.article_url,
        "max_body_bytes": content.max_body_bytes,
        "max_file_bytes": content.max_file_bytes,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _markdown_files(folder: str, relative: str = "") -> Iterator[tuple[str, str, bool]]:
    """``(path, relative path, plain)`` of each Markdown file under ``folder``, in path order.

    The order is that of sorting the paths (part by part), found one folder
    at a time; hidden files and folders are left out. ``plain`` is false for
    a symbolic link (its stored source is where it points). Paths are plain
    strings: a re-import of an unchanged folder is mostly this walk.
    """
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        inner = f"{relative}/{name}" if relative else name
        if os.path.splitext(name)[1].lower() in (".md", ".markdown"):
            yield entry.path, inner, not entry.is_symlink()
        if entry.is_dir(follow_symlinks=False):
            yield from _markdown_files(entry.path, inner)


@dataclass
class _Source:
    """A Markdown file to import: where it is, and what was found out about it."""

    file: str
    source: str
    size: int = -1
    mtime_ns: int = -1
    raw_hash: str = ""

    @property
    def shown(self) -> str:
        return _shown(self.file)


def _markdown_sources(location: str, root: Path) -> Iterator[_Source | ContentError]:
    path = Path(location)
    if not path.exists():
        yield ContentError(location, "no such file or folder")
        return
    if not path.is_dir():
        yield _Source(location, stored_source(path, root))
        return
    folder, base = path.resolve(), root.resolve()
    try:
        prefix = folder.relative_to(base).as_posix()
    except ValueError:
        prefix = str(folder)  # outside the publication: kept absolute
    else:
        prefix = "" if prefix == "." else prefix
    for file, relative, plain in _markdown_files(str(path)):
        if not plain:
            yield _Source(file, stored_source(Path(file), root))
        else:
            yield _Source(file, f"{prefix}/{relative}" if prefix else relative)


def _batches(items: Iterable[_T]) -> Iterator[list[_T]]:
    batch: list[_T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class _Seen:
    """Ids (or guids) met so far in one import, and what had each, in little memory.

    Those of the current batch are kept with the name of the record that
    had them; those of earlier batches only as 64-bit digests, the record
    that had one being found in the store (it was saved) when the value
    comes again. Memory stays a few dozen bytes per record however large
    the archive.
    """

    def __init__(self) -> None:
        self.batch: dict[str, str] = {}
        self.earlier: set[int] = set()

    def next_batch(self) -> None:
        self.earlier.update(_digest(value) for value in self.batch)
        self.batch = {}

    def holder(self, value: str, stored: Callable[[str], str | None]) -> str | None:
        """What had ``value`` already in this import, or None."""
        if value in self.batch:
            return self.batch[value]
        if _digest(value) in self.earlier:
            return stored(value)
        return None

    def add(self, value: str, shown: str) -> None:
        self.batch[value] = shown


def _digest(value: str) -> int:
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "big")


@dataclass
class _Pending:
    """A translation link whose target was not stored when its article was checked."""

    shown: str
    code: str
    target: str


class _Run:
    """One import: the report, what was seen so far, the links left to check."""

    def __init__(
        self, store: Store, settings: Settings, now: datetime, progress: Progress | None
    ) -> None:
        self.store = store
        self.settings = settings
        self.now = now
        self.progress = progress
        self.done = 0
        self.report = ImportReport()
        self.digest = settings_digest(settings)
        self.seen = _Seen()
        self.seen_guids = _Seen()
        self.pending: list[_Pending] = []

    def tick(self) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, 0)

    # --- Markdown: recognise unchanged files first ---------------------------

    def markdown(self, location: str) -> None:
        for batch in _batches(_markdown_sources(location, self.settings.root)):
            self.markdown_batch(batch)

    def markdown_batch(self, batch: list[_Source | ContentError]) -> None:
        files = [item for item in batch if isinstance(item, _Source)]
        with self.store.read() as tx:
            known = tx.sources.lookup([f.source for f in files])
        records: list[tuple[RawArticle | ContentError, _Source | None]] = []
        refresh: list[SourceState] = []
        limit = self.settings.content.max_file_bytes
        recent = time.time_ns() - _RECENT_NS
        for item in batch:
            self.tick()
            if isinstance(item, ContentError):
                records.append((item, None))
                continue
            stat: os.stat_result | None
            try:
                stat = os.stat(item.file)
            except OSError:
                stat = None  # reading it says why
            else:
                item.size = stat.st_size
                # A time too recent to trust is not kept (see _RECENT_NS).
                item.mtime_ns = stat.st_mtime_ns if stat.st_mtime_ns < recent else -1
            state = known.get(item.source)
            if state is not None and state.settings != self.digest:
                state = None
            if (
                state is not None
                and stat is not None
                and state.mtime_ns != -1
                and (state.size, state.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
            ):
                self.report.not_read += 1
                self.report.unchanged.append(state.article_id)
                continue
            shown = item.shown
            try:
                data = read_bytes(Path(item.file), shown, limit=limit)
            except ContentError as exc:
                records.append((exc, None))
                continue
            item.raw_hash = hashlib.sha256(data).hexdigest()
            if state is not None and state.raw_hash == item.raw_hash and stat is not None:
                self.report.read += 1
                self.report.unchanged.append(state.article_id)
                refresh.append(
                    SourceState(
                        item.source,
                        item.size,
                        item.mtime_ns,
                        item.raw_hash,
                        self.digest,
                        state.article_id,
                        state.content_hash,
                    )
                )
                continue
            self.report.parsed += 1
            try:
                record = parse_markdown(data, Path(item.file), shown)
            except ContentError as exc:
                records.append((exc, None))
                continue
            del data
            record.label = record.source
            record.source = item.source
            records.append((record, item if stat is not None else None))
        self.check_and_save(records, refresh)

    # --- every format ----------------------------------------------------------

    def records(self, stream: Iterable[RawArticle | ContentError]) -> None:
        for batch in _batches(stream):
            for record in batch:
                self.tick()
                if isinstance(record, RawArticle):
                    self.report.parsed += 1
            self.check_and_save([(record, None) for record in batch], [])

    def check(self, record: RawArticle | ContentError) -> Checked | None:
        """``record`` checked, or None when rejected (the reason is in the report)."""
        report = self.report
        if isinstance(record, ContentError):
            report.rejected.append(str(record))
            return None
        try:
            checked = check_article(record, self.settings)
        except ContentError as exc:
            report.rejected.append(str(exc))
            return None
        article = checked.article
        holder = self.seen.holder(article.id, self._id_holder)
        if holder is not None:
            report.rejected.append(_taken(record, "id", article.id, holder))
            return None
        holder = self.seen_guids.holder(article.guid, self._guid_holder)
        if holder is not None:
            report.rejected.append(_taken(record, "guid", article.guid, holder))
            return None
        self.seen.add(article.id, record.shown)
        self.seen_guids.add(article.guid, record.shown)
        report.warnings.extend(checked.warnings)
        return checked

    def _id_holder(self, article_id: str) -> str | None:
        """The file that gave ``article_id`` in an earlier batch (it was saved)."""
        with self.store.read() as tx:
            stored = tx.articles.fingerprints_of([article_id]).get(article_id)
        return _shown(_located(stored[0], self.settings.root)) if stored else None

    def _guid_holder(self, guid: str) -> str | None:
        """The file that gave ``guid`` in an earlier batch (it was saved)."""
        with self.store.read() as tx:
            owner = tx.articles.owners_of([guid]).get(guid)
        return self._id_holder(owner) if owner is not None else None

    def check_and_save(
        self,
        records: list[tuple[RawArticle | ContentError, _Source | None]],
        refresh: list[SourceState],
    ) -> None:
        report, root = self.report, self.settings.root
        self.seen.next_batch()
        self.seen_guids.next_batch()
        valid: list[tuple[Checked, _Source | None]] = []
        for record, origin in records:
            checked = self.check(record)
            if checked is not None:
                valid.append((checked, origin))
        accepted: list[tuple[Checked, _Source | None]] = []
        with self.store.read() as tx:
            stored = tx.articles.fingerprints_of(c.article.id for c, _ in valid)
            guid_owners = tx.articles.owners_of(c.article.guid for c, _ in valid)
            for checked, origin in valid:
                article = checked.article
                owner_id = guid_owners.get(article.guid)
                if owner_id is not None and owner_id != article.id and article.id not in stored:
                    owner = f"the stored article {owner_id!r}"
                    report.rejected.append(_taken(checked.raw, "guid", article.guid, owner))
                    continue
                previous = stored.get(article.id)
                if previous is not None and _conflict(previous[0], article.source, root):
                    owner = _shown(_located(previous[0], root))
                    report.rejected.append(_taken(checked.raw, "id", article.id, owner))
                    continue
                accepted.append((checked, origin))
            targets = {t for c, _ in accepted for t in c.article.translations.values()}
            language_of = tx.articles.languages_of(targets)
        language_of.update({c.article.id: c.article.language for c, _ in accepted})
        states: list[SourceState] = []
        for checked, origin in accepted:
            clean = not checked.warnings
            for code, target in checked.article.translations.items():
                if target not in language_of:
                    self.pending.append(_Pending(checked.raw.shown, code, target))
                    clean = False
                elif language_of[target] != code:
                    report.warnings.append(
                        _wrong_language(checked.raw.shown, code, target, language_of[target])
                    )
                    clean = False
            if clean and origin is not None:
                states.append(
                    SourceState(
                        origin.source,
                        origin.size,
                        origin.mtime_ns,
                        origin.raw_hash,
                        self.digest,
                        checked.article.id,
                        checked.article.content_hash,
                    )
                )
        if not accepted and not refresh:
            return
        # A state describes its article as stored: one saved without a new
        # state (from JSON Lines, a feed, or a file that warned) has none.
        stated = {state.article_id for state in states}
        others = [c.article.id for c, _ in accepted if c.article.id not in stated]
        with self.store.write() as tx:
            saved = [checked.article for checked, _ in accepted]
            outcomes = tx.articles.save_many(saved, now=self.now)
            for article, outcome in zip(saved, outcomes, strict=True):
                getattr(report, outcome).append(article.id)
            if others:
                tx.sources.forget(others)
            tx.sources.put([*states, *refresh])

    def finish(self) -> ImportReport:
        """Check the translation links left, log the warnings, and give the report."""
        report = self.report
        for batch in _batches(self.pending):
            with self.store.read() as tx:
                language_of = tx.articles.languages_of(p.target for p in batch)
            for link in batch:
                if link.target not in language_of:
                    report.warnings.append(
                        f"{link.shown}: translations: no article "
                        f"{link.target!r} ({link.code}) yet; the link appears once it is imported"
                    )
                elif language_of[link.target] != link.code:
                    report.warnings.append(
                        _wrong_language(
                            link.shown, link.code, link.target, language_of[link.target]
                        )
                    )
        self.pending = []
        for warning in report.warnings:
            log.warning("%s", warning)
        return report


def _wrong_language(shown: str, code: str, target: str, language: str) -> str:
    return (
        f"{shown}: translations: {target!r} is in "
        f"{language!r}, not {code!r}; check the article or the language"
    )


def import_articles(
    store: Store,
    settings: Settings,
    location: str,
    *,
    fmt: Format | None = None,
    now: datetime,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a folder or file of Markdown, a JSON Lines file, or a feed.

    Files and records go through a batch (:data:`BATCH`) at a time: checked,
    then saved in one transaction. Unchanged Markdown files are recognised
    from what the store kept of them without being parsed (see the module's
    documentation); the report counts them.

    Args:
        store: where articles go.
        settings: the publication's settings.
        location: a folder, a file, or (for feeds) an http(s) URL.
        fmt: the format; guessed from ``location`` when ``None``.
        now: the time recorded as the import time.
        progress: called with (done, 0) while files and records are checked.

    Returns:
        What was added, updated, left unchanged and rejected, and warnings.
    """
    fmt = fmt or guess_format(location)
    run = _Run(store, settings, now, progress)
    if fmt == "md":
        run.markdown(location)
    else:
        run.records(_raw_records(location, fmt, settings))
    return run.finish()
