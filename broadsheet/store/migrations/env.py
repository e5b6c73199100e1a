"""Alembic's environment for the store's migrations.

broadsheet runs it itself (``broadsheet upgrade``), handing over a
connection already inside a locked transaction in ``config.attributes``.
A developer runs it through the ``alembic`` command from the checkout
(``pyproject.toml`` holds ``[tool.alembic]``), naming a database with
``-x url=...``; see docs/upgrading.md.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, create_engine

from broadsheet.store import schema
from broadsheet.store.urls import normalise_url


def _render_item(kind: str, obj: Any, _autogen: AutogenContext) -> str | Literal[False]:
    """Write the store's own column types as plain SQLAlchemy ones.

    A migration is frozen when written; it must not change when
    ``schema.py`` does, so it never imports it.
    """
    if kind == "type" and isinstance(obj, schema.UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(conn: Connection) -> None:
    context.configure(
        connection=conn,
        target_metadata=schema.metadata,
        # SQLite alters most things by copying the table: batch mode does so.
        render_as_batch=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Run the migrations on the given connection, or on ``-x url=...``."""
    given = context.config.attributes.get("connection")
    if isinstance(given, Connection):
        _run(given)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("name the database: alembic -x url=sqlite:///dev.db ...")
    if context.is_offline_mode():
        context.configure(
            url=normalise_url(url), target_metadata=schema.metadata, literal_binds=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


main()
