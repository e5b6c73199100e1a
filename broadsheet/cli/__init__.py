"""The ``broadsheet`` command: thin wrappers that parse, load settings, call one function.

Subcommands live in their own modules and are imported only when run, so
``broadsheet --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from broadsheet import __version__
from broadsheet.cli.common import remember_config, setup_logging

_COMMANDS = {
    "demo": ("broadsheet.cli.demo", "demo", "Run the whole pipeline on the demo publication."),
    "init": ("broadsheet.cli.core", "init", "Create a new publication skeleton."),
    "import": ("broadsheet.cli.core", "import_", "Import articles (Markdown, JSON Lines, feed)."),
    "views": ("broadsheet.cli.core", "views", "Import daily page views."),
    "subscribers": ("broadsheet.cli.subscribers", "subscribers", "Manage subscribers."),
    "donors": (
        "broadsheet.cli.donors",
        "donors",
        "Import donations (they choose the donation block).",
    ),
    "suppressions": (
        "broadsheet.cli.suppressions",
        "suppressions",
        "Addresses and domains never subscribed, imported or sent to.",
    ),
    "feeds": ("broadsheet.cli.feeds", "feeds", "Build feeds; print autodiscovery links."),
    "edition": ("broadsheet.cli.edition", "edition", "Build a newsletter edition."),
    "campaign": ("broadsheet.cli.campaign", "campaign", "Build a one-off campaign from Markdown."),
    "send": ("broadsheet.cli.send", "send", "Send an edition to its subscribers."),
    "inbox": (
        "broadsheet.cli.inbox",
        "inbox",
        "Act on bounces, complaints and mailto unsubscribes (Maildir, IMAP or stdin).",
    ),
    "serve": (
        "broadsheet.cli.serve",
        "serve",
        "Serve feeds, the web archive and subscription pages.",
    ),
    "report": (
        "broadsheet.cli.report",
        "report",
        "Per edition and over time: sent, bounces, unsubscribes, clicks, growth (--html).",
    ),
    "run": ("broadsheet.cli.schedule", "run", "One scheduler tick: run every job due, then exit."),
    "schedule": ("broadsheet.cli.schedule", "schedule", "The long-running scheduler."),
    "status": (
        "broadsheet.cli.schedule",
        "status",
        "Each job's last run, next run and last error.",
    ),
    "upgrade": (
        "broadsheet.cli.upgrade",
        "upgrade",
        "Apply the store's pending schema migrations (back it up first).",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = _COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module = importlib.import_module(spec[0])
        command: click.Command = getattr(module, spec[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, spec[2]) for name, spec in _COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="broadsheet")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option(
    "--config",
    default=None,
    expose_value=False,
    callback=remember_config,
    type=click.Path(dir_okay=False),
    help="The publication's configuration file (also taken after the command).",
)
def cli(verbose: int, quiet: bool) -> None:
    """Turn a publication's archive into feeds and newsletters."""
    setup_logging(verbose, quiet)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="broadsheet")
