"""Build one newsletter edition: gather, select, have it rendered once, record.

:func:`build_edition` reads what it needs from the store, lets
:mod:`broadsheet.scheduler.selection` decide what goes in, has
:mod:`broadsheet.emails` render and inline it once and write its files, and
saves the :class:`~broadsheet.model.EditionRecord` that senders personalise
from. The files are listed in :mod:`broadsheet.emails.edition.build`.

An edition id that already exists is returned as stored: an edition that may
have begun sending is never rendered again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from broadsheet.config import Settings
from broadsheet.errors import BroadsheetError
from broadsheet.model import Article, EditionRecord, Frequency
from broadsheet.scheduler.localtime import in_archive
from broadsheet.scheduler.selection import Selection, select, views_window, window_start
from broadsheet.store import Store, Tx

if TYPE_CHECKING:
    from broadsheet.emails import EditionContent
    from broadsheet.scheduler.localtime import LocalEdition

log = logging.getLogger(__name__)


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
    local: LocalEdition | None = None,
) -> dict[str, str]:
    """Language -> web copy URL of this edition in the publication's other languages.

    An edition counts when it is stored, or when it will be built for the same
    slot: the other language has something new and its newsletter is on. In
    readers' local time only a stored one counts (whether the other language
    has readers at this offset is not known here).
    """
    from broadsheet import emails  # rendering is loaded only when an edition is built

    letter = settings.newsletters[frequency]
    out: dict[str, str] = {}
    for other in settings.site.languages:
        if other == language:
            continue
        if local is not None:
            identifier = local.edition_id(frequency, other)
            if tx.editions.get(identifier) is not None:
                out[other] = emails.edition_url(settings, other, identifier)
            continue
        identifier = edition_id(frequency, other, slot, settings)
        if tx.editions.get(identifier) is None:
            previous = tx.editions.previous(other, frequency, before=slot)
            start = window_start(previous.until if previous else None, frequency, until)
            fresh = tx.articles.published_between(other, start, until)
            if not letter.enabled or (letter.skip_if_empty and not fresh):
                continue
        out[other] = emails.edition_url(settings, other, identifier)
    return out


def gather(
    tx: Tx,
    settings: Settings,
    *,
    language: str,
    frequency: Frequency,
    slot: datetime,
    now: datetime,
    local: LocalEdition | None = None,
) -> Gathered:
    """Read and select everything one edition shows (no rendering, no writing).

    Args:
        tx: a store transaction.
        settings: the publication's settings.
        language: the edition's language.
        frequency: daily or weekly.
        slot: the time the edition belongs to.
        now: the edition's cutoff.
        local: the edition in readers' local time this is; its window starts
            at its readers' previous slot, not at the previous edition of
            another offset.
    """
    from broadsheet import emails  # rendering is loaded only when an edition is built

    letter = settings.newsletters[frequency]
    if local is not None:
        since = local.since
    else:
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
    identifier = (
        local.edition_id(frequency, language)
        if local is not None
        else edition_id(frequency, language, slot, settings)
    )
    content = emails.EditionContent(
        edition_id=identifier,
        language=language,
        frequency=frequency,
        slot=slot,
        new=selection.new,
        top=selection.top,
        read_also=selection.read_also,
        since=selection.since,
        until=selection.until,
        window=selection.window,
        translations=_translations(tx, shown, now),
        other_editions=_other_editions(
            tx,
            settings,
            language=language,
            frequency=frequency,
            slot=slot,
            until=now,
            local=local,
        ),
    )
    return Gathered(selection=selection, content=content)


def build_edition(
    store: Store,
    settings: Settings,
    *,
    language: str,
    frequency: Frequency,
    now: datetime,
    slot: datetime | None = None,
    local: LocalEdition | None = None,
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
        local: build this edition in readers' local time
            (:mod:`broadsheet.scheduler.localtime`): its id ends with its
            offset, and delivery sends it to the readers of that offset only.

    Returns:
        The outcome: the edition and its files, or why it was skipped.

    Raises:
        BroadsheetError: ``language`` is not one of the site's languages.
        RenderError: a template or the CSS inliner failed.
    """
    from broadsheet import emails  # rendering is loaded only when an edition is built

    if language not in settings.site.languages:
        known = ", ".join(settings.site.languages)
        raise BroadsheetError(
            f"{settings.path}: language {language!r} is not in site.languages ({known})"
        )
    frequency = Frequency(frequency)
    slot = slot or now
    if local is not None:
        identifier = local.edition_id(frequency, language)
    else:
        identifier = edition_id(frequency, language, slot, settings)
    paths = emails.edition_paths(settings, language, identifier)
    with store.read() as tx:
        existing = tx.editions.get(identifier)
        if existing is not None:
            log.info("edition %s exists (built %s): returned as stored", identifier, existing.built)
            return EditionOutcome(edition=existing, paths=paths)
        gathered = gather(
            tx, settings, language=language, frequency=frequency, slot=slot, now=now, local=local
        )
    selection = gathered.selection
    letter = settings.newsletters[frequency]
    if selection.empty and letter.skip_if_empty:
        start = selection.since.astimezone(settings.site.tz)
        reason = (
            f"no new {language} articles since {start:%Y-%m-%d %H:%M %Z}; "
            f"edition {identifier} skipped (newsletters.{frequency}.skip_if_empty)"
        )
        log.info("%s", reason)
        return EditionOutcome(edition=None, skipped=reason)
    extra = {"local": local.extra(frequency, language, settings.site.timezone)} if local else None
    return _render_and_save(store, settings, gathered.content, paths, now=now, extra=extra)


def counting_secret(store: Store, settings: Settings) -> str | None:
    """The link-signing secret when ``links.count_clicks`` is on (counted links), else ``None``."""
    if not settings.links.count_clicks:
        return None
    return store.link_secret(settings.secret(), env_name=settings.links.secret_env)


def _render_and_save(
    store: Store,
    settings: Settings,
    content: EditionContent,
    paths: Mapping[str, Path],
    *,
    now: datetime,
    extra: Mapping[str, object] | None = None,
) -> EditionOutcome:
    from broadsheet import emails  # rendering is loaded only when an edition is built

    rendered = emails.render_edition(
        content, settings, now=now, secret=counting_secret(store, settings)
    )
    record = rendered.record
    if extra:
        record = replace(record, extra={**record.extra, **extra})
    with store.write() as tx:
        raced = tx.editions.get(record.id)
        if raced is not None:
            # Another process built it meanwhile: theirs stands.
            return EditionOutcome(edition=raced, paths=dict(paths))
        tx.editions.save(record, now=now)
        # In the same transaction: an edition never exists without the
        # links its messages may redirect to.
        tx.links.record(record.id, rendered.links)
        listing = [e for e in tx.editions.listing(language=content.language) if in_archive(e)]
        emails.write_edition(rendered, settings, archive=listing)
        stored = tx.editions.get(record.id) or record
    log.info(
        "edition %s built: %d new, %d top reads, %d read also; %s",
        record.id,
        len(record.new_ids),
        len(record.top_ids),
        len(content.read_also),
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
