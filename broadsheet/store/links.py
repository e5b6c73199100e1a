"""The links each edition carried and their click counts (never per reader)."""

from __future__ import annotations

from sqlalchemy import Connection


class Links:
    """Repository bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
