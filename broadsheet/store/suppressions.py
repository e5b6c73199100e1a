"""Suppressed addresses and domains; forgotten addresses as keyed hashes."""

from __future__ import annotations

from sqlalchemy import Connection


class Suppressions:
    """Repository bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
