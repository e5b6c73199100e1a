"""Donations imported by `broadsheet donors import`."""

from __future__ import annotations

from sqlalchemy import Connection


class Donations:
    """Repository bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
