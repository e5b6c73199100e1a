"""Schema versions: created once, upgraded in place without losing data, never downgraded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, MetaData, String, Table, create_engine, text

from broadsheet.errors import StoreError
from broadsheet.store import Store, migrations, schema
from tests.conftest import make_article

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def test_a_new_store_matches_the_schema_and_is_stamped(any_store: Store) -> None:
    store = any_store
    with store.read() as tx:
        assert migrations.recorded_version(tx.conn) == migrations.CURRENT
        diff = compare_metadata(MigrationContext.configure(tx.conn), schema.metadata)
    assert diff == []
    # Opening again finds the current version and changes nothing.
    assert store.migrate() == migrations.CURRENT


def test_an_upgrade_keeps_existing_data(any_store: Store) -> None:
    store = any_store
    with store.write() as tx:
        tx.articles.save(make_article(id="kept"), now=NOW)

    def add_column(op: Operations) -> None:
        with op.batch_alter_table("articles") as batch:
            batch.add_column(Column("subtitle", String(50), nullable=True))

    with store.write() as tx:
        found = migrations.migrate(
            tx.conn, steps={migrations.CURRENT + 1: add_column}, current=migrations.CURRENT + 1
        )
    assert found == migrations.CURRENT
    with store.read() as tx:
        assert migrations.recorded_version(tx.conn) == migrations.CURRENT + 1
        assert tx.conn.execute(text("SELECT id, subtitle FROM articles")).all() == [("kept", None)]


def test_a_newer_database_is_refused(any_store_url: str, any_store: Store) -> None:
    with any_store.write() as tx:
        tx.set_meta("schema_version", str(migrations.CURRENT + 5))
    with pytest.raises(StoreError, match="newer than this release"):
        Store.open(any_store_url)


def test_a_foreign_database_is_refused(tmp_path: pytest.TempPathFactory) -> None:
    url = f"sqlite:///{tmp_path}/other.db"
    engine = create_engine(url)
    MetaData().create_all(engine)
    Table("invoices", MetaData(), Column("id", String(5), primary_key=True)).create(engine)
    engine.dispose()
    with pytest.raises(StoreError, match="not broadsheet's"):
        Store.open(url)


def test_an_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot open the store"):
        Store.open("postgresql://nobody@127.0.0.1:9/none?connect_timeout=1")
