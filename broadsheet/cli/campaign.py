"""``broadsheet campaign build FILE.md``: make a one-off campaign and show its previews."""

from __future__ import annotations

from pathlib import Path

import click

from broadsheet.cli.common import at_option, config_option, handle_errors, load, now_or, open_store


@click.group()
def campaign() -> None:
    """Build one-off campaigns (a letter between the digests)."""


@campaign.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@config_option
@at_option
@handle_errors
def build(file: Path, config_path: str, at: str | None) -> None:
    """Build the campaign in FILE (Markdown with front matter) and print its id.

    Send it with `broadsheet send ID`, or let the scheduler send it at its
    send_at. Building the same file again shows the stored campaign, not a
    new one (docs/newsletters.md, "Campaigns").
    """
    from broadsheet.scheduler.campaigns import build_campaign, send_at

    settings = load(config_path)
    now = now_or(at, settings)
    store = open_store(settings)
    try:
        outcome = build_campaign(store, settings, file, now=now)
    finally:
        store.close()
    record = outcome.edition
    state = "built" if outcome.created else "exists (unchanged)"
    click.echo(f"{record.id}: {state}")
    if outcome.changed:
        click.echo(
            f"warning: {file} changed since {record.id} was built from it; the campaign "
            "stays as built (copy the file under a new name to build a new campaign)",
            err=True,
        )
    click.echo(f"  subject   {record.subject}")
    audience = record.extra.get("audience")
    if isinstance(audience, dict):
        topics = ", ".join(str(t) for t in audience.get("topics") or ()) or "all topics"
        click.echo(f"  audience  {record.language}, {audience.get('frequency')}, {topics}")
    moment = send_at(record)
    if moment is not None:
        local = moment.astimezone(settings.site.tz)
        click.echo(f"  send at   {local.isoformat()} (by the scheduler)")
    else:
        click.echo(f"  send      broadsheet send {record.id}")
    for role, label in (
        ("html", "email"),
        ("text", "text"),
        ("web", "web copy"),
        ("archive", "archive"),
    ):
        path = outcome.paths.get(role)
        if path is not None:
            click.echo(f"  {label:<9} {path}")
