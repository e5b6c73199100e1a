"""The send ledger: one row per edition and subscriber."""

from __future__ import annotations

from sqlalchemy import Connection


class Ledger:
    """Repository of send-ledger rows bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
