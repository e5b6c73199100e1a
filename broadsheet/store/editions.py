"""Editions in the store: what each one selected, and its rendered parts."""

from __future__ import annotations

import types
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from broadsheet.model import EditionRecord, Frequency
from broadsheet.store.schema import editions as table


def _edition(row: Row[Any]) -> EditionRecord:
    return EditionRecord(
        id=row.id,
        language=row.language,
        frequency=Frequency(row.frequency),
        slot=row.slot,
        since=row.since,
        until=row.until,
        new_ids=tuple(row.new_ids),
        top_ids=tuple(row.top_ids),
        subject=row.subject,
        html=row.html,
        text=row.text,
        sections=tuple(row.sections),
        path=row.path,
        built=row.built,
        extra=types.MappingProxyType(dict(row.extra)),
    )


class Editions:
    """Repository of :class:`~broadsheet.model.EditionRecord` bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, edition_id: str) -> EditionRecord | None:
        """The edition with this id."""
        row = self.conn.execute(select(table).where(table.c.id == edition_id)).one_or_none()
        return _edition(row) if row else None

    def save(self, edition: EditionRecord, *, now: datetime) -> None:
        """Insert or replace an edition (rebuilding one keeps its id)."""
        values = {
            "language": edition.language,
            "frequency": str(edition.frequency),
            "slot": edition.slot,
            "since": edition.since,
            "until": edition.until,
            "new_ids": list(edition.new_ids),
            "top_ids": list(edition.top_ids),
            "sections": list(edition.sections),
            "subject": edition.subject,
            "html": edition.html,
            "text": edition.text,
            "path": edition.path,
            "built": edition.built or now,
            "extra": dict(edition.extra),
        }
        done = self.conn.execute(table.update().where(table.c.id == edition.id).values(**values))
        if done.rowcount == 0:
            self.conn.execute(table.insert().values(id=edition.id, **values))

    def previous(
        self, language: str, frequency: Frequency, *, before: datetime
    ) -> EditionRecord | None:
        """The latest edition of this language and frequency whose slot is before ``before``."""
        row = self.conn.execute(
            select(table)
            .where(
                table.c.language == language,
                table.c.frequency == str(frequency),
                table.c.slot < before,
                # Campaigns (one-off letters) are not in the daily or weekly run.
                ~table.c.id.startswith("campaign-"),
            )
            .order_by(table.c.slot.desc())
            .limit(1)
        ).one_or_none()
        return _edition(row) if row else None

    def kinds(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """``(id, extra)`` of the editions whose id starts with ``KIND-`` (e.g. campaigns)."""
        rows = self.conn.execute(
            select(table.c.id, table.c.extra)
            .where(table.c.id.startswith(f"{kind}-"))
            .order_by(table.c.id)
        )
        return [(row.id, dict(row.extra)) for row in rows]

    def listing(
        self, *, language: str | None = None, frequency: Frequency | None = None
    ) -> list[EditionRecord]:
        """Editions, newest slot first."""
        query = select(table).order_by(table.c.slot.desc(), table.c.id)
        if language is not None:
            query = query.where(table.c.language == language)
        if frequency is not None:
            query = query.where(table.c.frequency == str(frequency))
        return [_edition(row) for row in self.conn.execute(query)]
