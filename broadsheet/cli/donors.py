"""``broadsheet donors import``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from broadsheet.cli.common import at_option, config_option, handle_errors, load, now_or, open_store
from broadsheet.cli.core import report_problems

_FORMATS = {
    "broadsheet": "broadsheet's columns",
    "stripe": "a Stripe payments export",
    "paypal": "a PayPal activity download",
}


@click.group()
def donors() -> None:
    """Donations, which choose the donation block of each reader's message."""


@donors.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@config_option
@at_option
@handle_errors
def import_(file: str, config_path: str, at: str | None) -> None:
    """Import donations from a CSV file: email,date,amount,currency,recurring,
    Stripe's payments export or PayPal's activity download."""
    from broadsheet.content.donations import import_donations

    settings = load(config_path)
    store = open_store(settings)
    try:
        report = import_donations(
            store, settings, Path(file), now=now_or(at, settings), source=file
        )
    finally:
        store.close()
    report_problems(report.rejected)
    if report.unsubscribed:
        click.echo(
            f"note: {len(report.unsubscribed)} donor address(es) hold no subscription; "
            "their donations are kept for when they subscribe",
            err=True,
        )
    click.echo(
        f"{file} ({_FORMATS[report.format]}): {report.added} donations added, "
        f"{report.already} already imported, "
        f"{report.passed_over} passed over (not a donation received), "
        f"{len(report.rejected)} rejected"
    )
    sys.exit(0 if report.ok else 1)
