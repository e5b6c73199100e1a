"""Suppressed addresses and domains; forgotten addresses as keyed hashes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from broadsheet.store.schema import suppressions as table


class Suppressions:
    """Repository bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, pattern: str, reason: str, source: str, now: datetime) -> bool:
        """Suppress ``pattern`` (an address, or ``@domain``); False if it already was.

        An existing row is left as it is: the first reason and time are kept.
        """
        pattern = pattern.strip().lower()
        present = self.conn.execute(
            select(table.c.pattern).where(table.c.pattern == pattern)
        ).first()
        if present is not None:
            return False
        self.conn.execute(
            table.insert().values(pattern=pattern, reason=reason, source=source, added=now)
        )
        return True
