"""Messages `broadsheet inbox` has acted on, so a second run changes nothing.

Also the few reads and writes of the send ledger that mapping a bounce to
its message needs: every row sent to a subscription (by the index on
``subscriber_id``), a row found by its Message-ID within one edition, and a
row marked bounced after the fact.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, select

from broadsheet.model import SendState
from broadsheet.store.ledger import LedgerEntry, _entry
from broadsheet.store.schema import inbound_messages as table
from broadsheet.store.schema import send_ledger as ledger


class Inbound:
    """Repository bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def outcome(self, key: str) -> str | None:
        """The outcome recorded for a message already acted on, or ``None``."""
        return self.conn.execute(
            select(table.c.outcome).where(table.c.key == key)
        ).scalar_one_or_none()

    def remember(self, key: str, outcome: str, *, edition_id: str | None, now: datetime) -> None:
        """Record that the message ``key`` was acted on (once: a second call changes nothing)."""
        if self.outcome(key) is None:
            self.conn.execute(
                table.insert().values(
                    key=key, outcome=outcome[:32], edition_id=edition_id, time=now
                )
            )

    def sent_to(self, subscriber_ids: Collection[int]) -> list[LedgerEntry]:
        """Every ledger row of these subscriptions, oldest queued first."""
        if not subscriber_ids:
            return []
        query = (
            select(ledger)
            .where(ledger.c.subscriber_id.in_(list(subscriber_ids)))
            .order_by(ledger.c.queued, ledger.c.edition_id)
        )
        return [_entry(row) for row in self.conn.execute(query)]

    def by_message_id(self, edition_id: str, message_id: str) -> LedgerEntry | None:
        """The row of ``edition_id`` whose message had this Message-ID."""
        row = self.conn.execute(
            select(ledger).where(
                ledger.c.edition_id == edition_id, ledger.c.message_id == message_id
            )
        ).first()
        return _entry(row) if row is not None else None

    def mark_bounced(
        self, edition_id: str, subscriber_id: int, *, reply: str, now: datetime
    ) -> bool:
        """Mark a sent row ``bounced`` (a bounce that came back later); whether it changed."""
        done = self.conn.execute(
            ledger.update()
            .where(
                ledger.c.edition_id == edition_id,
                ledger.c.subscriber_id == subscriber_id,
                ledger.c.state == str(SendState.SENT),
            )
            .values(state=str(SendState.BOUNCED), last_reply=reply[:1000], changed=now)
        )
        return bool(done.rowcount)
