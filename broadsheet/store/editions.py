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

    # --- holds (the brake, ``send --cancel``) -----------------------------------

    def hold(self, edition_id: str) -> tuple[str, str]:
        """``(hold, reason)`` of an edition: ``("", "")`` while it may be sent,
        ``("paused", why)`` or ``("cancelled", why)``; ``("", "")`` when unknown."""
        row = self.conn.execute(
            select(table.c.hold, table.c.hold_reason).where(table.c.id == edition_id)
        ).one_or_none()
        return (str(row[0] or ""), str(row[1] or "")) if row else ("", "")

    def set_hold(
        self, edition_id: str, hold: str, reason: str, *, expect: str | None = None
    ) -> bool:
        """Set an edition's hold (``""``, ``"paused"``, ``"cancelled"``) and its reason.

        With ``expect``, only an edition whose hold is ``expect`` now changes
        (so a pause never turns a cancelled edition back into a paused one).
        Returns whether the edition changed.
        """
        statement = table.update().where(table.c.id == edition_id)
        if expect is not None:
            statement = statement.where(table.c.hold == expect)
        done = self.conn.execute(statement.values(hold=hold, hold_reason=reason))
        return bool(done.rowcount)

    def set_extra(self, edition_id: str, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` in an edition's ``extra`` (``None`` removes it)."""
        row = self.conn.execute(select(table.c.extra).where(table.c.id == edition_id)).one_or_none()
        if row is None:
            return
        extra = dict(row[0] or {})
        if value is None:
            extra.pop(key, None)
        else:
            extra[key] = value
        self.conn.execute(table.update().where(table.c.id == edition_id).values(extra=extra))

    def extra_value(self, edition_id: str, key: str) -> Any:
        """One value of an edition's ``extra`` (``None`` when absent), without the rest."""
        row = self.conn.execute(select(table.c.extra).where(table.c.id == edition_id)).one_or_none()
        return dict(row[0] or {}).get(key) if row else None

    def held(self) -> list[tuple[str, str, str]]:
        """``(id, hold, reason)`` of every paused or cancelled edition, by id."""
        rows = self.conn.execute(
            select(table.c.id, table.c.hold, table.c.hold_reason)
            .where(table.c.hold != "")
            .order_by(table.c.id)
        )
        return [(row[0], row[1], row[2]) for row in rows]
