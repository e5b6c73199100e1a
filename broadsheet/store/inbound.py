"""Messages `broadsheet inbox` has acted on, so a second run changes nothing.

Also the reads and writes of subscribers, the send ledger and events that
acting on a batch of notifications needs, each one statement for the whole
batch: `inbox` reads everything a batch names at once, decides in memory,
and writes the changes back in one transaction (see
:mod:`broadsheet.emails.inbound.policy`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from broadsheet.model import EventKind, SendState, Subscriber, SubscriberEvent, SubscriberStatus
from broadsheet.store.events import event_from_row
from broadsheet.store.schema import inbound_messages as table
from broadsheet.store.schema import send_ledger as ledger
from broadsheet.store.schema import subscriber_events as events
from broadsheet.store.schema import subscribers
from broadsheet.store.subscribers import subscriber_from_row

_CHUNK = 500
"""Values per IN list or multi-row statement: well under every backend's parameter limit."""

_STAMPS = {
    SubscriberStatus.UNSUBSCRIBED: "unsubscribed",
    SubscriberStatus.BOUNCED: "bounced",
}


@dataclass(frozen=True, slots=True)
class SentRow:
    """What the inbox needs of one ledger row: which message it was and when it left."""

    edition_id: str
    subscriber_id: int
    state: SendState
    message_id: str
    queued: datetime
    sent: datetime | None


_SENT_COLUMNS = (
    ledger.c.edition_id,
    ledger.c.subscriber_id,
    ledger.c.state,
    ledger.c.message_id,
    ledger.c.queued,
    ledger.c.sent,
)


_SUBSCRIBER_COLUMNS = tuple(
    subscribers.c[name]
    for name in (
        "id",
        "email",
        "name",
        "language",
        "frequency",
        "topics",
        "status",
        "created",
        "confirmed",
        "unsubscribed",
        "timezone",
    )
)
"""What :func:`~broadsheet.store.subscribers.subscriber_from_row` reads."""


def _sent_row(row: Any) -> SentRow:
    return SentRow(
        edition_id=row.edition_id,
        subscriber_id=row.subscriber_id,
        state=SendState(row.state),
        message_id=row.message_id,
        queued=row.queued,
        sent=row.sent,
    )


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class Inbound:
    """Repository bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- what was acted on ----------------------------------------------------

    def outcome(self, key: str) -> str | None:
        """The outcome recorded for a message already acted on, or ``None``."""
        return self.conn.execute(
            select(table.c.outcome).where(table.c.key == key)
        ).scalar_one_or_none()

    def outcomes(self, keys: Collection[str]) -> dict[str, str]:
        """The recorded outcomes of those of ``keys`` acted on before."""
        found: dict[str, str] = {}
        for part in _chunks(sorted(set(keys))):
            query = select(table.c.key, table.c.outcome).where(table.c.key.in_(part))
            found.update((row.key, row.outcome) for row in self.conn.execute(query))
        return found

    def remember(self, rows: Sequence[tuple[str, str, str | None]], *, now: datetime) -> None:
        """Record messages acted on: ``(key, outcome, edition_id)`` each (keys not yet stored)."""
        values = [
            {"key": key, "outcome": outcome[:32], "edition_id": edition_id, "time": now}
            for key, outcome, edition_id in rows
        ]
        for part in _chunks(values):
            self.conn.execute(table.insert(), list(part))

    # --- reading what a batch names ---------------------------------------------

    def subscriptions_of(self, ids: Collection[int]) -> dict[int, Subscriber]:
        """Every subscription of the addresses of these subscriptions, by id."""
        found: dict[int, Subscriber] = {}
        for part in _chunks(sorted(set(ids))):
            named = select(subscribers.c.email).where(subscribers.c.id.in_(part))
            query = select(*_SUBSCRIBER_COLUMNS).where(subscribers.c.email.in_(named))
            for row in self.conn.execute(query):
                found[row.id] = subscriber_from_row(row)
        return found

    def sent_to(self, subscriber_ids: Collection[int]) -> list[SentRow]:
        """Every ledger row of these subscriptions (by the index on ``subscriber_id``)."""
        rows: list[SentRow] = []
        for part in _chunks(sorted(set(subscriber_ids))):
            query = select(*_SENT_COLUMNS).where(ledger.c.subscriber_id.in_(part))
            rows.extend(_sent_row(row) for row in self.conn.execute(query))
        rows.sort(key=lambda entry: (entry.queued, entry.edition_id, entry.subscriber_id))
        return rows

    def by_message_id(self, edition_id: str, message_id: str) -> SentRow | None:
        """The row of ``edition_id`` whose message had this Message-ID."""
        row = self.conn.execute(
            select(*_SENT_COLUMNS).where(
                ledger.c.edition_id == edition_id, ledger.c.message_id == message_id
            )
        ).first()
        return _sent_row(row) if row is not None else None

    def bounce_events(self, emails: Collection[str]) -> list[SubscriberEvent]:
        """The hard and soft bounce events of these addresses, oldest first."""
        kinds = [str(EventKind.SOFT_BOUNCE), str(EventKind.HARD_BOUNCE)]
        found: list[SubscriberEvent] = []
        for part in _chunks(sorted(set(emails))):
            query = (
                select(events)
                .where(events.c.email.in_(part), events.c.kind.in_(kinds))
                .order_by(events.c.time, events.c.id)
            )
            found.extend(event_from_row(row) for row in self.conn.execute(query))
        return found

    # --- writing a batch's changes ------------------------------------------------

    def set_statuses(
        self, changes: Mapping[int, tuple[SubscriberStatus, str]], *, now: datetime
    ) -> None:
        """Set each subscription's status and reason (stamping bounced/unsubscribed)."""
        by_status: dict[SubscriberStatus, list[dict[str, Any]]] = {}
        for subscriber_id, (status, reason) in changes.items():
            by_status.setdefault(status, []).append({"b_id": subscriber_id, "b_reason": reason})
        for status, rows in by_status.items():
            values: dict[str, Any] = {
                "status": str(status),
                "changed": now,
                "status_reason": bindparam("b_reason"),
            }
            stamp = _STAMPS.get(status)
            if stamp:
                values[stamp] = now
            statement = (
                subscribers.update().where(subscribers.c.id == bindparam("b_id")).values(**values)
            )
            for part in _chunks(rows):
                self.conn.execute(statement, list(part))

    def mark_bounced(self, rows: Sequence[tuple[str, int, str]], *, now: datetime) -> None:
        """Mark sent rows ``bounced`` (bounces that came back later): ``(edition, id, reply)``."""
        statement = (
            ledger.update()
            .where(
                ledger.c.edition_id == bindparam("b_edition"),
                ledger.c.subscriber_id == bindparam("b_id"),
                ledger.c.state == str(SendState.SENT),
            )
            .values(state=str(SendState.BOUNCED), last_reply=bindparam("b_reply"), changed=now)
        )
        values = [
            {"b_edition": edition_id, "b_id": subscriber_id, "b_reply": reply[:1000]}
            for edition_id, subscriber_id, reply in rows
        ]
        for part in _chunks(values):
            self.conn.execute(statement, list(part))

    def record_events(self, recorded: Sequence[SubscriberEvent]) -> None:
        """Append events (as :meth:`~broadsheet.store.events.Events.record`, many at once)."""
        values = [
            {
                "email": event.email,
                "kind": str(event.kind),
                "time": event.time,
                "source": event.source,
                "subscriber_id": event.subscriber_id,
                "edition_id": event.edition_id,
                "message_id": event.message_id,
                "detail": dict(event.detail),
            }
            for event in recorded
        ]
        for part in _chunks(values):
            self.conn.execute(events.insert(), list(part))
