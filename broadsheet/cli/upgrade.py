"""``broadsheet upgrade``: bring the store to the schema this release needs."""

from __future__ import annotations

import click

from broadsheet.cli.common import config_option, handle_errors, load


@click.command()
@config_option
@handle_errors
def upgrade(config_path: str) -> None:
    """Apply the store's pending schema migrations (back it up first).

    Stop `serve`, `schedule` and any `send` using the store, back it up
    (docs/upgrading.md), run this, then start them again. Running it again
    does nothing.
    """
    from broadsheet.store import Store

    settings = load(config_path)
    store = Store.open(settings.store.url, migrate=False)
    try:
        done = store.upgrade()
    finally:
        store.close()
    if done.before is None:
        click.echo(f"created the store at {store.where} at schema {done.after}")
    elif done.changed:
        click.echo(f"upgraded the store at {store.where} from schema {done.before} to {done.after}")
    else:
        click.echo(f"the store at {store.where} is at schema {done.after} already: nothing to do")
