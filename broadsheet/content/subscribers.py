"""Subscribers from CSV and the command line: checked, normalised, merged.

Columns ``email,name,language,frequency,topics`` and an optional
``timezone``; ``frequency`` is ``daily`` or ``weekly`` (default ``weekly``),
``language`` one of ``site.languages`` (default the first), ``topics`` a
``;``-separated list of sections (empty: everything), by their own names or
as readers see them in any language, without regard to case; a topic that
names no section is an error; ``timezone`` an IANA zone name
(``Europe/Berlin``; empty: the site's).

One row is one subscription: an address and one newsletter (language ×
frequency). The same address on several rows holds several newsletters;
addresses are normalised (IDNA domain, lower case) so the same person is one
address. Two rows for the same address *and* newsletter are reported with
both line numbers, and the later row wins. A subscription already stored
keeps what the file does not give (a column it lacks); a row with an empty
``language`` or ``frequency`` cell (or no such column) applies to the
address's subscriptions that match what it does give, or, when there is
none, adds one (the missing part taken from the address's other
subscriptions when they agree, else the default). A subscription that
unsubscribed or bounced is reported as skipped and stays as it is.
"""

from __future__ import annotations

import unicodedata
import zoneinfo
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from broadsheet.config import Settings
from broadsheet.content.csvfile import read_csv
from broadsheet.errors import ContentError
from broadsheet.model import (
    EventKind,
    Frequency,
    Subscriber,
    SubscriberDetails,
    SubscriberEvent,
    SubscriberStatus,
)
from broadsheet.store import Store, Tx


@dataclass
class SubscribersReport:
    """What a subscribers import did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Rows of suppressed or forgotten addresses, each ``file:line: email: address: why``."""

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


def check_timezone(value: str) -> str | None:
    """An IANA time zone name checked (``None`` for an empty value).

    Raises:
        FieldProblem: ``timezone``, when the name is no zone this system knows.
    """
    value = value.strip()
    if not value:
        return None
    bad = FieldProblem(
        "timezone", f"{value!r} is not an IANA time zone name (such as Europe/Berlin)"
    )
    if len(value) > 64 or value.startswith(("/", ".")) or ".." in value:
        raise bad
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise bad from None
    return value


def upsert_vouched(
    tx: Tx,
    row: SubscriberDetails,
    *,
    lacking: Collection[str],
    source: str,
    now: datetime,
    timezone: str | None = None,
    event: EventKind = EventKind.IMPORTED,
    detail: Mapping[str, object] | None = None,
) -> list[tuple[str, Subscriber]]:
    """Add or update the subscriptions one vouched-for row (CSV, command) names.

    Args:
        lacking: the fields the input did not give (``name``, ``language``,
            ``frequency``, ``topics``); a missing language or frequency
            makes the row apply to every subscription of the address that
            matches the rest (see the module docstring).
        source: the store's ``source`` for a new subscription (``csv``, ``cli``).
        event: what is recorded for each subscription added or changed.

    Returns:
        ``(outcome, subscription)`` pairs: the outcome of
        :meth:`~broadsheet.store.subscribers.Subscribers.upsert_active`.
    """
    keys: list[tuple[str, Frequency]] = [(row.language, row.frequency)]
    open_parts = {"language", "frequency"} & set(lacking)
    held = tx.subscribers.of_address(row.email)
    if held:
        # A new newsletter of a known address takes the name and zone it has.
        if "name" in lacking:
            row = replace(row, name=held[0].name)
        if timezone is None:
            timezone = next((s.timezone for s in held if s.timezone), None)
    if open_parts:
        matching = [
            (s.language, s.frequency)
            for s in held
            if ("language" in open_parts or s.language == row.language)
            and ("frequency" in open_parts or s.frequency == row.frequency)
        ]
        if matching:
            keys = matching
        else:
            languages = {s.language for s in held}
            frequencies = {s.frequency for s in held}
            language = row.language
            frequency = row.frequency
            if "language" in open_parts and len(languages) == 1:
                language = languages.pop()
            if "frequency" in open_parts and len(frequencies) == 1:
                frequency = frequencies.pop()
            keys = [(language, frequency)]
    keep = {f for f in ("name", "topics") if f in lacking}
    done: list[tuple[str, Subscriber]] = []
    for language, frequency in keys:
        details = replace(row, language=language, frequency=frequency)
        outcome = tx.subscribers.upsert_active(
            details, source=source, now=now, keep=keep, timezone=timezone
        )
        found = tx.subscribers.subscription(row.email, language, frequency)
        if found is None:  # skipped, not stored: the address bounced
            found = Subscriber(
                id=0,
                email=row.email,
                name=details.name,
                language=language,
                frequency=frequency,
                status=SubscriberStatus.BOUNCED,
            )
        if outcome in ("added", "updated"):
            tx.events.record(
                SubscriberEvent(
                    email=row.email,
                    kind=event,
                    time=now,
                    source="import" if event is EventKind.IMPORTED else "command",
                    subscriber_id=found.id,
                    detail={
                        **(detail or {}),
                        "newsletter": f"{language} {frequency}",
                        "outcome": outcome,
                    },
                )
            )
        done.append((outcome, found))
    return done


def newsletter_label(subscription: Subscriber) -> str:
    """``anna@example.org (en weekly)``: a subscription named in reports."""
    return f"{subscription.email} ({subscription.language} {subscription.frequency})"


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
    rows: dict[tuple[str, str, str], _Row] = {}
    try:
        for line, values in read_csv(
            path,
            shown,
            required=("email",),
            optional=("name", "language", "frequency", "topics", "timezone"),
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
                timezone = check_timezone(values.get("timezone", ""))
            except FieldProblem as exc:
                report.rejected.append(
                    str(ContentError(shown, exc.reason, line=line, field=exc.field))
                )
                continue
            # A column the file lacks, or an empty language or frequency,
            # leaves what an existing subscription has.
            lacking = {f for f in ("name", "language", "frequency", "topics") if f not in values}
            lacking |= {f for f in ("language", "frequency") if not values.get(f, "").strip()}
            key = (
                row.email,
                "" if "language" in lacking else row.language,
                "" if "frequency" in lacking else str(row.frequency),
            )
            if key in rows:
                newsletter = " ".join(part for part in key[1:] if part) or "any newsletter"
                report.warnings.append(
                    f"{shown}:{line}: email: {row.email} ({newsletter}) is also on line "
                    f"{rows[key].line}; this later row wins"
                )
            rows[key] = _Row(line, row, frozenset(lacking), timezone)
    except ContentError as exc:
        report.rejected.append(str(exc))
    from broadsheet.content.suppressions import Screen

    screen = Screen.of(store, settings)
    with store.write() as tx:
        refused = screen.refusals(tx, {item.details.email for item in rows.values()})
        for item in rows.values():
            why = refused.get(item.details.email)
            if why is not None:
                report.refused.append(f"{shown}:{item.line}: email: {item.details.email}: {why}")
                continue
            for outcome, _subscription in upsert_vouched(
                tx,
                item.details,
                lacking=item.lacking,
                source="csv",
                now=now,
                timezone=item.timezone,
                detail={"file": shown, "line": item.line},
            ):
                getattr(report, outcome).append(item.details.email)
    return report


@dataclass(frozen=True)
class _Row:
    line: int
    details: SubscriberDetails
    lacking: frozenset[str]
    timezone: str | None
