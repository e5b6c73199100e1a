"""Schema versions and the steps between them.

A new database is created from :mod:`~broadsheet.store.schema` in one go and
stamped with :data:`CURRENT`. An existing one is brought up to date by the
steps after its recorded version, in order, inside one transaction, under a
lock so two processes starting together do not both migrate. A database
written by a newer release is refused rather than damaged.

To change the schema: edit ``schema.py``, add a step here that takes an
existing database from the previous version to the new one (with
``op.add_column``, ``op.create_table``, ``with op.batch_alter_table(...)``
for SQLite), and raise :data:`CURRENT`. ``tests/store/test_migrations.py``
checks that an upgraded database equals a new one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, inspect, select, text

from broadsheet.errors import StoreError
from broadsheet.store import schema

log = logging.getLogger(__name__)

Step = Callable[[Operations], None]

BASELINE = 1
"""The first schema version; its tables are created by ``metadata.create_all``."""

STEPS: Mapping[int, Step] = {}
"""Version -> the step that upgrades a database from version - 1 to it."""

CURRENT = max([BASELINE, *STEPS])
"""The version this release writes."""

_VERSION_KEY = "schema_version"


def recorded_version(conn: Connection) -> int | None:
    """The version stamped in the database, or ``None`` for an empty database."""
    if not inspect(conn).has_table(schema.meta.name):
        return None
    row = conn.execute(
        select(schema.meta.c.value).where(schema.meta.c.key == _VERSION_KEY)
    ).scalar_one_or_none()
    return int(row) if row is not None else None


def _stamp(conn: Connection, version: int) -> None:
    table = schema.meta
    updated = conn.execute(
        table.update().where(table.c.key == _VERSION_KEY).values(value=str(version))
    )
    if updated.rowcount == 0:
        conn.execute(table.insert().values(key=_VERSION_KEY, value=str(version)))


def _lock(conn: Connection) -> None:
    """Serialise migrations between processes for the rest of the transaction."""
    if conn.dialect.name == "postgresql":
        # Any constant key works; this one spells "broadsheet" in the low bits.
        conn.execute(text("SELECT pg_advisory_xact_lock(7243960431)"))


def migrate(
    conn: Connection, *, steps: Mapping[int, Step] | None = None, current: int | None = None
) -> int:
    """Bring the database on ``conn`` to the current schema; returns the version found.

    ``conn`` must be inside a transaction that holds the database's write
    lock (``BEGIN IMMEDIATE`` on SQLite); on PostgreSQL an advisory lock is
    taken here. ``steps`` and ``current`` exist for tests.
    """
    steps = STEPS if steps is None else steps
    current = CURRENT if current is None else current
    _lock(conn)
    found = recorded_version(conn)
    if found is None:
        if inspect(conn).get_table_names():
            names = ", ".join(sorted(inspect(conn).get_table_names()))
            raise StoreError(
                f"the database holds tables that are not broadsheet's ({names}); "
                "point store.url at an empty or broadsheet database"
            )
        schema.metadata.create_all(conn)
        _stamp(conn, current)
        log.info("created a new store at schema version %d", current)
        return 0
    if found > current:
        raise StoreError(
            f"the database is at schema version {found}, newer than this release "
            f"understands ({current}); upgrade broadsheet"
        )
    if found < current:
        ops = Operations(MigrationContext.configure(conn))
        for version in range(found + 1, current + 1):
            log.info("migrating the store to schema version %d", version)
            steps[version](ops)
        _stamp(conn, current)
    return found
