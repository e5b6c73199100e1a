"""``broadsheet feeds build`` and ``broadsheet feeds links``."""

from __future__ import annotations

from pathlib import Path

import click

from broadsheet.cli.common import at_option, config_option, handle_errors, load, now_or, open_store


@click.group()
def feeds() -> None:
    """Build the syndication feeds; print their autodiscovery links."""


@feeds.command()
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    default=None,
    help="Output folder (default: [feeds] out from the configuration).",
)
@click.option("--no-ping", is_flag=True, help="Do not notify the WebSub hub this time.")
@config_option
@at_option
@handle_errors
def build(out: str | None, no_ping: bool, config_path: str, at: str | None) -> None:
    """Write every feed, its archive pages and index.json."""
    from broadsheet.feeds.build import build_feeds_from_store

    settings = load(config_path)
    now = now_or(at, settings)
    store = open_store(settings)
    try:
        if out is None:
            # The configured feeds, built by hand: `broadsheet status` shows it.
            from broadsheet.scheduler.manual import manual_run

            with manual_run(store, "feeds", now=now) as run:
                report = build_feeds_from_store(store, settings, now, out=None, ping=not no_ping)
                run.counts = {"feeds": len(report.feeds), "written": len(report.written)}
        else:
            report = build_feeds_from_store(store, settings, now, out=Path(out), ping=not no_ping)
    finally:
        store.close()
    documents = len(report.written) + len(report.unchanged)
    click.echo(
        f"{len(report.feeds)} feeds ({documents} files: {len(report.written)} written, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed) in {report.out}"
    )
    click.echo(f"index: {report.index}")
    site_feeds = [f for f in report.feeds if f["scope"] == "site"]
    for feed in site_feeds:
        click.echo(f"  {feed['format']:<5} {feed['url']}")
    if report.ping_pending:
        click.echo(
            f"WebSub: {len(report.ping_pending)} feed(s) not yet announced; "
            "they are retried on the next build",
            err=True,
        )
    elif report.pinged:
        click.echo(f"WebSub: announced {len(report.pinged)} changed feed(s)")


@feeds.command()
@click.option("--language", default=None, help="Only feeds in this language (and site-wide ones).")
@click.option(
    "--set",
    "scope",
    type=click.Choice(["site", "language", "section", "tag", "author"]),
    default=None,
    help="Only feeds of this set.",
)
@click.option("--name", default=None, help="Only the feeds of this section, tag or author.")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    default=None,
    help="Feeds folder to read (default: [feeds] out).",
)
@config_option
@handle_errors
def links(
    language: str | None, scope: str | None, name: str | None, out: str | None, config_path: str
) -> None:
    """Print the <link rel="alternate"> tags for a page's head."""
    from broadsheet.feeds.links import link_tags, read_index, select

    settings = load(config_path)
    folder = Path(out) if out else settings.feeds.out
    chosen = select(read_index(folder), language=language, scope=scope, name=name)
    if not chosen:
        raise click.UsageError("no feed matches; see index.json for what was built")
    for tag in link_tags(chosen):
        click.echo(tag)
