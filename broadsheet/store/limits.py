"""Rate-limit token buckets in the store, shared by every process that uses it.

A bucket holds up to ``count`` tokens and refills at ``count / seconds``
tokens a second; each allowed request takes one. One row per (bucket, key)
holds the tokens left and when they were counted. :meth:`Limits.take`
reads the row under a row lock (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite
serialises writers anyway), so two servers taking the last token at once
cannot both get it. Rows whose bucket has had time to fill again carry no
information and are deleted as the bucket is used.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from broadsheet.store.schema import rate_limits as table


class Limits:
    """Repository of rate-limit buckets bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def take(self, bucket: str, key: str, *, count: int, seconds: float, now: datetime) -> float:
        """Take a token from ``bucket``'s ``key``: 0 when allowed, else the seconds to wait.

        Args:
            bucket: which limit (a short name).
            key: whose bucket (a client network, an inbox); at most 400 characters
                are kept.
            count: tokens the bucket holds when full.
            seconds: how long an empty bucket takes to fill.
            now: the current time (aware).
        """
        key = key[:400]
        rate = count / seconds
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        self.conn.execute(
            dialect.insert(table)
            .values(bucket=bucket, key=key, tokens=float(count), updated=now)
            .on_conflict_do_nothing(index_elements=["bucket", "key"])
        )
        where = (table.c.bucket == bucket) & (table.c.key == key)
        tokens, updated = self.conn.execute(
            select(table.c.tokens, table.c.updated).where(where).with_for_update()
        ).one()
        elapsed = max(0.0, (now - updated).total_seconds())
        tokens = min(float(count), tokens + elapsed * rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / rate
        self.conn.execute(table.update().where(where).values(tokens=tokens, updated=now))
        full_again = now - timedelta(seconds=seconds)
        self.conn.execute(
            table.delete().where((table.c.bucket == bucket) & (table.c.updated < full_again))
        )
        return wait
