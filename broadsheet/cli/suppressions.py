"""``broadsheet suppressions import|add|remove|list``: addresses and domains never mailed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from broadsheet.cli.common import (
    at_option,
    config_option,
    console,
    handle_errors,
    load,
    now_or,
    open_store,
)

_COLUMNS = ("pattern", "reason", "source", "added")


@click.group()
def suppressions() -> None:
    """Addresses and whole domains (@domain) never subscribed, imported or sent to."""


def _patterns(values: tuple[str, ...]) -> tuple[list[str], bool]:
    """The normalised patterns of ``values``, and whether any was refused (said on stderr)."""
    from broadsheet.content.suppressions import normalise_pattern

    patterns: list[str] = []
    failed = False
    for value in values:
        try:
            patterns.append(normalise_pattern(value))
        except ValueError as exc:
            click.echo(f"error: {value}: {exc}", err=True)
            failed = True
    return list(dict.fromkeys(patterns)), failed


@suppressions.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@config_option
@at_option
@handle_errors
def import_(file: str, config_path: str, at: str | None) -> None:
    """Add the entries of a CSV file (column email or address; optional reason).

    An entry is an address (reader@mail.example) or a whole domain
    (@mail.example). Bad rows are named by file, line and column; the
    others are added.
    """
    from broadsheet.cli.core import report_problems
    from broadsheet.content.suppressions import import_suppressions

    settings = load(config_path)
    report = import_suppressions(
        open_store(settings), Path(file), now=now_or(at, settings), source=file
    )
    report_problems(report.rejected)
    click.echo(
        f"{len(report.added)} added, {len(report.unchanged)} already listed, "
        f"{len(report.rejected)} rejected"
    )
    sys.exit(0 if report.ok else 1)


@suppressions.command("add")
@click.argument("patterns", nargs=-1, required=True, metavar="ADDRESS|@DOMAIN…")
@click.option("--reason", default="manual", show_default=True, help="Why (kept with the entry).")
@config_option
@at_option
@handle_errors
def add(patterns: tuple[str, ...], reason: str, config_path: str, at: str | None) -> None:
    """Suppress addresses or whole domains (@mail.example)."""
    from broadsheet.content.suppressions import check_reason, record_change

    settings = load(config_path)
    try:
        reason = check_reason(reason) or "manual"
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--reason") from None
    wanted, failed = _patterns(patterns)
    now = now_or(at, settings)
    with open_store(settings).write() as tx:
        added = [p for p in wanted if tx.suppressions.add(p, reason, "command", now)]
        record_change(tx, added, suppressed=True, source="command", now=now)
    for pattern in wanted:
        click.echo(f"{'added' if pattern in added else 'already listed'}: {pattern}")
    sys.exit(1 if failed else 0)


@suppressions.command("remove")
@click.argument("patterns", nargs=-1, required=True, metavar="ADDRESS|@DOMAIN…")
@config_option
@at_option
@handle_errors
def remove(patterns: tuple[str, ...], config_path: str, at: str | None) -> None:
    """Take addresses or domains off the list.

    An address forgotten by `subscribers forget` may be added again after
    this, when its owner asks to come back.
    """
    from broadsheet.content.privacy import unforget
    from broadsheet.content.suppressions import record_change

    settings = load(config_path)
    wanted, failed = _patterns(patterns)
    now = now_or(at, settings)
    store = open_store(settings)
    with store.write() as tx:
        removed = [p for p in wanted if tx.suppressions.remove(p)]
        record_change(tx, removed, suppressed=False, source="command", now=now)
    missing = False
    for pattern in wanted:
        was_forgotten = not pattern.startswith("@") and unforget(store, settings, pattern)
        if was_forgotten:
            click.echo(f"no longer forgotten: {pattern} may be added again")
        if pattern in removed:
            click.echo(f"removed: {pattern}")
        elif not was_forgotten:
            click.echo(f"error: {pattern} is not on the suppression list", err=True)
            missing = True
    sys.exit(1 if failed or missing else 0)


@suppressions.command("list")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@config_option
@handle_errors
def list_(as_csv: bool, config_path: str) -> None:
    """List the suppressed domains, then addresses."""
    settings = load(config_path)
    with open_store(settings).read() as tx:
        entries = tx.suppressions.listing()
    tz = settings.site.tz
    cells = [
        (e.pattern, e.reason, e.source, e.added.astimezone(tz).isoformat(timespec="seconds"))
        for e in entries
    ]
    if as_csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(_COLUMNS)
        writer.writerows(cells)
        return
    out = console()
    table = _table(cells, out.width)
    if table is None:
        for row in cells:
            click.echo("  ".join(row))
    else:
        out.print(table)
    click.echo(f"{len(entries)} suppressed")


def _table(cells: list[tuple[str, str, str, str]], width: int) -> Any | None:
    """The rich table of ``suppressions list``, or ``None`` when it would cut an entry."""
    from rich.table import Table

    needed = 1 + sum(
        3 + max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(_COLUMNS)
    )
    if needed > width:
        return None
    table = Table()
    for name in _COLUMNS:
        table.add_column(name, no_wrap=True)
    for row in cells:
        table.add_row(*row)
    return table
