"""Build one newsletter edition: gather, select, render once, write, record.

:func:`build_edition` reads what it needs from the store, lets
:mod:`broadsheet.scheduler.selection` decide what goes in, has :mod:`emails` render and
inline it once, writes the files atomically and saves the
:class:`~broadsheet.model.EditionRecord` that senders personalise from.

Files, under ``emails.out/LANG/EDITION_ID/``:

- ``email.html``: the inlined HTML with a neutral greeting (a preview);
- ``email.txt``: the plain-text twin, likewise;
- ``index.html``: the public web copy ("view in browser"), no personal links;
- ``edition.json``: id, language, frequency, slot, cutoffs, article ids per block;

and ``emails.out/LANG/index.html``, the archive of every edition in LANG.

An edition id that already exists is returned as stored: an edition that may
have begun sending is never rendered again.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from broadsheet.config import Settings
from broadsheet.emails.edition import labels as words
from broadsheet.emails.edition import links
from broadsheet.emails.edition.context import EditionContent, build_context
from broadsheet.emails.edition.headers import subject as make_subject
from broadsheet.emails.edition.inline import inline
from broadsheet.emails.edition.personalize import Personal, fill_html, fill_text
from broadsheet.emails.edition.render import render
from broadsheet.errors import BroadsheetError, RenderError
from broadsheet.model import Article, EditionRecord, Frequency
from broadsheet.scheduler.selection import Selection, select, views_window, window_start
from broadsheet.store import Store, Tx

log = logging.getLogger(__name__)

FILES = {
    "html": "email.html",
    "text": "email.txt",
    "web": "index.html",
    "json": "edition.json",
}
"""The files of one edition, by role."""


@dataclass(frozen=True)
class EditionOutcome:
    """What :func:`build_edition` did.

    Attributes:
        edition: the edition (new or already stored), or ``None`` when skipped.
        skipped: why no edition was built, or ``None``.
        paths: the edition's files by role (``html``, ``text``, ``web``,
            ``json``, ``archive``, ``folder``).
        created: whether this call built the edition (``False`` when it existed).
    """

    edition: EditionRecord | None
    skipped: str | None = None
    paths: dict[str, Path] = field(default_factory=dict)
    created: bool = False


def edition_id(frequency: Frequency, language: str, slot: datetime, settings: Settings) -> str:
    """``weekly-en-2026-11-23``: frequency, language, local date of the slot."""
    day = slot.astimezone(settings.site.tz).date()
    return f"{frequency}-{language}-{day.isoformat()}"


def edition_paths(settings: Settings, language: str, identifier: str) -> dict[str, Path]:
    """Where the files of an edition go."""
    folder = settings.emails.out / language / identifier
    paths = {role: folder / name for role, name in FILES.items()}
    paths["archive"] = settings.emails.out / language / "index.html"
    paths["folder"] = folder
    return paths


class _Writer:
    """Writes files atomically, and never the same path twice in one build."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.written: list[Path] = []

    def write(self, path: Path, text: str) -> None:
        if path in self.written:
            raise RenderError(f"{path}: written twice in one build")  # a bug here
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        except OSError as exc:
            raise BroadsheetError(
                f"cannot write the edition into {path.parent} (emails.out is "
                f"{self.out}): {exc.strerror or exc}"
            ) from None
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(text)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.written.append(path)


@dataclass(frozen=True)
class Gathered:
    """What one edition will show: the selection and its template content."""

    selection: Selection
    content: EditionContent


def _translations(tx: Tx, shown: Sequence[Article], until: datetime) -> dict[str, list[Article]]:
    """Article id -> its live translations, for the "Read in Russian" links."""
    wanted = {
        other_id
        for article in shown
        for code, other_id in article.translations.items()
        if code != article.language
    }
    found = tx.articles.many(wanted) if wanted else {}
    out: dict[str, list[Article]] = {}
    for article in shown:
        for code, other_id in sorted(article.translations.items()):
            other = found.get(other_id)
            if other is not None and other.language == code and other.is_live(until):
                out.setdefault(article.id, []).append(other)
    return out


def _other_editions(
    tx: Tx,
    settings: Settings,
    *,
    language: str,
    frequency: Frequency,
    slot: datetime,
    until: datetime,
) -> dict[str, str]:
    """Language -> web copy URL of this edition in the publication's other languages.

    An edition counts when it is stored, or when it will be built for the same
    slot: the other language has something new and its newsletter is on.
    """
    letter = settings.newsletters[frequency]
    out: dict[str, str] = {}
    for other in settings.site.languages:
        if other == language:
            continue
        identifier = edition_id(frequency, other, slot, settings)
        if tx.editions.get(identifier) is None:
            previous = tx.editions.previous(other, frequency, before=slot)
            start = window_start(previous.until if previous else None, frequency, until)
            fresh = tx.articles.published_between(other, start, until)
            if not letter.enabled or (letter.skip_if_empty and not fresh):
                continue
        out[other] = links.edition_url(settings, other, identifier)
    return out


def gather(
    tx: Tx,
    settings: Settings,
    *,
    language: str,
    frequency: Frequency,
    slot: datetime,
    now: datetime,
) -> Gathered:
    """Read and select everything one edition shows (no rendering, no writing).

    Args:
        tx: a store transaction.
        settings: the publication's settings.
        language: the edition's language.
        frequency: daily or weekly.
        slot: the time the edition belongs to.
        now: the edition's cutoff.
    """
    letter = settings.newsletters[frequency]
    previous = tx.editions.previous(language, frequency, before=slot)
    since = window_start(previous.until if previous else None, frequency, now)
    window = views_window(now, letter.top_reads_window_days, settings.site.tz)
    selection = select(
        language=language,
        since=since,
        until=now,
        published=tx.articles.published_between(language, since, now),
        live=tx.articles.live(now, language=language),
        views=tx.views.totals(*window),
        window=window,
        max_articles=letter.max_articles,
        top_count=letter.top_reads,
        read_also_count=letter.read_also,
    )
    shown = [*selection.new, *selection.top, *selection.read_also]
    content = EditionContent(
        edition_id=edition_id(frequency, language, slot, settings),
        language=language,
        frequency=frequency,
        slot=slot,
        new=selection.new,
        top=selection.top,
        read_also=selection.read_also,
        translations=_translations(tx, shown, now),
        other_editions=_other_editions(
            tx, settings, language=language, frequency=frequency, slot=slot, until=now
        ),
    )
    return Gathered(selection=selection, content=content)


def _neutral(settings: Settings, language: str) -> Personal:
    """The personal values of a preview: no name, links without a token."""
    return Personal(
        greeting=words.greeting(language, ""),
        unsubscribe_url=f"{settings.links_url}/unsubscribe",
        preferences_url=f"{settings.links_url}/preferences",
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _manifest(record: EditionRecord, selection: Selection, web_url: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "language": record.language,
        "frequency": str(record.frequency),
        "slot": _iso(record.slot),
        "since": _iso(record.since),
        "until": _iso(record.until),
        "subject": record.subject,
        "lead": selection.lead.id if selection.lead else None,
        "new": list(record.new_ids),
        "top_reads": list(record.top_ids),
        "read_also": [article.id for article in selection.read_also],
        "views_window": [day.isoformat() for day in selection.window],
        "web_url": web_url,
        "files": dict(FILES),
    }


def write_archive(
    writer: _Writer | None, settings: Settings, language: str, editions: Sequence[EditionRecord]
) -> Path:
    """Write the archive index of ``language`` listing ``editions`` (newest first)."""
    table = words.labels(language)
    title = settings.site.title_in(language)
    rows = []
    for edition in editions:
        day = edition.slot.astimezone(settings.site.tz).date()
        rows.append(
            {
                "date": words.format_day(day, language),
                "date_iso": day.isoformat(),
                "label": table[f"edition_{edition.frequency}"],
                "subject": edition.subject,
                "url": links.edition_url(settings, language, edition.id),
            }
        )
    page = render(
        "web/archive.html.j2",
        {
            "lang": language,
            "dir": words.text_direction(language),
            "title": table["archive_title"].format(title=title),
            "intro": table["archive_intro"],
            "empty": table["archive_empty"],
            "site_title": title,
            "site_url": settings.site.url,
            "accent": settings.site.accent_color,
            "editions": rows,
        },
    )
    path = settings.emails.out / language / "index.html"
    (writer or _Writer(settings.emails.out)).write(path, page)
    return path


def build_edition(
    store: Store,
    settings: Settings,
    *,
    language: str,
    frequency: Frequency,
    now: datetime,
    slot: datetime | None = None,
) -> EditionOutcome:
    """Build (or return the stored) edition of ``language`` and ``frequency``.

    Args:
        store: the publication's store.
        settings: the publication's settings.
        language: one of ``site.languages``.
        frequency: daily or weekly.
        now: the edition's cutoff: articles published up to now are in it.
        slot: the scheduled time the edition belongs to (its id holds the local
            date); default ``now``.

    Returns:
        The outcome: the edition and its files, or why it was skipped.

    Raises:
        BroadsheetError: ``language`` is not one of the site's languages.
        RenderError: a template or the CSS inliner failed.
    """
    if language not in settings.site.languages:
        known = ", ".join(settings.site.languages)
        raise BroadsheetError(
            f"{settings.path}: language {language!r} is not in site.languages ({known})"
        )
    frequency = Frequency(frequency)
    slot = slot or now
    identifier = edition_id(frequency, language, slot, settings)
    paths = edition_paths(settings, language, identifier)
    with store.read() as tx:
        existing = tx.editions.get(identifier)
        if existing is not None:
            log.info("edition %s exists (built %s): returned as stored", identifier, existing.built)
            return EditionOutcome(edition=existing, paths=paths)
        gathered = gather(tx, settings, language=language, frequency=frequency, slot=slot, now=now)
    selection = gathered.selection
    letter = settings.newsletters[frequency]
    if selection.empty and letter.skip_if_empty:
        local = selection.since.astimezone(settings.site.tz)
        reason = (
            f"no new {language} articles since {local:%Y-%m-%d %H:%M %Z}; "
            f"edition {identifier} skipped (newsletters.{frequency}.skip_if_empty)"
        )
        log.info("%s", reason)
        return EditionOutcome(edition=None, skipped=reason)
    return _render_and_save(store, settings, gathered.content, selection, paths, now=now)


def _render_and_save(
    store: Store,
    settings: Settings,
    content: EditionContent,
    selection: Selection,
    paths: Mapping[str, Path],
    *,
    now: datetime,
) -> EditionOutcome:
    backend = settings.emails.inliner
    untranslated = words.missing(content.language)
    if untranslated:
        log.warning(
            "edition %s: English words stand in for %d labels with no %s text in "
            "[labels.%s.newsletter] (docs/configuration.md): %s",
            content.edition_id,
            len(untranslated),
            content.language,
            content.language,
            ", ".join(untranslated),
        )
    email_context = build_context(content, settings, mode="email")
    web_context = build_context(content, settings, mode="web")
    html = inline(render("emails/edition.html.j2", email_context), backend=backend)
    text = render("emails/edition.txt.j2", email_context)
    web = inline(render("web/edition.html.j2", web_context), backend=backend)
    lead = selection.lead or (selection.top[0] if selection.top else None)
    subject = make_subject(
        settings,
        language=content.language,
        frequency=content.frequency,
        date_text=email_context["date_text"],
        lead=lead.title if lead else email_context["edition_label"],
    )
    web_url = links.edition_url(settings, content.language, content.edition_id)
    record = EditionRecord(
        id=content.edition_id,
        language=content.language,
        frequency=content.frequency,
        slot=content.slot,
        since=selection.since,
        until=selection.until,
        new_ids=tuple(article.id for article in selection.new),
        top_ids=tuple(article.id for article in selection.top),
        subject=subject,
        html=html,
        text=text,
        sections=tuple(sorted({a.section for a in selection.new if a.section})),
        path=str(paths["folder"]),
        built=now,
        extra={
            "read_also_ids": [article.id for article in selection.read_also],
            "lead": selection.lead.id if selection.lead else None,
            "web_url": web_url,
            "other_editions": dict(content.other_editions),
            "views_window": [day.isoformat() for day in selection.window],
            "inliner": backend,
        },
    )
    neutral = _neutral(settings, content.language)
    writer = _Writer(settings.emails.out)
    with store.write() as tx:
        raced = tx.editions.get(record.id)
        if raced is not None:
            # Another process built it meanwhile: theirs stands.
            return EditionOutcome(edition=raced, paths=dict(paths))
        tx.editions.save(record, now=now)
        writer.write(paths["html"], fill_html(html, neutral))
        writer.write(paths["text"], fill_text(text, neutral))
        writer.write(paths["web"], web)
        manifest = _manifest(record, selection, web_url)
        writer.write(paths["json"], json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
        write_archive(
            writer, settings, content.language, tx.editions.listing(language=content.language)
        )
        stored = tx.editions.get(record.id) or record
    log.info(
        "edition %s built: %d new, %d top reads, %d read also; %s",
        record.id,
        len(record.new_ids),
        len(record.top_ids),
        len(selection.read_also),
        paths["folder"],
    )
    return EditionOutcome(edition=stored, paths=dict(paths), created=True)


def build_editions(
    store: Store,
    settings: Settings,
    *,
    frequency: Frequency,
    now: datetime,
    slot: datetime | None = None,
    languages: Sequence[str] | None = None,
) -> dict[str, EditionOutcome]:
    """The edition of every language (default: ``site.languages``) for one slot.

    Languages are built in order, each as :func:`build_edition` does; the
    outcome of each says where its previews are (``paths["html"]``,
    ``paths["text"]``, ``paths["web"]``) or why it was skipped.
    """
    return {
        language: build_edition(
            store, settings, language=language, frequency=frequency, now=now, slot=slot
        )
        for language in (languages or settings.site.languages)
    }
