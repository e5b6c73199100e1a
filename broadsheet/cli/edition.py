"""``broadsheet edition build``: make one newsletter edition and show its previews."""

from __future__ import annotations

import click

from broadsheet.cli.common import at_option, config_option, handle_errors, load, now_or, open_store


@click.group()
def edition() -> None:
    """Build newsletter editions."""


@edition.command()
@click.option(
    "--language",
    "language",
    required=True,
    metavar="LANG",
    help="Edition language, one of site.languages.",
)
@click.option(
    "--frequency",
    type=click.Choice(["daily", "weekly"]),
    required=True,
    help="Which newsletter.",
)
@config_option
@at_option
@handle_errors
def build(language: str, frequency: str, config_path: str, at: str | None) -> None:
    """Build the edition of LANG for now (or --at TIME) and print its previews.

    An edition that already exists for that day is shown, not rebuilt.
    """
    from broadsheet.model import Frequency
    from broadsheet.scheduler.editions import build_edition

    settings = load(config_path)
    if language not in settings.site.languages:
        raise click.BadParameter(
            f"{language!r} is not one of site.languages in {settings.path} "
            f"({', '.join(settings.site.languages)})",
            param_hint="--language",
        )
    now = now_or(at, settings)
    store = open_store(settings)
    try:
        outcome = build_edition(
            store, settings, language=language, frequency=Frequency(frequency), now=now
        )
    finally:
        store.close()
    if outcome.edition is None:
        click.echo(f"skipped: {outcome.skipped}")
        return
    record = outcome.edition
    state = "built" if outcome.created else "exists (unchanged)"
    click.echo(f"{record.id}: {state}")
    click.echo(f"  subject   {record.subject}")
    click.echo(f"  articles  {len(record.new_ids)} new, {len(record.top_ids)} top reads")
    for role, label in (
        ("html", "email"),
        ("text", "text"),
        ("web", "web copy"),
        ("json", "manifest"),
        ("archive", "archive"),
    ):
        path = outcome.paths.get(role)
        if path is not None:
            click.echo(f"  {label:<9} {path}")
