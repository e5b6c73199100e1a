"""Daily page views in the store."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import Connection, func, select

from broadsheet.model import DailyViews
from broadsheet.store.schema import article_views as table


class Views:
    """Repository of daily views bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def put(self, rows: Iterable[DailyViews]) -> int:
        """Store each day's figure, replacing any earlier figure for that day.

        Returns:
            How many (article, day) figures were written.
        """
        count = 0
        for row in rows:
            key = (table.c.article_id == row.article_id) & (table.c.day == row.day)
            done = self.conn.execute(table.update().where(key).values(views=row.views))
            if done.rowcount == 0:
                self.conn.execute(
                    table.insert().values(article_id=row.article_id, day=row.day, views=row.views)
                )
            count += 1
        return count

    def totals(self, first: date, last: date) -> dict[str, int]:
        """Article id -> views summed over the days ``first`` to ``last`` inclusive."""
        query = (
            select(table.c.article_id, func.sum(table.c.views))
            .where(table.c.day >= first, table.c.day <= last)
            .group_by(table.c.article_id)
        )
        return {row[0]: int(row[1]) for row in self.conn.execute(query)}

    def count(self) -> int:
        """Number of stored (article, day) figures."""
        return int(self.conn.execute(select(func.count()).select_from(table)).scalar_one())
