"""Subscriber events: each address's history of consent, changes and what came back."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select

from broadsheet.model import EventKind, SubscriberEvent
from broadsheet.store.schema import subscriber_events as table


def event_from_row(row: Row[Any]) -> SubscriberEvent:
    return SubscriberEvent(
        email=row.email,
        kind=EventKind(row.kind),
        time=row.time,
        source=row.source,
        subscriber_id=row.subscriber_id,
        edition_id=row.edition_id,
        message_id=row.message_id,
        detail=dict(row.detail),
    )


class Events:
    """Repository of :class:`~broadsheet.model.SubscriberEvent` bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record(self, event: SubscriberEvent) -> None:
        """Append one event."""
        self.conn.execute(
            table.insert().values(
                email=event.email,
                kind=str(event.kind),
                time=event.time,
                source=event.source,
                subscriber_id=event.subscriber_id,
                edition_id=event.edition_id,
                message_id=event.message_id,
                detail=dict(event.detail),
            )
        )

    def history(self, email: str) -> list[SubscriberEvent]:
        """Every event of one address, oldest first."""
        query = select(table).where(table.c.email == email).order_by(table.c.time, table.c.id)
        return [event_from_row(row) for row in self.conn.execute(query)]

    def of_kinds(
        self, kinds: Iterable[EventKind], *, since: datetime, until: datetime | None = None
    ) -> list[SubscriberEvent]:
        """Events of these kinds in a time range, oldest first (reports)."""
        query = select(table).where(
            table.c.kind.in_([str(kind) for kind in kinds]), table.c.time >= since
        )
        if until is not None:
            query = query.where(table.c.time < until)
        return [event_from_row(row) for row in self.conn.execute(query.order_by(table.c.time))]

    def count(self, email: str, kind: EventKind, *, since: datetime) -> int:
        """How many events of one kind an address had since a time."""
        query = select(func.count()).where(
            table.c.email == email, table.c.kind == str(kind), table.c.time >= since
        )
        return int(self.conn.execute(query).scalar_one())

    def erase(self, email: str) -> int:
        """Delete every event of an address (``subscribers forget``); how many."""
        return self.conn.execute(delete(table).where(table.c.email == email)).rowcount
