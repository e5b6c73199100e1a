"""Subscribers from CSV and the command line: checked, normalised, merged.

Columns ``email,name,language,frequency,topics``; ``frequency`` is ``daily``
or ``weekly`` (default ``weekly``), ``language`` one of ``site.languages``
(default the first), ``topics`` a ``;``-separated list of sections (empty:
everything), by their own names or as readers see them in any language,
without regard to case; a topic that names no section is an error.
Addresses are normalised (IDNA domain, lower case) so the same person is one
subscriber; a later row for the same address wins. A subscriber already
stored keeps what the file does not give: a column it lacks, or an empty
``language`` or ``frequency`` cell. An address that unsubscribed or bounced
is reported as skipped and stays as it is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from broadsheet.config import Settings
from broadsheet.content.csvfile import read_csv
from broadsheet.errors import ContentError
from broadsheet.model import Frequency, SubscriberDetails
from broadsheet.store import Store


@dataclass
class SubscribersReport:
    """What a subscribers import did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no row was rejected."""
        return not self.rejected


def normalise_email(address: str) -> str:
    """The canonical form of an address, or ValueError saying what is wrong.

    The domain is IDNA-encoded and the whole address lower-cased: mailbox
    providers treat local parts case-insensitively, and two rows differing
    only in case are one reader. The part before the ``@`` must be ASCII:
    an internationalised mailbox (RFC 6531) needs SMTPUTF8 end to end, which
    the messages and their headers here do not use.
    """
    address = address.strip()
    if any(c in address for c in "\r\n"):
        raise ValueError("an address cannot hold a line break")
    try:
        valid = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    domain = valid.ascii_domain or valid.domain
    return f"{valid.local_part}@{domain}".lower()


MAX_NAME = 200
"""The longest subscriber name accepted (it becomes the To header's display name)."""


class SectionNames:
    """The sections a subscriber can choose, by any name a reader sees.

    Topics are matched without regard to case, by a section's own name or
    by its name in any language (``[site.localized.LANG.sections]``), and
    stored under the section's own name, which is what editions match.

    Args:
        settings: the publication's settings (for the localised names).
        stored: the sections of the stored articles.
    """

    def __init__(self, settings: Settings, stored: Iterable[str]) -> None:
        canonical = set(stored)
        for local in settings.site.localized.values():
            canonical.update(local.sections)
        self.names = sorted(canonical)
        self._lookup: dict[str, str] = {}
        for local in settings.site.localized.values():
            for section, shown in local.sections.items():
                self._lookup.setdefault(shown.casefold(), section)
        for section in canonical:  # a section's own name wins over a translation
            self._lookup[section.casefold()] = section

    @classmethod
    def of(cls, store: Store, settings: Settings) -> SectionNames:
        """The sections known to ``store``."""
        with store.read() as tx:
            return cls(settings, tx.articles.all_sections())

    def canonical(self, topic: str) -> str | None:
        """The section ``topic`` names, or ``None``."""
        return self._lookup.get(topic.casefold())


def check_subscriber(
    settings: Settings,
    *,
    email: str,
    name: str = "",
    language: str = "",
    frequency: str = "",
    topics: Sequence[str] | str = (),
    sections: SectionNames | None = None,
    keep: Iterable[str] = (),
) -> SubscriberDetails:
    """One subscriber checked and normalised.

    Args:
        sections: when given (and not empty), every topic must name one of
            them; it is stored under the section's own name.
        keep: topics accepted as they are (what the subscriber already has).

    Raises:
        FieldProblem: naming the field and what is wrong with it.
    """
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise FieldProblem("email", f"{email!r} is not a valid address: {exc}") from None
    if any(c in name for c in "\r\n\x00"):
        raise FieldProblem("name", "cannot hold a line break")
    name = name.replace("\t", " ")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise FieldProblem("name", "cannot hold control characters")
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise FieldProblem("name", f"is {len(name)} characters long; at most {MAX_NAME} are kept")
    language = language or settings.site.default_language
    if language not in settings.site.languages:
        raise FieldProblem(
            "language", f"{language!r} is not one of {', '.join(settings.site.languages)}"
        )
    frequency = (frequency or "weekly").lower()
    if frequency not in tuple(Frequency):
        raise FieldProblem("frequency", f"expected daily or weekly, got {frequency!r}")
    if isinstance(topics, str):
        topics = topics.split(";")
    cleaned = tuple(dict.fromkeys(" ".join(t.split()) for t in topics if t.strip()))
    if sections is not None and sections.names:
        kept = set(keep)
        matched = []
        for topic in cleaned:
            section = topic if topic in kept else sections.canonical(topic)
            if section is None:
                raise FieldProblem(
                    "topics",
                    f"{topic!r} is not a section of this publication "
                    f"(sections: {', '.join(sections.names)})",
                )
            matched.append(section)
        cleaned = tuple(dict.fromkeys(matched))
    return SubscriberDetails(address, name, language, Frequency(frequency), cleaned)


class FieldProblem(ValueError):
    """A subscriber field that fails its check."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def import_subscribers(
    store: Store, settings: Settings, path: Path, *, now: datetime, source: str | None = None
) -> SubscribersReport:
    """Import a subscribers CSV; bad rows are reported and the rest stored."""
    shown = source or str(path)
    report = SubscribersReport()
    sections = SectionNames.of(store, settings)
    rows: dict[str, tuple[int, SubscriberDetails, frozenset[str]]] = {}
    try:
        for line, values in read_csv(
            path, shown, required=("email",), optional=("name", "language", "frequency", "topics")
        ):
            if isinstance(values, ContentError):
                report.rejected.append(str(values))
                continue
            try:
                row = check_subscriber(
                    settings,
                    email=values.get("email", ""),
                    name=values.get("name", ""),
                    language=values.get("language", ""),
                    frequency=values.get("frequency", ""),
                    topics=values.get("topics", ""),
                    sections=sections,
                )
            except FieldProblem as exc:
                report.rejected.append(
                    str(ContentError(shown, exc.reason, line=line, field=exc.field))
                )
                continue
            if row.email in rows:
                report.warnings.append(
                    f"{shown}:{line}: email: {row.email} is also on line {rows[row.email][0]}; "
                    "this later row wins"
                )
            # A column the file lacks, or an empty language or frequency,
            # leaves what an existing subscriber has.
            lacking = {f for f in ("name", "language", "frequency", "topics") if f not in values}
            lacking |= {f for f in ("language", "frequency") if not values.get(f, "").strip()}
            rows[row.email] = (line, row, frozenset(lacking))
    except ContentError as exc:
        report.rejected.append(str(exc))
    with store.write() as tx:
        for _line, row, keep in rows.values():
            outcome = tx.subscribers.upsert_active(row, source="csv", now=now, keep=keep)
            getattr(report, outcome).append(row.email)
    return report
