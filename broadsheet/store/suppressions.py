"""Suppressed addresses and domains; forgotten addresses as keyed hashes.

A suppression pattern is a whole address (``reader@mail.example``) or a
whole domain (``@mail.example``), both in the normalised form subscriber
addresses are stored in (IDNA domain, lower case). A domain pattern matches
that domain exactly, not its subdomains (``@mail.example`` does not cover
``reader@eu.mail.example``): mail domains are run separately.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from broadsheet.store.schema import suppressions as table


def domain_pattern(email: str) -> str:
    """The domain pattern (``@mail.example``) an address falls under."""
    return "@" + email.rpartition("@")[2]


class Suppressions:
    """Repository bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, pattern: str, reason: str, source: str, now: datetime) -> bool:
        """Suppress an address or a domain; whether it was new.

        A pattern already listed keeps its first reason and time.

        Args:
            pattern: a normalised address or ``@domain``.
            reason: why (``complaint``, ``manual``, ``import``, ``bounce``…).
            source: where from (a file name, ``command``, ``inbox``…).
            now: when.
        """
        present = self.conn.execute(
            select(table.c.pattern).where(table.c.pattern == pattern)
        ).first()
        if present is not None:
            return False
        self.conn.execute(
            table.insert().values(pattern=pattern, reason=reason, source=source, added=now)
        )
        return True

    def matches(self, email: str) -> str | None:
        """The pattern that suppresses ``email`` (the address's own first), or ``None``."""
        candidates = [email, domain_pattern(email)]
        found = set(
            self.conn.execute(select(table.c.pattern).where(table.c.pattern.in_(candidates)))
            .scalars()
            .all()
        )
        return next((pattern for pattern in candidates if pattern in found), None)
