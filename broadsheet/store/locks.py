"""PostgreSQL advisory locks, for processes that share one store.

A session-level advisory lock (``pg_try_advisory_lock``) is taken on a
connection of its own and held for as long as that connection is open: the
server releases it when the session ends, however the process ended. Keys
are the two 32-bit integers PostgreSQL's two-key form takes.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from broadsheet.errors import StoreError

log = logging.getLogger(__name__)


class AdvisoryLock:
    """One advisory lock, taken without waiting and held on its own connection."""

    def __init__(self, engine: Engine, key: tuple[int, int]) -> None:
        self.engine = engine
        self.key = key
        self._conn: Connection | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._conn is not None

    def acquire(self) -> bool:
        """Take the lock; ``False`` when another session holds it."""
        if self._conn is not None:
            raise RuntimeError("lock already held")  # a bug in the caller
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": self.key[0], "b": self.key[1]}
            ).scalar_one()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        """Give the lock back and close its connection (safe to call when not held)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(
                text("SELECT pg_advisory_unlock(:a, :b)"), {"a": self.key[0], "b": self.key[1]}
            )
        except (DBAPIError, StoreError) as exc:
            # The session is gone, and its lock with it; never pool it again.
            # (The store's engine raises a lost connection as StoreUnavailable.)
            reason = exc.orig if isinstance(exc, DBAPIError) else exc
            log.warning("could not release the advisory lock %s cleanly (%s)", self.key, reason)
            conn.invalidate()
        finally:
            conn.close()
