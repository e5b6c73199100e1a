"""The suppression list from CSV and the command line; who may not be added.

A suppression file has a header line and a column ``email`` (or
``address``), one entry a row: a whole address (``reader@mail.example``)
or a whole domain (``@mail.example``); an optional ``reason`` column says
why (default ``import``). Entries are normalised as subscriber addresses
are (IDNA domain, lower case), so ``@Bücher.Example`` and
``@xn--bcher-kva.example`` are one entry. A bad row is reported with its
file, line and column; the good rows beside it are added.

:class:`Screen` answers, for the form, the CSV import and ``subscribers
add``, which addresses may not be added: those suppressed (by address or
by domain), and those whose owner asked to be forgotten.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from broadsheet.config import Settings
from broadsheet.content.csvfile import read_csv
from broadsheet.content.subscribers import normalise_email
from broadsheet.errors import ContentError
from broadsheet.model import EventKind, SubscriberEvent
from broadsheet.store import Store, Tx
from broadsheet.store.suppressions import forget_digest, forget_key

MAX_REASON = 32
"""The longest reason kept (the column's width)."""


def normalise_pattern(text: str) -> str:
    """The stored form of an address or an ``@domain``, or ValueError saying what is wrong."""
    text = text.strip()
    if text.startswith("@"):
        domain = text[1:]
        if not domain or "@" in domain:
            raise ValueError(f"{text!r} is not a domain; write it as @mail.example")
        # The domain goes through the same checks as a subscriber's.
        return "@" + normalise_email(f"postmaster@{domain}").rpartition("@")[2]
    if "@" not in text:
        raise ValueError(
            f"{text!r} is neither an address nor a domain (a domain starts with @: @{text})"
        )
    return normalise_email(text)


def check_reason(reason: str) -> str:
    """A reason as stored, or ValueError."""
    reason = " ".join(reason.split())
    if len(reason) > MAX_REASON:
        raise ValueError(f"is {len(reason)} characters long; at most {MAX_REASON}")
    return reason


@dataclass
class SuppressionsReport:
    """What a suppressions import did."""

    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no row was rejected."""
        return not self.rejected


def import_suppressions(
    store: Store, path: Path, *, now: datetime, source: str | None = None
) -> SuppressionsReport:
    """Add the entries of a suppressions CSV; bad rows are reported and the rest stored."""
    shown = source or str(path)
    report = SuppressionsReport()
    entries: dict[str, str] = {}
    try:
        for line, values in read_csv(
            path, shown, required=(), optional=("email", "address", "reason")
        ):
            if isinstance(values, ContentError):
                report.rejected.append(str(values))
                continue
            column = "email" if "email" in values else "address"
            if column not in values:
                raise ContentError(
                    shown, "the header lacks email (or address); expected email,reason", line=1
                )
            try:
                pattern = normalise_pattern(values[column])
            except ValueError as exc:
                report.rejected.append(str(ContentError(shown, str(exc), line=line, field=column)))
                continue
            try:
                reason = check_reason(values.get("reason", "")) or "import"
            except ValueError as exc:
                report.rejected.append(
                    str(ContentError(shown, str(exc), line=line, field="reason"))
                )
                continue
            entries.setdefault(pattern, reason)
    except ContentError as exc:
        report.rejected.append(str(exc))
    with store.write() as tx:
        listed = tx.suppressions.present(entries)
        for pattern, reason in entries.items():
            if pattern in listed:
                report.unchanged.append(pattern)
                continue
            tx.suppressions.add(pattern, reason, Path(shown).name, now)
            report.added.append(pattern)
        record_change(tx, report.added, suppressed=True, source="import", now=now)
    return report


def record_change(
    tx: Tx, patterns: Collection[str], *, suppressed: bool, source: str, now: datetime
) -> int:
    """Record ``suppressed`` or ``unsuppressed`` in the history of the subscribed addresses
    among ``patterns``; how many events.

    Only addresses that hold a subscription get an event: the history is a
    subscriber's, and a list of strangers' addresses is not made into one.
    """
    addresses = [p for p in patterns if not p.startswith("@")]
    kind = EventKind.SUPPRESSED if suppressed else EventKind.UNSUPPRESSED
    holders = tx.privacy.subscribed_among(addresses) if addresses else set()
    for email in sorted(holders):
        tx.events.record(SubscriberEvent(email=email, kind=kind, time=now, source=source))
    return len(holders)


@dataclass(frozen=True)
class Screen:
    """Tells which addresses may not be added, and why.

    Attributes:
        key: the key forgotten addresses are hashed with; ``None`` when no
            address was ever forgotten (then none needs hashing).
    """

    key: bytes | None

    @classmethod
    def of(cls, store: Store, settings: Settings) -> Screen:
        """The screen of a publication (before its write transaction opens)."""
        with store.read() as tx:
            anything = tx.suppressions.any_forgotten()
        if not anything:
            return cls(None)
        secret = store.link_secret(settings.secret(), env_name=settings.links.secret_env)
        return cls(forget_key(secret))

    @classmethod
    def with_secret(cls, secret: str) -> Screen:
        """The screen for a publication whose secret is known."""
        return cls(forget_key(secret))

    def refusals(self, tx: Tx, emails: Collection[str]) -> dict[str, str]:
        """The refused ones among (normalised) ``emails``, each with why, in words.

        A forgotten address is named as such before any suppression.
        """
        refused: dict[str, str] = {}
        if self.key is not None and emails:
            digests = {forget_digest(self.key, email): email for email in emails}
            for digest in tx.suppressions.forgotten_among(digests):
                refused[digests[digest]] = (
                    "its owner asked to be forgotten (subscribers forget); not added again"
                )
        for email, pattern in tx.suppressions.covering(
            [email for email in emails if email not in refused]
        ).items():
            what = "this address" if pattern == email else f"its domain {pattern}"
            refused[email] = f"{what} is on the suppression list; not added"
        return refused
