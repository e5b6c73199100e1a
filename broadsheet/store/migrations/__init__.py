"""Schema revisions: alembic migrations, applied by ``broadsheet upgrade`` only.

Every change to the store's tables ships as an alembic revision in
``versions/`` beside this file (``docs/upgrading.md`` says how to write
one). What a database holds decides what happens when a command opens it::

    no tables at all               created at the current revision (every command)
    at this release's head         used
    at an older revision           refused: back it up and run 'broadsheet upgrade'
    made before alembic            refused likewise; ``upgrade`` stamps it with the
      (meta.schema_version = 1)    revision holding the same tables (0001), no data moved
    at a revision unknown here     refused: a newer broadsheet wrote it; upgrade broadsheet
    tables, none of them ours      refused: not a broadsheet database

Only ``broadsheet upgrade`` changes an existing schema, so processes running
against a store (``serve``, ``schedule``) never see it change under them
unless someone upgrades without stopping them first. An upgrade runs in one
transaction (SQLite and PostgreSQL both have transactional DDL) under the
database's write lock, plus an advisory lock on PostgreSQL, so a failed step
leaves the store as it was and two upgrades never interleave.

A store under alembic keeps ``meta.schema_version = 2``: releases before
alembic read that as "newer than I understand" and refuse the store rather
than use tables they do not know.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection, inspect, select, text

from broadsheet.errors import StoreError
from broadsheet.store import schema

if TYPE_CHECKING:
    # alembic is imported where it is used: opening a store at this
    # release's revision (every command) needs none of it.
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

SCRIPTS = Path(__file__).resolve().parent
"""The alembic script directory shipped with this release (``versions/`` inside)."""

LEGACY_REVISIONS = MappingProxyType({1: "0001"})
"""``meta.schema_version`` of a store made before alembic -> the revision with its tables."""

FENCE = 2
"""``meta.schema_version`` of a store under alembic, above what older releases accept."""

_VERSION_KEY = "schema_version"
_VERSION_TABLE = "alembic_version"  # alembic's default name
_LOCK_KEY = 7243960431  # any constant; this one spells "broadsheet" in the low bits


@dataclass(frozen=True)
class Found:
    """The schema a database holds."""

    revisions: tuple[str, ...]
    """Its alembic revision (one, as broadsheet's history has no branches)."""
    legacy: int | None
    """``meta.schema_version``, for a store made before alembic."""
    tables: tuple[str, ...]
    """Every table in it."""

    @property
    def empty(self) -> bool:
        """Whether the database has no tables at all."""
        return not self.tables

    @property
    def label(self) -> str:
        """The revision as messages show it."""
        if self.revisions:
            return "+".join(self.revisions)
        if self.legacy is not None:
            return f"{self.legacy} (from an older broadsheet)"
        return "none"


@dataclass(frozen=True)
class Upgrade:
    """What ``upgrade`` did: the revision found (``None``: an empty database) and the one left."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        """Whether the store was changed."""
        return self.before != self.after


def scripts(location: Path | None = None) -> ScriptDirectory:
    """The script directory at ``location`` (default: this release's)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(location or SCRIPTS))


_REVISION = re.compile(r"""^revision(?:\s*:\s*str)?\s*=\s*["']([^"']+)["']\s*$""", re.M)
_DOWN_REVISION = re.compile(
    r"""^down_revision(?:\s*:[^=\n]*)?\s*=\s*(?:None|["']([^"']+)["'])\s*$""", re.M
)


def _plain_head(location: Path) -> str | None:
    """The head revision read from the revision files' text, without importing alembic.

    ``None`` when the files are not the plain kind (one ``revision`` and one
    ``down_revision`` string, a single line of history): alembic decides then.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        for path in (location / "versions").glob("*.py"):
            if path.name == "__init__.py":
                continue
            source = path.read_text(encoding="utf-8")
            revision, down = _REVISION.findall(source), _DOWN_REVISION.findall(source)
            if len(revision) != 1 or len(down) != 1:
                return None
            revisions.add(revision[0])
            if down[0]:
                parents.add(down[0])
    except (OSError, UnicodeError):
        return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def head(location: Path | None = None) -> str:
    """The revision this release writes."""
    plain = _plain_head(location or SCRIPTS)
    if plain is not None:
        return plain
    found = scripts(location).get_current_head()
    if found is None:  # a packaging bug: versions/ did not ship
        raise StoreError(f"no schema revisions in {location or SCRIPTS}/versions")
    return found


def found(conn: Connection) -> Found:
    """The schema the database on ``conn`` holds."""
    tables = tuple(sorted(inspect(conn).get_table_names()))
    revisions: tuple[str, ...] = ()
    if _VERSION_TABLE in tables:
        # Read here rather than through alembic, which logs its setup every time.
        revisions = tuple(
            sorted(conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars())
        )
    legacy = None
    if not revisions and schema.meta.name in tables:
        value = conn.execute(
            select(schema.meta.c.value).where(schema.meta.c.key == _VERSION_KEY)
        ).scalar_one_or_none()
        legacy = int(value) if value is not None and value.isdigit() else None
    return Found(revisions=revisions, legacy=legacy, tables=tables)


def lock(conn: Connection) -> None:
    """Serialise schema work between processes for the rest of the transaction.

    SQLite needs nothing more than the ``BEGIN IMMEDIATE`` its writers start with.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


Verdict = Literal["current", "empty", "older", "newer", "foreign"]


def verdict(seen: Found, *, location: Path | None = None) -> Verdict:
    """How a database holding ``seen`` stands against this release's schema."""
    if seen.revisions == (head(location),):
        return "current"
    if seen.empty:
        return "empty"
    if seen.revisions:
        known = {rev.revision for rev in scripts(location).walk_revisions()}
        return "older" if all(rev in known for rev in seen.revisions) else "newer"
    if seen.legacy is not None:
        return "older" if seen.legacy in LEGACY_REVISIONS else "newer"
    return "foreign"


def refusal(seen: Found, *, where: str, location: Path | None = None) -> StoreError | None:
    """Why a command must not use a store holding ``seen``, or ``None`` when it may."""
    stands = verdict(seen, location=location)
    if stands in ("current", "empty"):  # an empty one is created on first use
        return None
    current = head(location)
    if stands == "older":
        return StoreError(
            f"the store at {where} is at schema {seen.label}, this broadsheet needs "
            f"{current}: back it up and run 'broadsheet upgrade'"
        )
    if stands == "newer":
        return StoreError(
            f"the store at {where} is at schema {seen.label}, newer than this broadsheet "
            f"knows (its newest is {current}): upgrade broadsheet to the release that "
            "wrote it, or restore a backup made for this one"
        )
    return StoreError(
        f"the database at {where} holds tables that are not broadsheet's "
        f"({', '.join(seen.tables)}); point store.url at an empty or broadsheet database"
    )


def _fence(conn: Connection) -> None:
    table = schema.meta
    done = conn.execute(table.update().where(table.c.key == _VERSION_KEY).values(value=str(FENCE)))
    if done.rowcount == 0:
        conn.execute(table.insert().values(key=_VERSION_KEY, value=str(FENCE)))


def create(conn: Connection, *, location: Path | None = None) -> str:
    """Create the current schema in the empty database on ``conn``; returns its revision.

    The tables come from :mod:`~broadsheet.store.schema` in one go rather
    than by replaying every revision; a test checks both give the same.
    """
    from alembic.migration import MigrationContext

    schema.metadata.create_all(conn)
    MigrationContext.configure(conn).stamp(scripts(location), "head")
    _fence(conn)
    current = head(location)
    log.info("created a new store at schema %s", current)
    return current


def prepare(conn: Connection, *, where: str, location: Path | None = None) -> None:
    """Create the schema of an empty database; refuse one at another revision.

    ``conn`` must be inside a transaction that may write (``BEGIN
    IMMEDIATE`` on SQLite).

    Raises:
        StoreError: the store needs ``broadsheet upgrade``, a newer
            broadsheet, or is not a broadsheet database.
    """
    lock(conn)
    seen = found(conn)
    if seen.empty:
        create(conn, location=location)
        return
    problem = refusal(seen, where=where, location=location)
    if problem is not None:
        raise problem


def upgrade(conn: Connection, *, where: str, location: Path | None = None) -> Upgrade:
    """Bring the database on ``conn`` to this release's head, keeping its data.

    ``conn`` must be inside a transaction that may write; on SQLite its
    foreign keys must be off (a table rebuilt by a batch step is dropped,
    and dropping would cascade to the rows that refer to it).

    Raises:
        StoreError: the store is newer than this release or not broadsheet's.
    """
    from alembic import command
    from alembic.config import Config
    from alembic.migration import MigrationContext

    lock(conn)
    seen = found(conn)
    current = head(location)
    if seen.empty:
        return Upgrade(before=None, after=create(conn, location=location))
    stands = verdict(seen, location=location)
    if stands in ("newer", "foreign"):
        problem = refusal(seen, where=where, location=location)
        assert problem is not None
        raise problem
    if stands == "current":
        return Upgrade(before=seen.label, after=current)
    if not seen.revisions:
        assert seen.legacy is not None  # verdict() let only a known legacy version through
        MigrationContext.configure(conn).stamp(scripts(location), LEGACY_REVISIONS[seen.legacy])
        log.info("stamped the store's schema %s as %s", seen.label, LEGACY_REVISIONS[seen.legacy])
    config = Config()
    config.set_main_option("script_location", str(location or SCRIPTS))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
    _fence(conn)
    return Upgrade(before=seen.label, after=current)
