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
@click.option(
    "--force",
    is_flag=True,
    help="Accept an edition over emails.clip_limit even with every droppable block left out.",
)
@config_option
@at_option
@handle_errors
def build(language: str, frequency: str, force: bool, config_path: str, at: str | None) -> None:
    """Build the edition of LANG for now (or --at TIME) and print its previews.

    An edition that already exists for that day is shown, not rebuilt. An
    edition over emails.clip_limit leaves blocks out of its email until it
    fits (docs/newsletters.md); one that still does not fit is refused
    (exit status 1, and `send` refuses it too) unless --force. The preview
    link opens the edition on `broadsheet serve` (both widths, its size,
    its text twin).
    """
    from broadsheet.emails import oversize, refuse_oversize
    from broadsheet.model import Frequency
    from broadsheet.scheduler.editions import build_edition
    from broadsheet.web.preview import preview_url

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
        # Built by hand: `broadsheet status` shows it as a run of the edition's job.
        from broadsheet.scheduler.manual import manual_run

        with manual_run(store, f"edition:{frequency}:{language}", now=now) as run:
            outcome = build_edition(
                store, settings, language=language, frequency=Frequency(frequency), now=now
            )
            run.note = outcome.edition.id if outcome.edition else (outcome.skipped or "")
            run.counts = {"built": int(outcome.created)}
        secret = store.link_secret(settings.secret(), env_name=settings.links.secret_env)
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
    click.echo(f"  preview   {preview_url(settings, secret, record.id)}")
    clipped = record.extra.get("clip")
    if isinstance(clipped, dict) and clipped.get("dropped"):
        left = clipped.get("left_out") or []
        click.echo(
            f"  clipped   {', '.join(str(s).replace('_', ' ') for s in clipped['dropped'])}"
            + (f" ({len(left)} articles)" if left else "")
            + f" left out of the email: {clipped['size']:,} of {clipped['limit']:,} bytes"
        )
    reason = oversize(record)
    if reason is not None:
        if not force:
            refuse_oversize(record)
        click.echo(f"warning (--force): {reason}", err=True)
