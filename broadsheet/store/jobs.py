"""Scheduler job runs in the store."""

from __future__ import annotations

from sqlalchemy import Connection


class Jobs:
    """Repository of job runs bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
