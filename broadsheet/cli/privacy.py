"""``broadsheet subscribers export|forget``: consent records out, an address erased.

Part of the ``subscribers`` group (:mod:`broadsheet.cli.subscribers` adds them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from broadsheet.cli.common import at_option, config_option, handle_errors, load, now_or, open_store


@click.command("export")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="csv: one row per subscription; json: per address, with its whole history.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write to this file (readable by its owner only) instead of standard output.",
)
@config_option
@handle_errors
def export(format_: str, out: str | None, config_path: str) -> None:
    """Write every subscription with how and when consent was given (docs/privacy.md)."""
    from broadsheet.content.privacy import export_chunks

    settings = load(config_path)
    store = open_store(settings)
    try:
        chunks = export_chunks(store, format=format_)
        if out is None:
            for chunk in chunks:
                sys.stdout.write(chunk)
            sys.stdout.flush()
            return
        from broadsheet.files import write_atomic

        data = [chunk.encode("utf-8") for chunk in chunks]
        try:
            write_atomic(Path(out), data, mode=0o600)
        except OSError as exc:
            click.echo(f"error: {out}: {exc.strerror or exc}", err=True)
            sys.exit(1)
    finally:
        store.close()
    click.echo(f"wrote {out}", err=True)


@click.command("forget")
@click.argument("email")
@config_option
@at_option
@handle_errors
def forget(email: str, config_path: str, at: str | None) -> None:
    """Erase EMAIL everywhere it is stored, keeping only a keyed hash of it.

    Its subscriptions, their send-ledger rows, its history, its donations
    and its own suppression entry are deleted in one transaction. The hash
    (HMAC keyed by the publication's secret) lets no import, command or form
    add the address again; `broadsheet suppressions remove EMAIL` lifts that
    if its owner asks to come back.
    """
    from broadsheet.content.privacy import forget as forget_address
    from broadsheet.content.subscribers import normalise_email

    settings = load(config_path)
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    now = now_or(at, settings)
    store = open_store(settings)
    try:
        done = forget_address(store, settings, address, now=now)
    finally:
        store.close()
    erased = done.erased
    if erased.total == 0:
        what = "nothing was stored about it"
    else:
        parts = [
            (erased.subscriptions, "subscription"),
            (erased.ledger_rows, "send-ledger row"),
            (erased.events, "event"),
            (erased.donations, "donation"),
            (erased.suppressions, "suppression entry"),
            (erased.rate_limits, "rate-limit bucket"),
        ]
        what = ", ".join(
            f"{count} {name}{'' if count == 1 else 's'}" for count, name in parts if count
        )
        what += " deleted"
    again = " (forgotten before)" if done.already else ""
    click.echo(f"forgotten: {address}{again}: {what}; only a keyed hash of it is kept")
