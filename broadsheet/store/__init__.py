"""The store: articles, views, subscribers, editions, the send ledger, job runs.

SQLite (the default, one file beside the config) and PostgreSQL (for scale
and for several senders on several machines) behind SQLAlchemy Core. Work is
done in transactions that hand out repositories bound to them::

    store = Store.open(settings.store.url)
    with store.write() as tx:
        tx.articles.save(article, now=now)
    with store.read() as tx:
        live = tx.articles.live(now)

The store knows nothing about XML, HTML or email. SQLAlchemy and alembic
are used here and nowhere else: other rooms get what they need from it (a
transaction, an advisory lock, a check of a store URL).

A store is opened at the schema this release writes; an empty database is
given it, any other is refused until ``broadsheet upgrade`` (:meth:`Store.upgrade`)
has brought it there (see :mod:`broadsheet.store.migrations`).
"""

from __future__ import annotations

import logging
import secrets as random_secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    InterfaceError,
    InternalError,
    NoSuchModuleError,
    OperationalError,
)

from broadsheet.errors import StoreError, StoreUnavailable
from broadsheet.store import migrations, schema
from broadsheet.store.locks import AdvisoryLock
from broadsheet.store.migrations import Upgrade
from broadsheet.store.urls import check_url, normalise_url

if TYPE_CHECKING:
    from broadsheet.store.articles import Articles
    from broadsheet.store.donations import Donations
    from broadsheet.store.editions import Editions
    from broadsheet.store.events import Events
    from broadsheet.store.inbound import Inbound
    from broadsheet.store.jobs import Jobs
    from broadsheet.store.ledger import Ledger
    from broadsheet.store.limits import Limits
    from broadsheet.store.links import Links
    from broadsheet.store.privacy import Privacy
    from broadsheet.store.sources import Sources
    from broadsheet.store.subscribers import Subscribers
    from broadsheet.store.suppressions import Suppressions
    from broadsheet.store.views import Views

log = logging.getLogger(__name__)

__all__ = ["AdvisoryLock", "Store", "Tx", "Upgrade", "check_url"]


class Tx:
    """One transaction, with a repository for each kind of record."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @cached_property
    def articles(self) -> Articles:
        from broadsheet.store.articles import Articles

        return Articles(self.conn)

    @cached_property
    def views(self) -> Views:
        from broadsheet.store.views import Views

        return Views(self.conn)

    @cached_property
    def subscribers(self) -> Subscribers:
        from broadsheet.store.subscribers import Subscribers

        return Subscribers(self.conn)

    @cached_property
    def editions(self) -> Editions:
        from broadsheet.store.editions import Editions

        return Editions(self.conn)

    @cached_property
    def ledger(self) -> Ledger:
        from broadsheet.store.ledger import Ledger

        return Ledger(self.conn)

    @cached_property
    def jobs(self) -> Jobs:
        from broadsheet.store.jobs import Jobs

        return Jobs(self.conn)

    @cached_property
    def limits(self) -> Limits:
        from broadsheet.store.limits import Limits

        return Limits(self.conn)

    @cached_property
    def sources(self) -> Sources:
        from broadsheet.store.sources import Sources

        return Sources(self.conn)

    @cached_property
    def events(self) -> Events:
        from broadsheet.store.events import Events

        return Events(self.conn)

    @cached_property
    def inbound(self) -> Inbound:
        from broadsheet.store.inbound import Inbound

        return Inbound(self.conn)

    @cached_property
    def suppressions(self) -> Suppressions:
        from broadsheet.store.suppressions import Suppressions

        return Suppressions(self.conn)

    @cached_property
    def privacy(self) -> Privacy:
        from broadsheet.store.privacy import Privacy

        return Privacy(self.conn)

    @cached_property
    def donations(self) -> Donations:
        from broadsheet.store.donations import Donations

        return Donations(self.conn)

    @cached_property
    def links(self) -> Links:
        from broadsheet.store.links import Links

        return Links(self.conn)

    def get_meta(self, key: str) -> str | None:
        """A value from the store's key-value table."""
        table = schema.meta
        return self.conn.execute(
            select(table.c.value).where(table.c.key == key)
        ).scalar_one_or_none()

    def set_meta(self, key: str, value: str) -> None:
        """Set a value in the store's key-value table."""
        table = schema.meta
        done = self.conn.execute(table.update().where(table.c.key == key).values(value=value))
        if done.rowcount == 0:
            self.conn.execute(table.insert().values(key=key, value=value))


def _sqlite_events(engine: Engine) -> None:
    """Let SQLAlchemy, not pysqlite, decide when transactions begin.

    pysqlite's own transaction handling defers BEGIN and cannot take the
    write lock up front; writers here use BEGIN IMMEDIATE so two processes
    never deadlock upgrading a read lock.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 60000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("broadsheet_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_FAILURES = (OperationalError, InterfaceError, InternalError)
"""The database's own failures (disk, files, server, connection), as opposed to a
statement broadsheet got wrong (ProgrammingError) or a constraint it relies on
(IntegrityError), which keep their type."""


def store_failure(where: str, detail: str, *, unavailable: bool, opening: bool) -> StoreError:
    """The one-line error for a failure of the store at ``where`` (its URL, no password).

    Args:
        where: the store's URL with any password hidden.
        detail: the database's own words (only their first line is kept).
        unavailable: the database cannot be reached or the connection was lost.
        opening: the failure came while connecting.
    """
    first = detail.strip().splitlines()[0].strip() if detail.strip() else "unknown error"
    lowered = first.lower()
    if "full" in lowered:
        hint = "free some disk space where it lives and run the command again"
    elif "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        hint = "make the database file and its folder writable, or use a writable copy"
    elif unavailable and opening:
        hint = "check that the database server is running and reachable, then try again"
    elif unavailable:
        hint = "what was done before is kept; run the command again once it is back"
    elif "unable to open" in lowered:
        hint = "check that store.url names a folder that exists and is writable"
    else:
        hint = "what was done before is kept; run the command again once this is fixed"
    if opening:
        text = f"cannot open the store {where}: {first}; {hint}"
    elif unavailable:
        text = f"lost the connection to the store {where}: {first}; {hint}"
    else:
        text = f"the store {where} failed: {first}; {hint}"
    return StoreUnavailable(text) if unavailable else StoreError(text)


def _store_failures(engine: Engine, where: str) -> None:
    """Raise the database's failures as :class:`StoreError` at the store's boundary.

    Every connection and statement of the engine goes through this hook, the
    ledger's long-lived sessions and the scheduler's lock connections too, so
    a full disk, a read-only file or a server gone mid-send reaches the
    commands and the web app as one error with a message for the operator
    (:class:`StoreUnavailable` when trying again later may succeed).
    SQLAlchemy still invalidates a lost connection before the error is raised.
    """
    server = engine.dialect.name != "sqlite"

    @event.listens_for(engine, "handle_error")
    def _handle(context: ExceptionContext) -> None:
        if context.is_pre_ping:  # the pool handles a dead pooled connection itself
            return
        failure = context.sqlalchemy_exception
        is_plain_database_error = type(failure) is DatabaseError  # e.g. "file is not a database"
        if not (isinstance(failure, _FAILURES) or is_plain_database_error):
            return
        # A connection invalidated by an earlier loss is being made again.
        opening = context.connection is None or context.connection.invalidated
        # A server that refuses work (shutting down, too many connections, its
        # disk full) may take it again later; a SQLite file's failures stay.
        refused = server and isinstance(failure, (OperationalError, InterfaceError))
        unavailable = context.is_disconnect or refused
        raise store_failure(
            where, str(context.original_exception), unavailable=unavailable, opening=opening
        ) from context.original_exception


def _foreign_keys(conn: Connection, *, on: bool) -> None:
    """Turn SQLite's foreign keys on or off, outside any transaction (else a no-op)."""
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None  # a connection just checked out of the pool
    dbapi.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


class Store:
    """A connection pool to one database at the current schema."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def where(self) -> str:
        """The store as messages name it: the SQLite file, or the URL without password."""
        url = self.engine.url
        if self.dialect == "sqlite" and url.database:
            return url.database
        return url.render_as_string(hide_password=True)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Connect to ``url``, creating the schema in an empty database.

        Args:
            url: the database URL (``store.url``).
            migrate: create the schema of an empty database and refuse one at
                another revision; ``False`` skips both (for ``broadsheet
                upgrade``, and for worker processes whose parent checked).

        Raises:
            StoreError: when the database cannot be reached, is not
                broadsheet's, or is at a schema other than this release's
                (older: the message says to run ``broadsheet upgrade``).
        """
        try:
            full = normalise_url(url)
            kwargs: dict[str, Any] = {}
            if not full.startswith("sqlite"):
                kwargs["pool_pre_ping"] = True
            # SQLite keeps its default pool: a connection kept open spares
            # every transaction the checkpoint and fsync SQLite does in WAL
            # mode when the last connection to a database closes.
            engine = create_engine(full, **kwargs)
        except (ArgumentError, NoSuchModuleError) as exc:
            raise StoreError(f"store.url {url!r}: {exc}") from None
        except ModuleNotFoundError as exc:
            raise StoreError(
                f"store.url {url!r} needs the {exc.name} package: "
                "pip install 'broadsheet[postgresql]'"
            ) from None
        if engine.dialect.name == "sqlite":
            _sqlite_events(engine)
        _store_failures(engine, make_url(url).render_as_string(hide_password=True))
        store = cls(engine)
        if migrate:
            try:
                store.prepare()
            except BaseException:
                store.close()
                raise
        return store

    def prepare(self, *, location: Path | None = None) -> None:
        """Create the schema of an empty database; refuse one at another revision.

        The common case, a store already at this release's schema, costs
        one read transaction. ``location`` (another script directory) is for tests.
        """
        with self._reaching():
            with self.read() as tx:
                seen = migrations.found(tx.conn)
            if not seen.empty:
                problem = migrations.refusal(seen, where=self.where, location=location)
                if problem is not None:
                    raise problem
                return
            with self.write() as tx:  # looked again under the lock: another may have created it
                migrations.prepare(tx.conn, where=self.where, location=location)

    def revision(self) -> str:
        """The schema revision the store is at, as messages show it."""
        with self._reaching(), self.read() as tx:
            return migrations.found(tx.conn).label

    def upgrade(self, *, location: Path | None = None) -> Upgrade:
        """Apply every pending migration in one transaction; a no-op when none is.

        Stop every process using the store and back it up first
        (docs/upgrading.md). On SQLite foreign keys are off while it runs, so
        a table rebuilt by a batch step keeps the rows that refer to it; they
        are checked before committing. ``location`` is for tests.

        Raises:
            StoreError: when the store cannot be reached, is newer than this
                release, is not broadsheet's, or a step fails (nothing is kept).
        """
        with self._reaching(), self.engine.connect() as plain:
            sqlite = self.dialect == "sqlite"
            if sqlite:  # outside any transaction, where SQLite honours it
                _foreign_keys(plain, on=False)
            try:
                conn = plain.execution_options(broadsheet_write=True)
                with conn.begin():
                    done = migrations.upgrade(conn, where=self.where, location=location)
                    if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                        raise StoreError(
                            f"upgrading the store at {self.where} would leave rows pointing "
                            "at rows that are gone; nothing was changed"
                        )
            finally:
                if sqlite:
                    _foreign_keys(plain, on=True)
        return done

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        """Database errors while looking at the schema, as one clear StoreError."""
        try:
            yield
        except DatabaseError as exc:  # unreachable, or a file that is no database
            where = self.engine.url.render_as_string(hide_password=True)
            raise StoreError(f"cannot open the store {where}: {exc.orig}") from None

    def advisory_lock(self, key: tuple[int, int]) -> AdvisoryLock:
        """A PostgreSQL advisory lock on ``key``, not yet taken (see :mod:`.locks`).

        Raises:
            StoreError: on SQLite, which has no advisory locks.
        """
        if self.dialect != "postgresql":
            raise StoreError(f"the store at {self.where} has no advisory locks (SQLite)")
        return AdvisoryLock(self.engine, key)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A transaction that may write; committed on success, rolled back on error."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(broadsheet_write=True)
            with conn.begin():
                yield Tx(conn)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A transaction for reading (it may still write, but takes no lock up front)."""
        with self.engine.connect() as conn, conn.begin():
            yield Tx(conn)

    def check(self) -> None:
        """Read one row of the store, to tell whether it works (``/health``).

        Raises:
            StoreError: the store cannot be read (StoreUnavailable when
                it cannot be reached).
        """
        with self.read() as tx:
            tx.conn.execute(select(schema.meta.c.key).limit(1)).all()

    def link_secret(self, from_env: str | None, *, env_name: str) -> str:
        """The link-signing secret: ``from_env`` when given, else one kept in the store.

        A generated secret is created once and reused, so links in messages
        already sent stay valid; a warning says how to set one explicitly.
        """
        if from_env:
            return from_env
        with self.write() as tx:
            kept = tx.get_meta("link_secret")
            if kept is None:
                kept = random_secrets.token_urlsafe(32)
                tx.set_meta("link_secret", kept)
                log.warning(
                    "%s is not set: generated a link-signing secret and kept it in the store",
                    env_name,
                )
        return kept

    def checkpoint(self) -> None:
        """On SQLite, copy the write-ahead log into the database file and empty it.

        Run after an erasure (``subscribers forget``), so that no older copy
        of a page that held the erased rows stays behind in the log. Readers
        in other processes may keep part of the log for now; the next
        checkpoint takes it. Nothing to do on PostgreSQL.
        """
        if self.dialect != "sqlite":
            return
        with self.engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            assert dbapi is not None  # a connection just checked out of the pool
            dbapi.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
