"""The links each edition carried and their click counts (never per reader).

A row is one link of one edition (``edition_links``): its key, where it
leads (the real URL, UTM parameters included), the block and appeal variant
it sits in, and how often it was followed. Rows are written with the edition,
in the same transaction, so an edition never exists without the links it may
redirect to; a click adds one to a row with one ``UPDATE`` (``clicks =
clicks + 1``), so concurrent clicks on several servers are never lost. Nothing
about who clicked is kept anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from broadsheet.model import EditionLink
from broadsheet.store.schema import edition_links as table


class Links:
    """Repository of :class:`~broadsheet.model.EditionLink` bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record(self, edition_id: str, links: Iterable[EditionLink]) -> int:
        """Store the links of ``edition_id`` (with no clicks); a key already stored is kept.

        Returns:
            How many links were added.
        """
        known = set(
            self.conn.execute(select(table.c.key).where(table.c.edition_id == edition_id)).scalars()
        )
        rows = []
        for link in links:
            if link.key in known:
                continue
            known.add(link.key)
            rows.append(
                {
                    "edition_id": edition_id,
                    "key": link.key,
                    "url": link.url,
                    "block": link.block,
                    "variant": link.variant,
                    "clicks": 0,
                }
            )
        if rows:
            self.conn.execute(table.insert(), rows)
        return len(rows)

    def target(self, edition_id: str, key: str) -> str | None:
        """Where the link ``key`` of ``edition_id`` leads, or ``None`` (no such link)."""
        query = select(table.c.url).where(table.c.edition_id == edition_id, table.c.key == key)
        return self.conn.execute(query).scalar_one_or_none()

    def click(self, edition_id: str, key: str) -> str | None:
        """Count one click on the link ``key`` of ``edition_id``; where it leads, or ``None``."""
        done = self.conn.execute(
            table.update()
            .where(table.c.edition_id == edition_id, table.c.key == key)
            .values(clicks=table.c.clicks + 1)
        )
        if done.rowcount == 0:
            return None
        return self.target(edition_id, key)

    def of_edition(self, edition_id: str) -> list[EditionLink]:
        """Every link of ``edition_id`` with its clicks, by block, variant and key."""
        query = (
            select(table)
            .where(table.c.edition_id == edition_id)
            .order_by(table.c.block, table.c.variant, table.c.key)
        )
        return [
            EditionLink(
                key=row.key,
                url=row.url,
                block=row.block,
                variant=row.variant,
                clicks=int(row.clicks),
            )
            for row in self.conn.execute(query)
        ]
