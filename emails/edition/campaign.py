"""One-off campaigns: a Markdown letter sent once to an audience, between the digests.

A campaign is a Markdown file with YAML front matter::

    ---
    subject: Our year-end appeal
    preheader: Three things your support paid for
    language: en
    audience:
      frequency: any        # daily | weekly | any
      topics: [Science]     # sections; none means every reader
    send_at: 2026-12-20T09:00:00+01:00   # optional; naive means site.timezone
    ---
    The letter, in Markdown.

:func:`read_campaign` checks it (errors name ``file:line: field``);
:func:`render_campaign` renders it in the edition's layout (masthead, body,
donation block, footer) into an :class:`~broadsheet.model.EditionRecord`
whose ``extra`` holds ``kind = "campaign"``, the audience and ``send_at``,
so any later send reaches the same readers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broadsheet.config import Settings
from broadsheet.content.readers import parse_markdown
from broadsheet.emails.edition import appeals, links
from broadsheet.emails.edition import labels as words
from broadsheet.emails.edition.build import RenderedEdition, donation_extra, edition_paths
from broadsheet.emails.edition.context import EditionContent, build_context, text_context
from broadsheet.emails.edition.counted import LinkCounter, count_context
from broadsheet.emails.edition.inline import inline
from broadsheet.emails.edition.personalize import defuse
from broadsheet.emails.edition.render import render
from broadsheet.errors import ContentError
from broadsheet.model import EditionRecord, Frequency
from broadsheet.text import render_markdown, sanitise_html

KIND = "campaign"
"""``extra["kind"]`` of a campaign's record."""

PREFIX = "campaign-"
"""Every campaign id starts with this."""

AUDIENCE_FREQUENCIES = ("daily", "weekly", "any")
"""What ``audience.frequency`` may be."""

_FIELDS = {"subject", "preheader", "language", "audience", "send_at"}
_AUDIENCE_FIELDS = {"frequency", "topics", "donors"}


@dataclass(frozen=True)
class Campaign:
    """A checked campaign file.

    Attributes:
        source: the file as shown in messages.
        slug: the file's stem as an id part.
        subject: the subject line.
        preheader: the preview text shown after the subject.
        language: one of ``site.languages``.
        frequency: ``daily``, ``weekly`` or ``any`` (readers of either).
        topics: sections; a reader with one of them (or with no topics) gets it.
        send_at: when the scheduler sends it (UTC), or ``None`` (by hand).
        body_html: the body rendered from Markdown and sanitised.
        body_text: the body's Markdown, the plain-text twin's body.
        digest: a hash of the file, to tell a changed file from the same one.
    """

    source: str
    slug: str
    subject: str
    preheader: str
    language: str
    frequency: str
    topics: tuple[str, ...]
    send_at: datetime | None
    body_html: str
    body_text: str
    digest: str


def _slug(stem: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", stem.casefold()).strip("-")
    return slug or "campaign"


def _text(source: str, lines: Mapping[str, int], name: str, value: Any, required: bool) -> str:
    if value is None:
        if required:
            raise ContentError(source, "missing", line=lines.get(name, 2), field=name)
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ContentError(
            source,
            f"expected text, got {type(value).__name__}",
            line=lines.get(name),
            field=name,
        )
    text = " ".join(str(value).split())
    if required and not text:
        raise ContentError(source, "is empty", line=lines.get(name), field=name)
    return text


def _send_at(source: str, line: int | None, value: Any, settings: Settings) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ContentError(
                source,
                f"expected an ISO 8601 time like 2026-12-20T09:00:00+01:00, got {value!r}",
                line=line,
                field="send_at",
            ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=settings.site.tz)
    return moment.astimezone(UTC)


def _audience(source: str, lines: Mapping[str, int], value: Any) -> tuple[str, tuple[str, ...]]:
    line = lines.get("audience")
    if value is None:
        return "any", ()
    if not isinstance(value, dict):
        raise ContentError(
            source,
            f"expected a mapping with frequency and topics, got {type(value).__name__}",
            line=line,
            field="audience",
        )
    unknown = sorted(str(k) for k in value if str(k) not in _AUDIENCE_FIELDS)
    if unknown:
        raise ContentError(
            source,
            f"unknown field {unknown[0]!r} (expected frequency, topics)",
            line=line,
            field="audience",
        )
    if "donors" in value:
        raise ContentError(
            source,
            "not supported yet: broadsheet does not know who donated",
            line=line,
            field="audience.donors",
        )
    frequency = str(value.get("frequency", "any")).strip().casefold()
    if frequency not in AUDIENCE_FREQUENCIES:
        raise ContentError(
            source,
            f"expected one of {', '.join(AUDIENCE_FREQUENCIES)}, got {value.get('frequency')!r}",
            line=line,
            field="audience.frequency",
        )
    topics = value.get("topics") or ()
    if isinstance(topics, str):
        topics = topics.split(",")
    if not isinstance(topics, list | tuple) or not all(
        isinstance(t, str) and t.strip() for t in topics
    ):
        raise ContentError(
            source, "expected a list of section names", line=line, field="audience.topics"
        )
    return frequency, tuple(" ".join(t.split()) for t in topics)


def read_campaign(path: Path, settings: Settings, *, source: str | None = None) -> Campaign:
    """Read and check the campaign file ``path``.

    Raises:
        ContentError: the file is missing or unreadable, or a field is wrong
            (``file:line: field: reason``).
    """
    shown = source or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ContentError(shown, f"cannot read the campaign: {exc.strerror or exc}") from None
    raw = parse_markdown(data, path, shown)
    fields, lines = raw.fields, raw.field_lines
    for name in fields:
        if name not in _FIELDS and name != "body":
            raise ContentError(
                shown,
                f"unknown field (expected {', '.join(sorted(_FIELDS))})",
                line=lines.get(name),
                field=name,
            )
    subject = _text(shown, lines, "subject", fields.get("subject"), True)
    preheader = _text(shown, lines, "preheader", fields.get("preheader"), False)
    language = _text(shown, lines, "language", fields.get("language"), True)
    if language not in settings.site.languages:
        raise ContentError(
            shown,
            f"{language!r} is not one of site.languages ({', '.join(settings.site.languages)})",
            line=lines.get("language"),
            field="language",
        )
    frequency, topics = _audience(shown, lines, fields.get("audience"))
    send_at = _send_at(shown, lines.get("send_at"), fields.get("send_at"), settings)
    body = str(fields.get("body") or "")
    if not body.strip():
        raise ContentError(shown, "the campaign has no body below its front matter")
    html = sanitise_html(render_markdown(body), base_url=settings.site.url.rstrip("/") + "/")
    return Campaign(
        source=shown,
        slug=_slug(path.stem),
        subject=subject,
        preheader=preheader,
        language=language,
        frequency=frequency,
        topics=topics,
        send_at=send_at,
        body_html=defuse(html),
        body_text=defuse(body.strip()),
        digest=hashlib.sha256(data).hexdigest(),
    )


def campaign_id(campaign: Campaign, settings: Settings, *, now: datetime) -> str:
    """``campaign-LANG-YYYY-MM-DD-slug``: the day of ``send_at``, else of ``now``."""
    day = (campaign.send_at or now).astimezone(settings.site.tz).date()
    return f"{PREFIX}{campaign.language}-{day.isoformat()}-{campaign.slug}"[:100]


def is_campaign(record: EditionRecord) -> bool:
    """Whether ``record`` is a campaign (not a daily or weekly edition)."""
    return record.extra.get("kind") == KIND


def render_campaign(
    campaign: Campaign,
    settings: Settings,
    *,
    identifier: str,
    now: datetime,
    secret: str | None = None,
) -> RenderedEdition:
    """Render ``campaign`` in the edition's layout: the stored record and its web copy.

    With ``links.count_clicks`` on (and ``secret`` given), the masthead, donation
    and footer links of the message are counted (:mod:`.counted`); the body's
    own links go straight to their pages.

    Raises:
        RenderError: a template or the CSS inliner failed.
    """
    language = campaign.language
    slot = campaign.send_at or now
    # The edition's context gives the masthead, donation block and footer.
    content = EditionContent(
        edition_id=identifier,
        language=language,
        frequency=Frequency.WEEKLY,
        slot=slot,
        new=(),
        top=(),
        read_also=(),
        since=slot,
        until=slot,
        window=(slot.date(), slot.date()),
    )
    table = words.labels(settings.words, language)
    title = settings.site.title_in(language)
    label = table["edition_campaign"]
    date_text = words.format_day(slot.astimezone(settings.site.tz).date(), language)
    extra = {
        "heading": campaign.subject,
        "edition_label": label,
        "page_title": f"{title} — {campaign.subject}",
        "preheader": campaign.preheader,
        "subject": campaign.subject,
        "body": campaign.body_html,
        "body_text": campaign.body_text,
        "intro": "",
        "why": table["why_campaign"].format(title=title),
        "date_text": date_text,
    }
    backend = settings.emails.inliner
    theme = settings.emails.theme
    counter = LinkCounter.for_edition(settings, identifier, secret=secret)
    counted = count_context(build_context(content, settings, mode="email"), counter)
    email_context = {**counted, **extra}
    # As in an edition: straight links are shown plain in the text twin.
    plain = counted if counter.counting else text_context(counted, settings, edition_id=identifier)
    plain_context = {**plain, **extra}
    web_context = {**build_context(content, settings, mode="web"), **extra}
    html, html_blocks = appeals.split(
        inline(render("emails/campaign.html.j2", email_context, theme=theme), backend=backend),
        html=True,
    )
    text, text_blocks = appeals.split(
        render("emails/campaign.txt.j2", plain_context, theme=theme), html=False
    )
    web = inline(render("web/campaign.html.j2", web_context, theme=theme), backend=backend)
    record = EditionRecord(
        id=identifier,
        language=language,
        frequency=Frequency.WEEKLY if campaign.frequency == "weekly" else Frequency.DAILY,
        slot=slot,
        since=slot,
        until=slot,
        new_ids=(),
        top_ids=(),
        subject=campaign.subject,
        html=html,
        text=text,
        sections=campaign.topics,
        path=str(edition_paths(settings, language, identifier)["folder"]),
        built=now,
        extra={
            "kind": KIND,
            "audience": {"frequency": campaign.frequency, "topics": list(campaign.topics)},
            "send_at": campaign.send_at.isoformat() if campaign.send_at else None,
            "source": campaign.source,
            "digest": campaign.digest,
            "preheader": campaign.preheader,
            "web_url": links.edition_url(settings, language, identifier),
            "inliner": backend,
            **donation_extra(html_blocks, text_blocks),
        },
    )
    return RenderedEdition(record=record, web=web, content=content, links=counter.links)
