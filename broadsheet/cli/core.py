"""``broadsheet init``, ``broadsheet import`` and ``broadsheet views import``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, cast

import click

from broadsheet.cli.common import (
    at_option,
    config_option,
    handle_errors,
    interactive,
    load,
    now_or,
    open_store,
)


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
@handle_errors
def init(directory: str) -> None:
    """Create a new publication skeleton in DIRECTORY."""
    from broadsheet.skeleton import create_skeleton

    written = create_skeleton(Path(directory))
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: cd {directory} && broadsheet import content && broadsheet feeds build")


def report_problems(rejected: list[str]) -> None:
    """Print each rejected record on stderr, one line each."""
    for line in rejected:
        click.echo(f"rejected: {line}", err=True)


def _progress() -> tuple[Any, Any]:
    """A rich progress bar and its update callback, or (None, None) off a terminal."""
    if not interactive():
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn("checking"), BarColumn(), MofNCompleteColumn(), transient=True)
    task = bar.add_task("import", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total or None)

    return bar, update


@click.command("import")
@click.argument("path")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "jsonl", "feed"]),
    default=None,
    help="Input format; guessed from PATH when left out.",
)
@config_option
@at_option
@handle_errors
def import_(path: str, fmt: str | None, config_path: str, at: str | None) -> None:
    """Import articles from PATH: Markdown folder, JSON Lines file, or feed (file or URL)."""
    from broadsheet.content.importer import Format, import_articles

    settings = load(config_path)
    store = open_store(settings)
    bar, update = _progress()
    if bar is not None:
        bar.start()
    try:
        report = import_articles(
            store,
            settings,
            path,
            fmt=cast("Format | None", fmt),
            now=now_or(at, settings),
            progress=update,
        )
    finally:
        if bar is not None:
            bar.stop()
    report_problems(report.rejected)
    click.echo(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.rejected)} rejected "
        f"({report.not_read} files not read, {report.read} read but not parsed, "
        f"{report.parsed} parsed)"
    )
    sys.exit(0 if report.ok else 1)


@click.group()
def views() -> None:
    """Page views, which rank the Top reads."""


@views.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@config_option
@handle_errors
def views_import(file: str, config_path: str) -> None:
    """Import daily views from a CSV file (article,date,views)."""
    from broadsheet.content.views import import_views

    settings = load(config_path)
    report = import_views(open_store(settings), Path(file), source=file)
    report_problems(report.rejected)
    click.echo(f"{report.written} daily figures stored, {len(report.rejected)} rows rejected")
    sys.exit(0 if report.ok else 1)
