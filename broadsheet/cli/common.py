"""What every command shares: ``--config``, ``--at``, settings, the store, output."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from broadsheet.config import DEFAULT_CONFIG, Settings
from broadsheet.errors import BroadsheetError, MailboxUnavailable, StoreUnavailable

F = TypeVar("F", bound=Callable[..., Any])


_CONFIG_KEY = "broadsheet.config"
"""Where the group's ``--config`` (``broadsheet --config X CMD``) is kept in the click context."""


def remember_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """Keep the group's ``--config`` for the subcommand's own option to default to."""
    if value is not None:
        ctx.meta[_CONFIG_KEY] = value


def _config_path(ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
    """The command's ``--config``, else the group's, else $BROADSHEET_CONFIG, else the default."""
    if value is not None:
        return value
    given = ctx.meta.get(_CONFIG_KEY)
    if isinstance(given, str):
        return given
    return os.environ.get("BROADSHEET_CONFIG") or DEFAULT_CONFIG


def config_option(func: F) -> F:
    """Add ``--config PATH`` (default ./broadsheet.toml, or $BROADSHEET_CONFIG).

    It may also stand before the subcommand (``broadsheet --config X status``):
    the group keeps it and this option defaults to it.
    """
    return click.option(
        "--config",
        "config_path",
        default=None,
        callback=_config_path,
        show_default=f"{DEFAULT_CONFIG}, or $BROADSHEET_CONFIG",
        type=click.Path(dir_okay=False),
        help="The publication's configuration file.",
    )(func)


def at_option(func: F) -> F:
    """Add ``--at TIME``: an ISO 8601 time standing in for now."""
    return click.option(
        "--at",
        "at",
        default=None,
        metavar="TIME",
        help="ISO 8601 time standing in for now (naive times are in site.timezone).",
    )(func)


def load(config_path: str) -> Settings:
    """Settings from ``config_path`` (errors become one message per problem)."""
    from broadsheet.config import load_settings

    return load_settings(config_path)


def now_or(at: str | None, settings: Settings) -> datetime:
    """``at`` parsed as an aware time, or the real clock, read here once."""
    if at is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{at!r} is not an ISO 8601 time (e.g. 2026-11-23T08:00:00+03:00)", param_hint="--at"
        ) from None
    if not 1900 <= moment.year <= 9000:
        # Editions and slots look a period back and ahead of it.
        raise click.BadParameter(
            f"{at!r} is outside the years 1900 to 9000", param_hint="--at"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.site.tz)
    return moment.astimezone(UTC)


def open_store(settings: Settings) -> Any:
    """The publication's store, migrated."""
    from broadsheet.store import Store

    return Store.open(settings.store.url)


EXIT_TEMPFAIL = 75
"""The exit status when the store or a mailbox's server cannot be reached
(sysexits' EX_TEMPFAIL): cron and systemd can tell "try again later" from a mistake to fix."""


def handle_errors(func: F) -> F:
    """Turn a BroadsheetError into its message on stderr and a non-zero exit status.

    The status is 75 (EX_TEMPFAIL) when the store or a mailbox's server
    cannot be reached or was lost mid-work, 1 for every other error; the
    message is one line per problem, never a traceback (store failures are BroadsheetErrors too:
    the store raises them at its boundary).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BroadsheetError as exc:
            for line in str(exc).splitlines():
                click.echo(f"error: {line}", err=True)
            unavailable = isinstance(exc, StoreUnavailable | MailboxUnavailable)
            sys.exit(EXIT_TEMPFAIL if unavailable else 1)

    return wrapper  # type: ignore[return-value]


def console() -> Any:
    """A rich console on stdout."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def interactive() -> bool:
    """Whether progress bars make sense (stderr is a terminal)."""
    return sys.stderr.isatty()


def setup_logging(verbose: int, quiet: bool) -> None:
    """Log to stderr: warnings by default, info with -v, debug with -vv."""
    level = (
        logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    )
    if interactive():
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, show_time=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # premailer's cssutils logs a line per element for vendor properties.
    logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)
