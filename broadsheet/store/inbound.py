"""Messages `broadsheet inbox` has acted on, so a second run changes nothing."""

from __future__ import annotations

from sqlalchemy import Connection


class Inbound:
    """Repository bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
