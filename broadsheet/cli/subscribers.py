"""``broadsheet subscribers import|add|remove|list``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
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
from broadsheet.cli.core import report_problems


@click.group()
def subscribers() -> None:
    """Newsletter subscribers."""


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@config_option
@at_option
@handle_errors
def import_(file: str, config_path: str, at: str | None) -> None:
    """Import subscribers from a CSV file (email,name,language,frequency,topics)."""
    from broadsheet.content.subscribers import import_subscribers

    settings = load(config_path)
    report = import_subscribers(
        open_store(settings), settings, Path(file), now=now_or(at, settings), source=file
    )
    report_problems(report.rejected)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for email in report.skipped:
        click.echo(f"skipped: {email} unsubscribed or bounced earlier; not reactivated", err=True)
    click.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.skipped)} skipped, "
        f"{len(report.rejected)} rejected"
    )
    sys.exit(0 if report.ok else 1)


@subscribers.command("add")
@click.argument("emails", nargs=-1, required=True)
@click.option("--name", default=None, help="Display name (for a single address).")
@click.option(
    "--language",
    default=None,
    help="Edition language; for a new subscriber default the site's first.",
)
@click.option(
    "--frequency",
    type=click.Choice(["daily", "weekly"]),
    default=None,
    help="For a new subscriber default weekly.",
)
@click.option(
    "--topics", default=None, help="Sections, ';'-separated; '' for everything (the default)."
)
@config_option
@at_option
@handle_errors
def add(
    emails: tuple[str, ...],
    name: str | None,
    language: str | None,
    frequency: str | None,
    topics: str | None,
    config_path: str,
    at: str | None,
) -> None:
    """Add active subscribers (the publisher vouches for their consent).

    An address already subscribed keeps what no option changes.
    """
    from broadsheet.content.subscribers import FieldProblem, SectionNames, check_subscriber

    settings = load(config_path)
    now = now_or(at, settings)
    store = open_store(settings)
    sections = SectionNames.of(store, settings)
    given = {"name": name, "language": language, "frequency": frequency, "topics": topics}
    keep = frozenset(field for field, value in given.items() if value is None)
    failed = False
    for email in emails:
        try:
            row = check_subscriber(
                settings,
                email=email,
                name=name or "",
                language=language or "",
                frequency=frequency or "",
                topics=topics or "",
                sections=sections,
            )
        except FieldProblem as exc:
            click.echo(f"error: {email}: {exc.field}: {exc.reason}", err=True)
            failed = True
            continue
        with store.write() as tx:
            outcome = tx.subscribers.upsert_active(row, source="cli", now=now, keep=keep)
        if outcome == "skipped":
            click.echo(f"skipped: {row.email} unsubscribed or bounced earlier", err=True)
        else:
            click.echo(f"{outcome}: {row.email}")
    sys.exit(1 if failed else 0)


@subscribers.command("remove")
@click.argument("email")
@config_option
@at_option
@handle_errors
def remove(email: str, config_path: str, at: str | None) -> None:
    """Unsubscribe EMAIL (kept as unsubscribed, so no import brings it back)."""
    from broadsheet.content.subscribers import normalise_email
    from broadsheet.model import SubscriberStatus

    settings = load(config_path)
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    store = open_store(settings)
    with store.write() as tx:
        found = tx.subscribers.by_email(address)
        if found is None:
            click.echo(f"error: no subscriber {address}", err=True)
            sys.exit(1)
        changed = tx.subscribers.set_status(
            found.id, SubscriberStatus.UNSUBSCRIBED, now=now_or(at, settings), reason="cli"
        )
    click.echo(f"unsubscribed: {address}" if changed else f"{address} was already {found.status}")


@subscribers.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "active", "unsubscribed", "bounced"]),
    default=None,
    help="Only subscribers in this state.",
)
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@config_option
@handle_errors
def list_(status: str | None, as_csv: bool, config_path: str) -> None:
    """List subscribers."""
    from broadsheet.model import SubscriberStatus

    settings = load(config_path)
    with open_store(settings).read() as tx:
        rows = tx.subscribers.listing(status=SubscriberStatus(status) if status else None)
    if as_csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["email", "name", "language", "frequency", "topics", "status"])
        for s in rows:
            writer.writerow(
                [s.email, s.name, s.language, s.frequency, ";".join(s.topics), s.status]
            )
        return
    cells = [
        (s.email, s.name, s.language, str(s.frequency), ";".join(s.topics), str(s.status))
        for s in rows
    ]
    out = console()
    table = subscriber_table(cells, out.width)
    if table is None:
        # Too narrow for a table: one plain line per subscriber, never cut.
        for row in cells:
            click.echo("  ".join(cell for cell in row if cell))
    else:
        out.print(table)
    click.echo(f"{len(rows)} subscribers")


_COLUMNS = ("email", "name", "language", "frequency", "topics", "status")


def subscriber_table(cells: Sequence[tuple[str, ...]], width: int) -> Any | None:
    """The rich table of ``subscribers list`` (rows of :data:`_COLUMNS`), if it fits ``width``.

    Returns ``None`` when the table, each address whole on one line, would
    be wider than ``width``: rich would cut the addresses ("…"), so the
    caller prints plain lines instead.
    """
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
