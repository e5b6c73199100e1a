"""One edition rendered once and written: the edition room's entry points.

The scheduler gathers and selects (:class:`~broadsheet.emails.edition.context.EditionContent`);
:func:`render_edition` renders and inlines it once into an
:class:`~broadsheet.model.EditionRecord` (what senders personalise from) and the
public web copy; :func:`write_edition` writes its files and the language's
archive page. Nothing here reads the store: the caller saves the record and
passes the archive's listing.

Files, under ``emails.out/LANG/EDITION_ID/``:

- ``email.html``: the inlined HTML with a neutral greeting (a preview);
- ``email.txt``: the plain-text twin, likewise;
- ``index.html``: the public web copy ("view in browser"), no personal links;
- ``edition.json``: id, language, frequency, slot, cutoffs, article ids per block;

and ``emails.out/LANG/index.html``, the archive of every edition in LANG.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from broadsheet.config import Settings
from broadsheet.emails.edition import appeals, clip, links
from broadsheet.emails.edition import labels as words
from broadsheet.emails.edition.context import (
    EditionContent,
    EditionContext,
    build_context,
    feed_links,
    text_context,
)
from broadsheet.emails.edition.counted import LinkCounter, count_context
from broadsheet.emails.edition.headers import subject as make_subject
from broadsheet.emails.edition.inline import inline
from broadsheet.emails.edition.personalize import Personal, fill_html, fill_text
from broadsheet.emails.edition.render import render
from broadsheet.errors import BroadsheetError
from broadsheet.files import FileWriter
from broadsheet.model import EditionLink, EditionRecord

log = logging.getLogger(__name__)

FILES = {
    "html": "email.html",
    "text": "email.txt",
    "web": "index.html",
    "json": "edition.json",
}
"""The files of one edition, by role."""


def edition_paths(settings: Settings, language: str, identifier: str) -> dict[str, Path]:
    """Where the files of an edition go (by role, plus ``archive`` and ``folder``)."""
    folder = settings.emails.out / language / identifier
    paths = {role: folder / name for role, name in FILES.items()}
    paths["archive"] = settings.emails.out / language / "index.html"
    paths["folder"] = folder
    return paths


class _Writer:
    """Writes files atomically, world-readable, and never the same path twice in one build.

    See :mod:`broadsheet.files`; this adds the error a user can act on.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.files = FileWriter()

    def write(self, path: Path, text: str) -> None:
        try:
            self.files.write(path, text)
        except OSError as exc:
            raise BroadsheetError(
                f"cannot write the edition into {path.parent} (emails.out is "
                f"{self.out}): {exc.strerror or exc}"
            ) from None


@dataclass(frozen=True)
class RenderedEdition:
    """An edition rendered once: the record senders personalise from, and its web copy.

    Attributes:
        record: the edition as it is stored (HTML and text with personal slots).
        web: the public web copy, inlined, with no personal links.
        content: what the scheduler gathered for it.
        links: the counted links its messages carry (``links.count_clicks``),
            to be stored with the record (``tx.links.record``); empty when
            links are not counted.
    """

    record: EditionRecord
    web: str
    content: EditionContent
    links: tuple[EditionLink, ...] = ()


def _neutral(settings: Settings, language: str) -> Personal:
    """The personal values of a preview: no name, links without a token."""
    return Personal(
        greeting=words.greeting(settings.words, language, ""),
        unsubscribe_url=f"{settings.links_url}/unsubscribe",
        preferences_url=f"{settings.links_url}/preferences",
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _manifest(rendered: RenderedEdition) -> dict[str, Any]:
    record, content = rendered.record, rendered.content
    clipped = record.extra.get("clip")
    extra = (
        {"clipped": clipped["dropped"], "clip": clipped}
        if isinstance(clipped, dict) and (clipped["dropped"] or not clipped["fits"])
        else {}
    )
    return {
        "id": record.id,
        "language": record.language,
        "frequency": str(record.frequency),
        "slot": _iso(record.slot),
        "since": _iso(record.since),
        "until": _iso(record.until),
        "subject": record.subject,
        "lead": content.new[0].id if content.new else None,
        "new": list(record.new_ids),
        "top_reads": list(record.top_ids),
        "read_also": [article.id for article in content.read_also],
        "views_window": [day.isoformat() for day in content.window],
        "web_url": record.extra["web_url"],
        "files": dict(FILES),
        **(
            {"kind": "campaign", "audience": record.extra.get("audience")}
            if record.extra.get("kind") == "campaign"
            else {}
        ),
        **extra,
    }


def render_archive(settings: Settings, language: str, editions: Sequence[EditionRecord]) -> str:
    """The archive page of ``language`` listing ``editions`` (newest first)."""
    table = words.labels(settings.words, language)
    title = settings.site.title_in(language)
    rows = []
    for edition in editions:
        day = edition.slot.astimezone(settings.site.tz).date()
        rows.append(
            {
                "date": words.format_day(day, language),
                "date_iso": day.isoformat(),
                "label": table["edition_campaign"]
                if edition.extra.get("kind") == "campaign"
                else table[f"edition_{edition.frequency}"],
                "subject": edition.subject,
                "url": links.edition_url(settings, language, edition.id),
            }
        )
    return render(
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
            "feed_links": feed_links(settings, language),
        },
        theme=settings.emails.theme,
    )


def write_archive(settings: Settings, language: str, editions: Sequence[EditionRecord]) -> Path:
    """Write the archive page of ``language`` listing ``editions`` (newest first)."""
    path = settings.emails.out / language / "index.html"
    _Writer(settings.emails.out).write(path, render_archive(settings, language, editions))
    return path


def donation_extra(
    html: appeals.Blocks | None, text: appeals.Blocks | None
) -> dict[str, dict[str, Any]]:
    """What a record keeps of the donation block's wordings (``extra["donation"]``)."""
    if html is None or text is None:
        return {}
    return {"donation": {"html": html.as_json(), "text": text.as_json()}}


def _log_clip(edition_id: str, fitted: clip.Fit) -> None:
    if not fitted.dropped and fitted.fits:
        return
    if fitted.fits:
        log.warning(
            "edition %s: over emails.clip_limit (%d bytes), so the email leaves out %s%s "
            "(now %d bytes; the web copy has everything)",
            edition_id,
            fitted.limit,
            ", ".join(step.replace("_", " ") for step in fitted.dropped),
            f" ({len(fitted.left_out)} articles)" if fitted.left_out else "",
            fitted.size,
        )
    else:
        log.warning("%s", clip.oversize_text(edition_id, fitted.summary()))


def render_edition(
    content: EditionContent, settings: Settings, *, now: datetime, secret: str | None = None
) -> RenderedEdition:
    """Render and inline ``content`` once: the stored record and the web copy.

    Args:
        content: what the scheduler gathered and selected.
        settings: the publication's settings.
        now: when the edition is built (kept on the record).
        secret: the link-signing secret, needed when ``links.count_clicks`` is on:
            the message's links then go through ``/r/TOKEN`` (see
            :mod:`broadsheet.emails.edition.counted`); the web copy's never do.

    Raises:
        RenderError: a template or the CSS inliner failed.
    """
    backend = settings.emails.inliner
    untranslated = words.missing(settings.words, content.language)
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
    counter = LinkCounter.for_edition(settings, content.edition_id, secret=secret)
    email_context = count_context(build_context(content, settings, mode="email"), counter)
    web_context = build_context(content, settings, mode="web")
    theme = settings.emails.theme

    renderings: dict[str, tuple[str, appeals.Blocks | None]] = {}

    def email_html(context: EditionContext) -> str:
        # Every wording of the donation block is rendered and inlined with the
        # rest; the edition keeps the plain appeal, the others go on the record.
        # The clipping guard measures the message with the longest wording.
        inlined = inline(render("emails/edition.html.j2", context, theme=theme), backend=backend)
        kept, blocks = appeals.split(inlined, html=True)
        largest = appeals.largest(kept, blocks)
        renderings[largest] = (kept, blocks)
        return largest

    fitted = clip.fit(
        email_context,
        email_html,
        limit=settings.emails.clip_limit,
        personal=clip.longest_personal(settings, content.language),
    )
    _log_clip(content.edition_id, fitted)
    html, html_blocks = renderings[fitted.html]
    # Counted links carry no UTM tags (the redirect adds them); straight ones
    # are shown plain in the text twin unless [emails] text_utm says otherwise.
    plain = (
        fitted.context
        if counter.counting
        else text_context(fitted.context, settings, edition_id=content.edition_id)
    )
    text, text_blocks = appeals.split(
        render("emails/edition.txt.j2", plain, theme=theme), html=False
    )
    web = inline(render("web/edition.html.j2", web_context, theme=theme), backend=backend)
    lead = content.new[0] if content.new else (content.top[0] if content.top else None)
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
        since=content.since,
        until=content.until,
        new_ids=tuple(article.id for article in content.new),
        top_ids=tuple(article.id for article in content.top),
        subject=subject,
        html=html,
        text=text,
        sections=tuple(sorted({a.section for a in content.new if a.section})),
        path=str(edition_paths(settings, content.language, content.edition_id)["folder"]),
        built=now,
        extra={
            "read_also_ids": [article.id for article in content.read_also],
            "lead": content.new[0].id if content.new else None,
            "web_url": web_url,
            "other_editions": dict(content.other_editions),
            "views_window": [day.isoformat() for day in content.window],
            "inliner": backend,
            "clip": fitted.summary(),
            **donation_extra(html_blocks, text_blocks),
        },
    )
    return RenderedEdition(record=record, web=web, content=content, links=counter.links)


def write_edition(
    rendered: RenderedEdition, settings: Settings, *, archive: Sequence[EditionRecord]
) -> dict[str, Path]:
    """Write the edition's files and its language's archive page listing ``archive``.

    Returns:
        The edition's files by role (see :func:`edition_paths`).
    """
    record = rendered.record
    paths = edition_paths(settings, record.language, record.id)
    neutral = _neutral(settings, record.language)
    writer = _Writer(settings.emails.out)
    writer.write(paths["html"], fill_html(record.html, neutral))
    writer.write(paths["text"], fill_text(record.text, neutral))
    writer.write(paths["web"], rendered.web)
    manifest = _manifest(rendered)
    writer.write(paths["json"], json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    writer.write(paths["archive"], render_archive(settings, record.language, archive))
    return paths
