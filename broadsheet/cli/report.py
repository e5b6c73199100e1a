"""``broadsheet report [EDITION] [--html FILE]``: what became of the editions, and of the list."""

from __future__ import annotations

import os
from pathlib import Path

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


@click.command()
@click.argument("edition", required=False, metavar="[EDITION]")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="Also write the report as one self-contained HTML page with charts.",
)
@click.option(
    "--editions",
    "count",
    type=click.IntRange(1, 1000),
    default=12,
    show_default=True,
    help="Without EDITION: how many of the newest editions.",
)
@click.option(
    "--weeks",
    type=click.IntRange(1, 520),
    default=26,
    show_default=True,
    help="Weeks of subscription figures, up to this one.",
)
@click.option(
    "--language",
    "language",
    default=None,
    metavar="LANG",
    help="Language of the report's words (default: the first of site.languages).",
)
@config_option
@at_option
@handle_errors
def report(
    edition: str | None,
    html_path: Path | None,
    count: int,
    weeks: int,
    language: str | None,
    config_path: str,
    at: str | None,
) -> None:
    """Per edition: audience, sent, bounced, complaints, unsubscribes within
    seven days, clicks by block and donate clicks by appeal variant; over
    time: subscriptions by language and frequency, growth and churn.

    Counts only: no reader is named (clicks are counted per edition and
    link, docs/reports.md).
    """
    from broadsheet.cli.report_page import Names, gather, print_report, render_page
    from broadsheet.errors import BroadsheetError
    from broadsheet.files import write_atomic
    from broadsheet.words import has_catalog

    settings = load(config_path)
    language = language or settings.site.languages[0]
    if language not in settings.site.languages and not has_catalog(language):
        raise click.BadParameter(
            f"{language!r} is neither one of site.languages in {settings.path} "
            f"({', '.join(settings.site.languages)}) nor a language with a catalog",
            param_hint="--language",
        )
    now = now_or(at, settings)
    names = Names(settings, language)
    store = open_store(settings)
    try:
        data = gather(store, edition=edition, count=count, weeks=weeks, now=now)
    finally:
        store.close()
    page = render_page(data, names) if html_path is not None else None
    out = console()
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 160  # a file or a pipe: the tables' columns are not squeezed into 80
    print_report(out, data, names)
    if html_path is not None and page is not None:
        try:
            write_atomic(html_path, page.encode("utf-8"))
        except OSError as exc:
            raise BroadsheetError(
                f"cannot write the report to {html_path}: {exc.strerror or exc}"
            ) from None
        click.echo(f"report written to {html_path}")
