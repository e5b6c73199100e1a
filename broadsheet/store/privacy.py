"""What the store holds about one address: read for export, erased on request, purged unasked.

- :meth:`Privacy.page` reads subscriptions with their events, a page of
  addresses at a time (``subscribers export``).
- :meth:`Privacy.erase` deletes an address everywhere it is stored
  (``subscribers forget``): its subscriptions, their send-ledger rows, its
  events, its donations, its own suppression entry (domain entries stay:
  they are about a domain, not a person) and its rate-limit buckets.
  The caller keeps the keyed digest in the same transaction
  (:meth:`~broadsheet.store.suppressions.Suppressions.remember_forgotten`).
- :meth:`Privacy.purge_unconfirmed` deletes subscriptions never confirmed
  whose last request is older than a time, and their events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select

from broadsheet.model import SubscriberEvent, SubscriberStatus
from broadsheet.store.events import event_from_row
from broadsheet.store.schema import donations, rate_limits, send_ledger, subscriber_events
from broadsheet.store.schema import subscribers as table
from broadsheet.store.schema import suppressions as suppressions_table

_CHUNK = 500
"""Values per ``IN`` list: well under every backend's parameter limit."""


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """One subscription as stored, with what consent records need."""

    id: int
    email: str
    name: str
    language: str
    frequency: str
    topics: tuple[str, ...]
    status: str
    source: str
    created: datetime
    confirmed: datetime | None
    unsubscribed: datetime | None
    timezone: str | None


@dataclass(frozen=True, slots=True)
class AddressRecord:
    """Everything :meth:`Privacy.page` holds about one address."""

    email: str
    subscriptions: list[SubscriptionRecord] = field(default_factory=list)
    events: list[SubscriberEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Erased:
    """How many rows of each kind :meth:`Privacy.erase` deleted."""

    subscriptions: int = 0
    ledger_rows: int = 0
    events: int = 0
    donations: int = 0
    suppressions: int = 0
    rate_limits: int = 0

    @property
    def total(self) -> int:
        """Rows deleted in all."""
        return (
            self.subscriptions
            + self.ledger_rows
            + self.events
            + self.donations
            + self.suppressions
            + self.rate_limits
        )


@dataclass(frozen=True, slots=True)
class Purged:
    """What :meth:`Privacy.purge_unconfirmed` deleted: counts only, never an address."""

    subscriptions: int = 0
    addresses: int = 0
    events: int = 0


def _record(row: Row[Any]) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=row.id,
        email=row.email,
        name=row.name,
        language=row.language,
        frequency=row.frequency,
        topics=tuple(row.topics or ()),
        status=row.status,
        source=row.source,
        created=row.created,
        confirmed=row.confirmed,
        unsubscribed=row.unsubscribed,
        timezone=row.timezone,
    )


def inbox_of(email: str) -> str:
    """The inbox an address reaches (no ``+tag``), as the form's rate limit keys it."""
    local, at, domain = email.rpartition("@")
    if not at:
        return email
    return f"{local.split('+', 1)[0] or local}@{domain}"


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[start : start + _CHUNK] for start in range(0, len(items), _CHUNK)]


class Privacy:
    """Repository of what is stored about addresses, bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- export -----------------------------------------------------------------

    def page(self, *, after: str = "", limit: int = 500) -> list[AddressRecord]:
        """Up to ``limit`` addresses after ``after`` (by address) with their subscriptions
        and events, subscriptions by newsletter, events oldest first.

        Three queries a page, whatever its size: streaming a list of any
        length takes constant memory.
        """
        emails = list(
            self.conn.execute(
                select(table.c.email)
                .where(table.c.email > after)
                .group_by(table.c.email)
                .order_by(table.c.email)
                .limit(limit)
            ).scalars()
        )
        if not emails:
            return []
        records = {email: AddressRecord(email) for email in emails}
        rows = self.conn.execute(
            select(table)
            .where(table.c.email.in_(emails))
            .order_by(table.c.email, table.c.language, table.c.frequency, table.c.id)
        )
        for row in rows:
            records[row.email].subscriptions.append(_record(row))
        events = self.conn.execute(
            select(subscriber_events)
            .where(subscriber_events.c.email.in_(emails))
            .order_by(subscriber_events.c.email, subscriber_events.c.time, subscriber_events.c.id)
        )
        for row in events:
            records[row.email].events.append(event_from_row(row))
        return [records[email] for email in emails]

    def subscribed_among(self, emails: Sequence[str]) -> set[str]:
        """Which of these addresses hold at least one subscription (in any state)."""
        found: set[str] = set()
        for chunk in _chunks(sorted(set(emails))):
            found.update(
                self.conn.execute(
                    select(table.c.email).where(table.c.email.in_(chunk)).distinct()
                ).scalars()
            )
        return found

    # --- erasure ----------------------------------------------------------------

    def erase(self, email: str) -> Erased:
        """Delete everything stored about ``email`` (normalised); how many rows of each kind.

        On SQLite the deleted rows are overwritten with zeros in the pages
        that held them (``secure_delete``), not merely marked free; the
        write-ahead log still holds older copies of those pages until
        :meth:`~broadsheet.store.Store.checkpoint` empties it.
        """
        sqlite = self.conn.dialect.name == "sqlite"
        if sqlite:
            was = self.conn.exec_driver_sql("PRAGMA secure_delete").scalar_one()
            self.conn.exec_driver_sql("PRAGMA secure_delete = ON")
        try:
            return self._erase(email)
        finally:
            if sqlite:
                self.conn.exec_driver_sql(f"PRAGMA secure_delete = {int(was)}")

    def _erase(self, email: str) -> Erased:
        ids = list(self.conn.execute(select(table.c.id).where(table.c.email == email)).scalars())
        ledger_rows = 0
        for chunk in _chunks(ids):
            ledger_rows += self.conn.execute(
                delete(send_ledger).where(send_ledger.c.subscriber_id.in_(chunk))
            ).rowcount
        events = self.conn.execute(
            delete(subscriber_events).where(subscriber_events.c.email == email)
        ).rowcount
        gifts = self.conn.execute(delete(donations).where(donations.c.email == email)).rowcount
        listed = self.conn.execute(
            delete(suppressions_table).where(suppressions_table.c.pattern == email)
        ).rowcount
        buckets = self.conn.execute(
            delete(rate_limits).where(rate_limits.c.key.in_(sorted({email, inbox_of(email)})))
        ).rowcount
        subscriptions = self.conn.execute(delete(table).where(table.c.email == email)).rowcount
        return Erased(
            subscriptions=subscriptions,
            ledger_rows=ledger_rows,
            events=events,
            donations=gifts,
            suppressions=listed,
            rate_limits=buckets,
        )

    def stored(self, email: str) -> int:
        """Rows still naming ``email`` in any table that holds addresses (0 after :meth:`erase`)."""
        counts = [
            select(func.count()).where(table.c.email == email),
            select(func.count()).where(subscriber_events.c.email == email),
            select(func.count()).where(donations.c.email == email),
            select(func.count()).where(suppressions_table.c.pattern == email),
            select(func.count()).where(rate_limits.c.key.in_(sorted({email, inbox_of(email)}))),
        ]
        return sum(int(self.conn.execute(query).scalar_one()) for query in counts)

    # --- purge ------------------------------------------------------------------

    def oldest_unconfirmed(self) -> datetime | None:
        """The last request of the longest-waiting unconfirmed subscription, if any.

        The status index narrows it to the pending subscriptions.
        """
        return self.conn.execute(
            select(func.min(table.c.changed)).where(
                table.c.status == str(SubscriberStatus.PENDING), table.c.confirmed.is_(None)
            )
        ).scalar_one_or_none()

    def purge_unconfirmed(self, *, before: datetime, batch: int = _CHUNK) -> Purged:
        """Delete subscriptions never confirmed whose last request came before ``before``.

        Their events go with them; an address left with no subscription at
        all loses its whole history (all of it was about requests never
        confirmed, or about subscriptions already gone).
        """
        purged = addresses = events = 0
        while True:
            rows = self.conn.execute(
                select(table.c.id, table.c.email)
                .where(
                    table.c.status == str(SubscriberStatus.PENDING),
                    table.c.confirmed.is_(None),
                    table.c.changed < before,
                )
                .order_by(table.c.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            ids = [row.id for row in rows]
            emails = sorted({row.email for row in rows})
            self.conn.execute(delete(send_ledger).where(send_ledger.c.subscriber_id.in_(ids)))
            events += self.conn.execute(
                delete(subscriber_events).where(subscriber_events.c.subscriber_id.in_(ids))
            ).rowcount
            purged += self.conn.execute(delete(table).where(table.c.id.in_(ids))).rowcount
            remaining = set(
                self.conn.execute(
                    select(table.c.email).where(table.c.email.in_(emails)).distinct()
                ).scalars()
            )
            gone = [email for email in emails if email not in remaining]
            if gone:
                addresses += len(gone)
                events += self.conn.execute(
                    delete(subscriber_events).where(subscriber_events.c.email.in_(gone))
                ).rowcount
        return Purged(subscriptions=purged, addresses=addresses, events=events)
