"""``broadsheet demo``: the whole pipeline on the shipped demo publication.

It copies ``examples/polynya`` (Polynya, a fictional magazine) into a
folder, publishes its images into ``public/images/``, imports its articles,
views and subscribers, then runs one scheduler tick at the demo's reference
time, the same path `broadsheet run` takes: the feeds are built, this week's
editions are built in English and Russian and delivered into a Maildir.
Running it again in the same folder changes nothing and sends nothing more.

The demo's ``site.url`` is ``http://localhost:8080``, where
``broadsheet serve --config OUT/broadsheet.toml`` answers: with it running,
the feeds, newsletters and web copies show the demo's own images with no
network, and its subscription pages can be tried.
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from broadsheet.cli.common import console, handle_errors
from broadsheet.errors import BroadsheetError

if TYPE_CHECKING:
    from broadsheet.config import Settings

REFERENCE_TIME = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
"""Monday 23 November 2026, 08:00 in Moscow: the demo's "now"."""

_COPIED = ("broadsheet.toml", "views.csv", "subscribers.csv", "content", "images")


def copy_example(target: Path) -> None:
    """Copy the demo publication's inputs into ``target`` (outputs and store are kept)."""
    from broadsheet.resources import example_dir

    source = example_dir()
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in _COPIED:
            path = source / name
            if path.is_dir():
                shutil.copytree(path, target / name, dirs_exist_ok=True)
            elif path.is_file():
                shutil.copy2(path, target / name)
    except OSError as exc:
        raise BroadsheetError(
            f"{target}: cannot write the demo there: {exc.strerror or exc}"
        ) from None


def publish_images(target: Path, settings: Settings) -> None:
    """Copy the demo's ``images/`` into its static folder, where its URLs point."""
    source = target / "images"
    static = settings.static_dir
    if static is None or not source.is_dir():
        return
    try:
        shutil.copytree(source, static / "images", dirs_exist_ok=True)
    except OSError as exc:
        raise BroadsheetError(
            f"{static}: cannot publish the demo's images: {exc.strerror or exc}"
        ) from None


def run_demo(target: Path) -> dict[str, Any]:
    """Copy, import and run the demo in ``target``; returns what happened, for the summary."""
    from broadsheet.config import load_settings
    from broadsheet.content.importer import import_articles
    from broadsheet.content.subscribers import import_subscribers
    from broadsheet.content.views import import_views
    from broadsheet.scheduler.runner import run_due
    from broadsheet.store import Store

    copy_example(target)
    settings = load_settings(target / "broadsheet.toml")
    publish_images(target, settings)
    store = Store.open(settings.store.url)
    try:
        articles = import_articles(
            store, settings, str(target / "content"), fmt="md", now=REFERENCE_TIME
        )
        views = import_views(store, target / "views.csv", source=str(target / "views.csv"))
        subscribers = import_subscribers(
            store, settings, target / "subscribers.csv", now=REFERENCE_TIME
        )
        run = run_due(store, settings, now=REFERENCE_TIME)
        with store.read() as tx:
            editions = [e for e in tx.editions.listing() if e.slot <= REFERENCE_TIME]
            ledger = {e.id: tx.ledger.counts(e.id) for e in editions}
            counts = {"articles": tx.articles.count(), "subscribers": tx.subscribers.counts()}
    finally:
        store.close()
    return {
        "settings": settings,
        "articles": articles,
        "views": views,
        "subscribers": subscribers,
        "run": run,
        "editions": editions,
        "ledger": ledger,
        "counts": counts,
    }


def _summary(result: dict[str, Any], target: Path) -> None:
    from rich.table import Table

    settings = result["settings"]
    articles, views, subscribers = result["articles"], result["views"], result["subscribers"]
    out = console()
    table = Table(title=f"broadsheet demo in {target}", title_justify="left")
    table.add_column("step", no_wrap=True)
    table.add_column("result")
    table.add_row(
        "import articles",
        f"{len(articles.added)} added, {len(articles.updated)} updated, "
        f"{len(articles.unchanged)} unchanged, {len(articles.rejected)} rejected",
    )
    table.add_row("import views", f"{views.written} daily figures")
    table.add_row(
        "import subscribers",
        f"{len(subscribers.added)} added, {len(subscribers.updated)} updated, "
        f"{len(subscribers.unchanged)} unchanged, {len(subscribers.skipped)} skipped",
    )
    run = result["run"]
    if not run.outcomes:
        table.add_row("run", "nothing due: this folder already ran the demo at its reference time")
    for outcome in run.outcomes:
        counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in outcome.counts.items() if v)
        detail = "; ".join(x for x in (outcome.note, counts, outcome.error) if x)
        table.add_row(f"run {outcome.job}", f"{outcome.status}: {detail}")
    per_language: dict[str, int] = {}
    for edition in result["editions"]:
        sent = int(result["ledger"].get(edition.id, {}).get("sent", 0))
        per_language[edition.language] = per_language.get(edition.language, 0) + sent
    for language, sent in sorted(per_language.items()):
        table.add_row(f"messages ({language})", f"{sent} delivered in all")
    out.print(table)

    index = settings.feeds.out / "index.json"
    lines = []
    if index.is_file():
        import json

        feeds = json.loads(index.read_text(encoding="utf-8"))["feeds"]
        lines.append(f"feeds ({len(feeds)}, listed in index.json): {settings.feeds.out}")
    for edition in result["editions"]:
        if edition.path:
            lines.append(f"edition {edition.id}: {Path(edition.path) / 'email.html'}")
    lines.append(f"messages (Maildir): {settings.delivery.maildir}")
    lines.append(f"store: {settings.store.url}")
    for line in lines:
        out.print(line, overflow="ignore", crop=False)
    out.print()
    for line in _next_steps(result, target):
        out.print(line, overflow="ignore", crop=False)


def _next_steps(result: dict[str, Any], target: Path) -> list[str]:
    """What to open, and how to serve the demo (its URLs point at ``serve``)."""
    settings = result["settings"]
    site = settings.site.url.rstrip("/")
    pages = settings.links_url.rstrip("/")
    lines = [
        "Next: serve the demo (its site.url is where `serve` answers) and open it:",
        f"  broadsheet serve --config {target / 'broadsheet.toml'}",
    ]
    out_root = settings.emails.out
    for edition in result["editions"]:
        if edition.path:
            relative = Path(edition.path).relative_to(out_root).as_posix()
            lines.append(f"  {edition.id}: {pages}/editions/{relative}/")
    for language in settings.site.languages:
        lines.append(f"  archive ({language}): {pages}/editions/{language}/")
    lines.append(f"  feeds: {site}/feeds/index.json")
    lines.append(f"  subscribe: {pages}/subscribe")
    return lines


@click.command()
@click.option(
    "--out",
    default="broadsheet-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to run the demo in (created; reused when it exists).",
)
@handle_errors
def demo(out: str) -> None:
    """Run the whole pipeline on the demo publication in OUT."""
    target = Path(out).resolve()
    result = run_demo(target)
    for line in result["articles"].rejected:
        click.echo(f"rejected: {line}", err=True)
    _summary(result, target)
    sys.exit(0 if result["articles"].ok else 1)
