"""Schema revisions: created once, upgraded only by ``upgrade``, never downgraded.

On both backends: a new store is at the head revision and equals
``schema.py``; replaying the revisions gives the same tables; the baseline
revision is the previous release's schema; a store of that release is
refused until upgraded, then keeps every row; a pending revision is applied
in place (on SQLite a rebuilt table keeps the rows referring to it); a
store newer than the code is refused; upgrading twice changes nothing.
"""

from __future__ import annotations

import re
import shutil
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, Table, create_engine, inspect, text

from broadsheet.errors import StoreError
from broadsheet.store import Store, migrations, schema
from tests.store import previous_release

OLDER = "back it up and run 'broadsheet upgrade'"


def _rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the previous release, in a stable order.

    Not ``meta.schema_version``, which an upgrade raises on purpose.
    """
    with store.read() as tx:
        return {
            table.name: sorted(
                (
                    tuple(row)
                    for row in tx.conn.execute(table.select())
                    if tuple(row)[0] != "schema_version"
                ),
                key=repr,
            )
            for table in previous_release.metadata.sorted_tables
        }


def _engine(url: str) -> Any:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def test_a_new_store_is_at_the_head_and_matches_the_schema(any_store: Store) -> None:
    with any_store.read() as tx:
        seen = migrations.found(tx.conn)
        diff = compare_metadata(MigrationContext.configure(tx.conn), schema.metadata)
        fence = tx.get_meta("schema_version")
    assert seen.revisions == (migrations.head(),)
    assert diff == []
    # Releases from before alembic read this as "newer than I understand" and stop.
    assert fence == str(migrations.FENCE)
    assert any_store.revision() == migrations.head()


def test_replaying_every_revision_builds_the_schema(any_store_url: str) -> None:
    engine = _engine(any_store_url)
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(migrations.SCRIPTS))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_the_baseline_is_the_previous_release_schema(any_store_url: str) -> None:
    engine = _engine(any_store_url)
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(migrations.SCRIPTS))
            config.attributes["connection"] = conn
            command.upgrade(config, migrations.LEGACY_REVISIONS[1])
            diff = compare_metadata(MigrationContext.configure(conn), previous_release.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_revisions_are_one_numbered_line() -> None:
    """``--rev-id`` was given: 0001, 0002, ... each revising the one before, in v<rev>_*.py."""
    script = migrations.scripts()
    chain = list(reversed(list(script.walk_revisions())))
    assert [rev.revision for rev in chain] == [f"{n:04d}" for n in range(1, len(chain) + 1)]
    assert [rev.down_revision for rev in chain] == [None, *[rev.revision for rev in chain[:-1]]]
    for rev in chain:
        assert re.fullmatch(rf"v{rev.revision}_\w+\.py", Path(rev.path).name), rev.path


def test_a_previous_release_store_is_refused_then_upgraded_with_its_data(
    any_store_url: str, open_store: Callable[[str], Store]
) -> None:
    previous_release.create_store(any_store_url)
    previous_release.fill(any_store_url)
    with pytest.raises(StoreError, match=re.escape(OLDER)) as refused:
        Store.open(any_store_url)
    assert "is at schema 1 " in str(refused.value)
    assert f"needs {migrations.head()}" in str(refused.value)

    store = Store.open(any_store_url, migrate=False)
    try:
        before = _rows(store)
        done = store.upgrade()
        assert done.before is not None and done.before.startswith("1 ")
        assert done.after == migrations.head()
        assert _rows(store) == before
    finally:
        store.close()

    upgraded = open_store(any_store_url)
    with upgraded.read() as tx:
        assert tx.articles.count() == 2
        assert tx.views.totals(date(2026, 11, 1), date(2026, 11, 30)) == {"kept": 200}
        assert tx.articles.get("kept") is not None
        assert tx.get_meta("link_secret") == "kept-secret"
        assert sum(tx.ledger.counts("weekly-en-2026-11-23").values()) == 1
        diff = compare_metadata(MigrationContext.configure(tx.conn), schema.metadata)
    assert diff == []
    # Again: nothing to do, nothing changed.
    again = upgraded.upgrade()
    assert (again.before, again.after, again.changed) == (
        migrations.head(),
        migrations.head(),
        False,
    )
    assert _rows(upgraded) == before


NEXT_REVISION = '''\
"""A test revision: articles get a subtitle; the table is rebuilt on SQLite."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "{next}"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", recreate="{recreate}") as batch:
        batch.add_column(sa.Column("subtitle", sa.String(50), nullable=True))


def downgrade() -> None:
    raise NotImplementedError
'''


def _with_next_revision(tmp_path: Path, *, dialect: str) -> tuple[Path, str]:
    """A copy of the shipped script directory with one more revision on top."""
    location = tmp_path / "migrations"
    shutil.copytree(migrations.SCRIPTS, location, ignore=shutil.ignore_patterns("__pycache__"))
    head = migrations.head()
    following = f"{int(head) + 1:04d}"
    # SQLite rebuilds the table (and so drops the old one, which would cascade
    # to article_views and send_ledger if foreign keys were on).
    recreate = "always" if dialect == "sqlite" else "auto"
    (location / "versions" / f"v{following}_subtitle.py").write_text(
        textwrap.dedent(NEXT_REVISION).format(next=following, head=head, recreate=recreate),
        encoding="utf-8",
    )
    return location, following


def test_a_pending_revision_is_refused_then_applied_keeping_data(
    any_store_url: str, tmp_path: Path
) -> None:
    previous_release.create_store(any_store_url)
    previous_release.fill(any_store_url)
    store = Store.open(any_store_url, migrate=False)
    try:
        store.upgrade()
        before = _rows(store)
        location, following = _with_next_revision(tmp_path, dialect=store.dialect)
        with pytest.raises(StoreError, match=re.escape(OLDER)) as refused:
            store.prepare(location=location)
        assert f"is at schema {migrations.head()}, this broadsheet needs {following}" in str(
            refused.value
        )

        done = store.upgrade(location=location)
        assert (done.before, done.after) == (migrations.head(), following)
        store.prepare(location=location)  # now current
        assert _rows(store) == before  # article_views and send_ledger kept their rows
        with store.read() as tx:
            assert tx.conn.execute(text("SELECT id, subtitle FROM articles ORDER BY id")).all() == [
                ("also-kept", None),
                ("kept", None),
            ]
            fk = (
                tx.conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
                if store.dialect == "sqlite"
                else 1
            )
        assert fk == 1  # turned back on for the pooled connection
        assert not store.upgrade(location=location).changed
        # The code without the new revision does not know the store any more.
        with pytest.raises(StoreError, match="newer than this broadsheet knows"):
            store.prepare()
    finally:
        store.close()


def test_a_failed_step_leaves_the_store_as_it_was(any_store_url: str, tmp_path: Path) -> None:
    previous_release.create_store(any_store_url)
    previous_release.fill(any_store_url)
    store = Store.open(any_store_url, migrate=False)
    try:
        store.upgrade()
        before = _rows(store)
        location, following = _with_next_revision(tmp_path, dialect=store.dialect)
        path = next((location / "versions").glob(f"v{following}_*.py"))
        path.write_text(
            path.read_text(encoding="utf-8").replace(
                "nullable=True))", "nullable=True))\n    op.execute('SELECT * FROM no_such_table')"
            ),
            encoding="utf-8",
        )
        with pytest.raises(Exception, match="no_such_table"):
            store.upgrade(location=location)
        assert store.revision() == migrations.head()
        assert _rows(store) == before
        with store.read() as tx:
            columns = [c["name"] for c in inspect(tx.conn).get_columns("articles")]
        assert "subtitle" not in columns
    finally:
        store.close()


def test_a_newer_store_is_refused(any_store_url: str, any_store: Store) -> None:
    with any_store.write() as tx:
        tx.conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="newer than this broadsheet knows") as refused:
        Store.open(any_store_url)
    assert "is at schema 9999" in str(refused.value)
    assert "upgrade broadsheet" in str(refused.value)
    with pytest.raises(StoreError, match="newer than this broadsheet knows"):
        any_store.upgrade()


def test_a_foreign_database_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/other.db"
    engine = create_engine(url)
    Table("invoices", MetaData(), Column("id", String(5), primary_key=True)).create(engine)
    engine.dispose()
    with pytest.raises(StoreError, match="not broadsheet's"):
        Store.open(url)
    store = Store.open(url, migrate=False)
    try:
        with pytest.raises(StoreError, match="not broadsheet's"):
            store.upgrade()
    finally:
        store.close()


def test_upgrading_an_empty_database_creates_the_store(any_store_url: str) -> None:
    store = Store.open(any_store_url, migrate=False)
    try:
        done = store.upgrade()
        assert (done.before, done.after) == (None, migrations.head())
        store.prepare()
    finally:
        store.close()


def test_an_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot open the store"):
        Store.open("postgresql://nobody@127.0.0.1:9/none?connect_timeout=1")


def test_two_upgrades_at_once_do_not_interleave(any_store_url: str) -> None:
    """Each waits for the other's lock: one upgrades, the other finds nothing to do."""
    previous_release.create_store(any_store_url)
    previous_release.fill(any_store_url)
    stores = [Store.open(any_store_url, migrate=False) for _ in range(2)]
    start = threading.Barrier(2)

    def upgrade(store: Store) -> migrations.Upgrade:
        start.wait()
        return store.upgrade()

    try:
        with ThreadPoolExecutor(2) as pool:
            done = sorted(pool.map(upgrade, stores), key=lambda d: not d.changed)
        assert [d.changed for d in done] == [True, False]
        assert done[1].before == migrations.head()
        assert _rows(stores[0])["articles"]
    finally:
        for store in stores:
            store.close()


def test_several_openers_of_an_empty_store_create_it_once(any_store_url: str) -> None:
    start = threading.Barrier(4)

    def open_(_: int) -> str:
        start.wait()
        store = Store.open(any_store_url)
        try:
            return store.revision()
        finally:
            store.close()

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(open_, range(4))) == [migrations.head()] * 4
