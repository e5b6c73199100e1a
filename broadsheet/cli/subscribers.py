"""``broadsheet subscribers import|add|remove|list|show``.

One row of the store is one subscription (an address and one newsletter,
language × frequency); an address may hold several.
"""

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
    """Import subscribers from a CSV file (email,name,language,frequency,topics[,timezone]).

    One row per subscription: the same address on several rows takes several
    newsletters.
    """
    from broadsheet.content.subscribers import import_subscribers

    settings = load(config_path)
    report = import_subscribers(
        open_store(settings), settings, Path(file), now=now_or(at, settings), source=file
    )
    report_problems(report.rejected)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for email in report.skipped:
        click.echo(
            f"skipped: a subscription of {email} unsubscribed or bounced earlier; not reactivated",
            err=True,
        )
    for line in report.refused:
        click.echo(f"refused: {line}", err=True)
    click.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.skipped)} skipped, "
        f"{len(report.refused)} refused, {len(report.rejected)} rejected"
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
@click.option("--timezone", default=None, help="The reader's IANA time zone (Europe/Berlin).")
@config_option
@at_option
@handle_errors
def add(
    emails: tuple[str, ...],
    name: str | None,
    language: str | None,
    frequency: str | None,
    topics: str | None,
    timezone: str | None,
    config_path: str,
    at: str | None,
) -> None:
    """Add active subscriptions (the publisher vouches for their consent).

    Each address is subscribed to the newsletter --language and --frequency
    name; one already held keeps what no option changes. Without
    --language or --frequency, the address's subscriptions that match the
    rest are updated (or one is added when it holds none).
    """
    from broadsheet.content.subscribers import (
        FieldProblem,
        SectionNames,
        check_subscriber,
        check_timezone,
        newsletter_label,
        upsert_vouched,
    )
    from broadsheet.content.suppressions import Screen
    from broadsheet.model import EventKind

    settings = load(config_path)
    now = now_or(at, settings)
    store = open_store(settings)
    sections = SectionNames.of(store, settings)
    screen = Screen.of(store, settings)
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
            zone = check_timezone(timezone or "")
        except FieldProblem as exc:
            click.echo(f"error: {email}: {exc.field}: {exc.reason}", err=True)
            failed = True
            continue
        with store.write() as tx:
            why = screen.refusals(tx, [row.email]).get(row.email)
            if why is not None:
                click.echo(f"refused: {row.email}: {why}", err=True)
                failed = True
                continue
            done = upsert_vouched(
                tx,
                row,
                lacking=keep,
                source="cli",
                now=now,
                timezone=zone,
                event=EventKind.ADDED,
            )
        for outcome, subscription in done:
            if outcome == "skipped":
                click.echo(
                    f"skipped: {newsletter_label(subscription)} unsubscribed or bounced earlier",
                    err=True,
                )
            else:
                click.echo(f"{outcome}: {newsletter_label(subscription)}")
    sys.exit(1 if failed else 0)


@subscribers.command("remove")
@click.argument("email")
@click.option("--language", default=None, help="Only the newsletters in this language.")
@click.option(
    "--frequency",
    type=click.Choice(["daily", "weekly"]),
    default=None,
    help="Only the newsletters of this frequency.",
)
@config_option
@at_option
@handle_errors
def remove(
    email: str, language: str | None, frequency: str | None, config_path: str, at: str | None
) -> None:
    """Unsubscribe EMAIL (kept as unsubscribed, so no import brings it back).

    Without --language or --frequency, every newsletter of the address.
    """
    from broadsheet.content.subscribers import newsletter_label, normalise_email
    from broadsheet.model import EventKind, SubscriberEvent, SubscriberStatus

    settings = load(config_path)
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    now = now_or(at, settings)
    store = open_store(settings)
    with store.write() as tx:
        held = [
            s
            for s in tx.subscribers.of_address(address)
            if (language is None or s.language == language)
            and (frequency is None or str(s.frequency) == frequency)
        ]
        if not held:
            which = " ".join(part for part in (language, frequency) if part)
            click.echo(
                f"error: no subscriber {address}"
                + (f" to the {which} newsletter" if which else ""),
                err=True,
            )
            sys.exit(1)
        lines = []
        for found in held:
            changed = tx.subscribers.set_status(
                found.id, SubscriberStatus.UNSUBSCRIBED, now=now, reason="cli"
            )
            if changed:
                tx.events.record(
                    SubscriberEvent(
                        email=address,
                        kind=EventKind.UNSUBSCRIBED,
                        time=now,
                        source="command",
                        subscriber_id=found.id,
                        detail={"newsletter": f"{found.language} {found.frequency}"},
                    )
                )
                lines.append(f"unsubscribed: {newsletter_label(found)}")
            else:
                lines.append(f"{newsletter_label(found)} was already {found.status}")
    for line in lines:
        click.echo(line)


@subscribers.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "active", "unsubscribed", "bounced", "suspended"]),
    default=None,
    help="Only subscribers in this state.",
)
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@config_option
@handle_errors
def list_(status: str | None, as_csv: bool, config_path: str) -> None:
    """List subscriptions: one row per address and newsletter."""
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
    addresses = len({s.email for s in rows})
    click.echo(f"{len(rows)} subscriptions of {addresses} subscribers")


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


@subscribers.command("show")
@click.argument("email")
@config_option
@handle_errors
def show(email: str, config_path: str) -> None:
    """Print EMAIL's subscriptions and its history (oldest first)."""
    from broadsheet.content.subscribers import normalise_email

    settings = load(config_path)
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    with open_store(settings).read() as tx:
        held = tx.subscribers.of_address(address)
        history = tx.events.history(address)
    if not held and not history:
        click.echo(f"error: no subscriber {address}", err=True)
        sys.exit(1)
    zone = settings.site.tz
    out = console()
    out.print(f"[bold]{address}[/bold]", highlight=False)
    from rich.markup import escape
    from rich.table import Table

    subs = Table(title="subscriptions", title_justify="left")
    for name in ("newsletter", "name", "topics", "status", "timezone", "since", "id"):
        subs.add_column(name, overflow="fold")
    for s in held:
        since = s.confirmed or s.created
        subs.add_row(
            escape(f"{s.language} {s.frequency}"),
            escape(s.name),
            escape(";".join(s.topics) or "all"),
            str(s.status),
            escape(s.timezone or ""),
            since.astimezone(zone).strftime("%Y-%m-%d %H:%M") if since else "",
            str(s.id),
        )
    out.print(subs)
    events = Table(title="history", title_justify="left")
    for name in ("time", "event", "source", "subscription", "detail"):
        events.add_column(name, overflow="fold")
    names = {s.id: f"{s.language} {s.frequency}" for s in held}
    for event in history:
        detail = ", ".join(f"{key}={value}" for key, value in event.detail.items())
        if event.edition_id:
            detail = ", ".join(filter(None, [f"edition={event.edition_id}", detail]))
        if event.message_id:
            detail = ", ".join(filter(None, [detail, f"message={event.message_id}"]))
        subscription = ""
        if event.subscriber_id is not None:
            subscription = names.get(event.subscriber_id, f"#{event.subscriber_id}")
        events.add_row(
            event.time.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            escape(str(event.kind)),
            escape(event.source),
            escape(subscription),
            escape(detail),
        )
    out.print(events)


def _privacy_commands() -> None:
    """``export`` and ``forget`` live in :mod:`broadsheet.cli.privacy`."""
    from broadsheet.cli.privacy import export, forget

    subscribers.add_command(export)
    subscribers.add_command(forget)


_privacy_commands()
