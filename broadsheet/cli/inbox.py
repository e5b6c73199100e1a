"""``broadsheet inbox [SOURCE]``: act on bounces, complaints and mailto unsubscribes."""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from broadsheet.cli.common import (
    EXIT_TEMPFAIL,
    at_option,
    config_option,
    handle_errors,
    load,
    now_or,
    open_store,
)

log = logging.getLogger(__name__)


@click.command()
@click.argument("source", required=False)
@click.option(
    "--recipient",
    default=None,
    metavar="ADDRESS",
    help="With -: the envelope recipient the mail server passes "
    "(Postfix pipe: --recipient ${original_recipient}).",
)
@config_option
@at_option
def inbox(source: str | None, recipient: str | None, config_path: str, at: str | None) -> None:
    """Read what came back: bounces, complaints, mailto unsubscribes, replies.

    SOURCE is a Maildir folder, an IMAP URL (imap://user@host/INBOX,
    imaps://…), or - for one message on standard input (a mail server's
    pipe delivery); without it, [inbound] mailbox. Every message read is
    moved to a folder saying what was done: bounces, complaints,
    unsubscribes, auto-replies, human, unmatched. Running it twice changes
    nothing. A message that could not be processed stays where it was and the
    command exits 75 (EX_TEMPFAIL), as it does for - on any failure, so the
    mail server keeps the message and tries again.
    """
    if source == "-":
        _from_stdin(recipient, config_path, at)
        return
    if recipient is not None:
        raise click.UsageError("--recipient goes with - (one message on standard input)")
    _from_mailbox(source, config_path, at)


@handle_errors
def _from_mailbox(source: str | None, config_path: str, at: str | None) -> None:
    settings = load(config_path)
    if source is None:
        configured = settings.inbound.mailbox
        if not configured:
            raise click.UsageError(
                "give a SOURCE (a Maildir folder, an IMAP URL or -), "
                f"or set [inbound] mailbox in {settings.path}"
            )
        source = configured if "://" in configured else str(settings.root / configured)
    summary = _run(source, settings, at, None)
    click.echo(_describe(summary))
    if summary.left:
        for line in summary.problems:
            click.echo(f"error: {line}", err=True)
        sys.exit(EXIT_TEMPFAIL)


def _from_stdin(recipient: str | None, config_path: str, at: str | None) -> None:
    """One message from a mail server: any failure exits 75, so the server keeps it."""
    try:
        settings = load(config_path)
        summary = _run("-", settings, at, recipient)
    except Exception as exc:  # noqa: BLE001  (the mail server must keep the message, whatever)
        click.echo(f"error: {exc}".splitlines()[0], err=True)
        log.debug("inbox -: failed", exc_info=True)
        sys.exit(EXIT_TEMPFAIL)
    if summary.left:
        for line in summary.problems:
            click.echo(f"error: {line}", err=True)
        sys.exit(EXIT_TEMPFAIL)


def _run(source: str, settings: Any, at: str | None, recipient: str | None) -> Any:
    from broadsheet.emails.inbound import process
    from broadsheet.emails.inbound.sources import open_mailbox

    now = now_or(at, settings)
    store = open_store(settings)
    try:
        mailbox = open_mailbox(source, settings, recipient=recipient)
        try:
            return process(mailbox, settings, store, now=now)
        finally:
            mailbox.close()
    finally:
        store.close()


def _describe(summary: Any) -> str:
    """``12 read: bounces 9, complaints 1, human 2`` (and what was left)."""
    parts = [f"{folder} {count}" for folder, count in sorted(summary.filed.items())]
    text = f"{summary.read} read" + (": " + ", ".join(parts) if parts else "")
    if summary.left:
        text += f"; {summary.left} left in place"
    return text
