"""``broadsheet import``: articles from Markdown, JSON Lines or a feed into the store.

Every record is read and checked first; only valid ones are written, so a
bad file never changes what is stored. Re-importing unchanged content writes
nothing (the content hash is compared), a changed file updates its article,
and an article keeps its feed id for ever.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from broadsheet.config import Settings
from broadsheet.content.fields import Checked, RawArticle, check_article
from broadsheet.content.readers import read_feed, read_jsonl, read_markdown
from broadsheet.errors import ContentError
from broadsheet.store import Store

log = logging.getLogger(__name__)

Format = Literal["md", "jsonl", "feed"]

Progress = Callable[[int, int], None]
"""Called with (done, total) as records are checked."""

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
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in (".md", ".markdown") and not _hidden(p.relative_to(path))
        )
    else:
        files = [path]
    for file in files:
        try:
            record = read_markdown(file, _shown(file), max_bytes=limits.max_file_bytes)
        except ContentError as exc:
            yield exc
            continue
        record.label = record.source
        record.source = stored_source(file, root)
        yield record


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


def check_all(
    records: Iterable[RawArticle | ContentError],
    settings: Settings,
    report: ImportReport,
    progress: Progress | None = None,
    total: int = 0,
) -> list[Checked]:
    """Check every record; rejects go to ``report``, duplicates within the batch too."""
    valid: list[Checked] = []
    seen: dict[str, str] = {}
    seen_guids: dict[str, str] = {}
    for done, record in enumerate(records, start=1):
        if progress:
            progress(done, total)
        if isinstance(record, ContentError):
            report.rejected.append(str(record))
            continue
        try:
            checked = check_article(record, settings)
        except ContentError as exc:
            report.rejected.append(str(exc))
            continue
        article = checked.article
        if article.id in seen:
            report.rejected.append(_taken(record, "id", article.id, seen[article.id]))
            continue
        if article.guid in seen_guids:
            report.rejected.append(_taken(record, "guid", article.guid, seen_guids[article.guid]))
            continue
        seen[article.id] = record.shown
        seen_guids[article.guid] = record.shown
        report.warnings.extend(checked.warnings)
        valid.append(checked)
    return valid


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

    Args:
        store: where articles go.
        settings: the publication's settings.
        location: a folder, a file, or (for feeds) an http(s) URL.
        fmt: the format; guessed from ``location`` when ``None``.
        now: the time recorded as the import time.
        progress: called with (done, total) while records are checked.

    Returns:
        What was added, updated, left unchanged and rejected, and warnings.
    """
    fmt = fmt or guess_format(location)
    report = ImportReport()
    records = list(_raw_records(location, fmt, settings))
    valid = check_all(records, settings, report, progress, len(records))
    with store.read() as tx:
        stored = tx.articles.fingerprints()
        guid_owners = tx.articles.guid_owners()
    accepted: list[Checked] = []
    for checked in valid:
        article = checked.article
        owner_id = guid_owners.get(article.guid)
        if owner_id is not None and owner_id != article.id and article.id not in stored:
            owner = f"the stored article {owner_id!r}"
            report.rejected.append(_taken(checked.raw, "guid", article.guid, owner))
            continue
        previous = stored.get(article.id)
        if previous is not None and _conflict(previous[0], article.source, settings.root):
            owner = _shown(_located(previous[0], settings.root))
            report.rejected.append(_taken(checked.raw, "id", article.id, owner))
            continue
        accepted.append(checked)
    known = set(stored) | {c.article.id for c in accepted}
    targets = {t for c in accepted for t in c.article.translations.values()}
    with store.read() as tx:
        language_of = tx.articles.languages_of(targets)
    language_of.update({c.article.id: c.article.language for c in accepted})
    for checked in accepted:
        for code, target in checked.article.translations.items():
            if target not in known:
                report.warnings.append(
                    f"{checked.raw.shown}: translations: no article "
                    f"{target!r} ({code}) yet; the link appears once it is imported"
                )
            elif language_of.get(target, code) != code:
                report.warnings.append(
                    f"{checked.raw.shown}: translations: {target!r} is in "
                    f"{language_of[target]!r}, not {code!r}; check the article or the language"
                )
    for start in range(0, len(accepted), 500):
        with store.write() as tx:
            for checked in accepted[start : start + 500]:
                outcome = tx.articles.save(checked.article, now=now)
                getattr(report, outcome).append(checked.article.id)
    for warning in report.warnings:
        log.warning("%s", warning)
    return report
