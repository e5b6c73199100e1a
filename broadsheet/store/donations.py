"""Donations imported by `broadsheet donors import`.

One row per payment, keyed by ``row_key`` (a digest of the processor's
transaction id, or of the row itself), so importing the same export twice
stores nothing twice. Donations are kept by address, whether or not the
address subscribes: a reader may give before they subscribe.

What leaves this repository for a send is :meth:`Donations.giving`: per
address, when the reader last gave and last paid a recurring donation;
never amounts.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Connection, case, func, select

from broadsheet.model import Donation, Giving
from broadsheet.store.schema import donations as table
from broadsheet.store.schema import subscribers

_CHUNK = 500
"""Values bound into one ``IN (...)``: far below SQLite's and PostgreSQL's limits."""


class Donations:
    """Repository bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def known_keys(self, keys: Collection[str]) -> set[str]:
        """The row keys among ``keys`` already stored."""
        found: set[str] = set()
        listed = list(keys)
        for start in range(0, len(listed), _CHUNK):
            chunk = listed[start : start + _CHUNK]
            found.update(
                self.conn.execute(select(table.c.row_key).where(table.c.row_key.in_(chunk)))
                .scalars()
                .all()
            )
        return found

    def add(self, rows: Sequence[Donation], *, source: str, now: datetime) -> int:
        """Store the rows whose key is not stored yet; returns how many were added."""
        known = self.known_keys([row.row_key for row in rows])
        fresh: dict[str, Donation] = {}
        for row in rows:
            if row.row_key not in known:
                fresh.setdefault(row.row_key, row)
        if fresh:
            self.conn.execute(
                table.insert(),
                [
                    {
                        "email": row.email,
                        "given": row.given,
                        "amount_minor": row.amount_minor,
                        "currency": row.currency,
                        "recurring": row.recurring,
                        "source": source,
                        "row_key": row.row_key,
                        "imported": now,
                    }
                    for row in fresh.values()
                ],
            )
        return len(fresh)

    def giving(self, emails: Collection[str]) -> dict[str, Giving]:
        """When each of ``emails`` last gave (and last paid a recurring donation).

        One query per 500 addresses (a claimed batch is one); addresses that
        never gave are absent.
        """
        out: dict[str, Giving] = {}
        listed = sorted(set(emails))
        recurring_given = case((table.c.recurring, table.c.given), else_=None)
        for start in range(0, len(listed), _CHUNK):
            chunk = listed[start : start + _CHUNK]
            rows = self.conn.execute(
                select(
                    table.c.email,
                    func.max(table.c.given).label("last"),
                    func.max(recurring_given).label("last_recurring"),
                )
                .where(table.c.email.in_(chunk))
                .group_by(table.c.email)
            )
            for row in rows:
                out[row.email] = Giving(last=row.last, last_recurring=row.last_recurring)
        return out

    def subscribed(self, emails: Collection[str]) -> set[str]:
        """The addresses among ``emails`` that hold a subscription (of any status)."""
        found: set[str] = set()
        listed = sorted(set(emails))
        for start in range(0, len(listed), _CHUNK):
            chunk = listed[start : start + _CHUNK]
            found.update(
                self.conn.execute(
                    select(subscribers.c.email).where(subscribers.c.email.in_(chunk)).distinct()
                )
                .scalars()
                .all()
            )
        return found

    def count(self) -> int:
        """Donations stored."""
        return int(self.conn.execute(select(func.count()).select_from(table)).scalar_one())
