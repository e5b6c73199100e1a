"""The store: articles, views, subscribers, editions, the send ledger, job runs.

SQLite (the default, one file beside the config) and PostgreSQL (for scale
and for several senders on several machines) behind SQLAlchemy Core. Work is
done in transactions that hand out repositories bound to them::

    store = Store.open(settings.store.url)
    with store.write() as tx:
        tx.articles.save(article, now=now)
    with store.read() as tx:
        live = tx.articles.live(now)

The store knows nothing about XML, HTML or email.
"""

from __future__ import annotations

import logging
import secrets as random_secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError

from broadsheet.errors import StoreError
from broadsheet.store import migrations, schema

if TYPE_CHECKING:
    from broadsheet.store.articles import Articles
    from broadsheet.store.editions import Editions
    from broadsheet.store.jobs import Jobs
    from broadsheet.store.ledger import Ledger
    from broadsheet.store.subscribers import Subscribers
    from broadsheet.store.views import Views

log = logging.getLogger(__name__)

__all__ = ["Store", "Tx"]


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


def _normalise_url(url: str) -> str:
    """The SQLAlchemy URL with the drivers broadsheet ships with."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        # SQLAlchemy's default PostgreSQL driver is psycopg2; ours is psycopg 3.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


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


class Store:
    """A connection pool to one database, migrated to the current schema."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Connect to ``url`` and bring its schema up to date.

        Raises:
            StoreError: when the database cannot be reached or is too new.
        """
        try:
            full = _normalise_url(url)
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
        store = cls(engine)
        if migrate:
            try:
                store.migrate()
            except BaseException:
                store.close()
                raise
        return store

    def migrate(self) -> int:
        """Create or upgrade the schema; returns the version found before."""
        try:
            with self.write() as tx:
                return migrations.migrate(tx.conn)
        except DatabaseError as exc:  # unreachable, or a file that is no database
            where = self.engine.url.render_as_string(hide_password=True)
            raise StoreError(f"cannot open the store {where}: {exc.orig}") from None

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

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
