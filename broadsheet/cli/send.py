"""``broadsheet send EDITION``: deliver an edition, show its ledger (``--status``), or
stop it for good (``--cancel``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from broadsheet.cli.common import (
    at_option,
    config_option,
    console,
    handle_errors,
    interactive,
    load,
    now_or,
    open_store,
)


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or a first Ctrl-C; a second Ctrl-C interrupts at once.

    The message in flight finishes and its outcome is recorded before the
    send stops.
    """
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT and stop.is_set():
            raise KeyboardInterrupt
        if not stop.is_set():
            click.echo("stopping after the message in flight…", err=True)
        stop.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _progress_bar() -> tuple[Any, Callable[[Any], None] | None]:
    """A rich progress bar and its callback, or ``(None, None)`` off a terminal."""
    if not interactive():
        return None, None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f} msg/s" if speed else "– msg/s")

    bar = Progress(
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sent {task.fields[sent]}  failed {task.fields[failed]}"),
        RateColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("send", total=None, sent=0, failed=0)

    def update(state: Any) -> None:
        bar.update(
            task,
            completed=state.done,
            total=state.total or None,
            sent=state.sent,
            failed=state.failed + state.bounced,
        )

    return bar, update


def _summary(report: Any) -> str:
    verb = "would send" if report.dry_run else "sent"
    parts = [f"{report.sent} {verb}"]
    if not report.dry_run:
        parts += [f"{report.failed} failed", f"{report.bounced} bounced"]
        if report.deferred:
            parts.append(f"{report.deferred} deferred")
    parts += [f"{report.skipped} skipped", f"{report.already_sent} already sent"]
    line = f"{report.edition_id}: " + ", ".join(parts)
    if not report.dry_run and report.sent:
        line += f" ({report.rate:.1f} msg/s, {report.seconds:.1f} s)"
    return line


def _refuse_oversize(store: Any, edition_id: str) -> None:
    """Stop before sending an edition over ``emails.clip_limit`` (``--force`` skips this)."""
    from broadsheet.emails import refuse_oversize

    with store.read() as tx:
        record = tx.editions.get(edition_id)
    if record is not None:
        refuse_oversize(record)


def _when(moment: Any, settings: Any) -> str:
    """A stored time on the wall clock of ``site.timezone``."""
    if moment is None:
        return "-"
    return str(moment.astimezone(settings.site.tz).strftime("%Y-%m-%d %H:%M %Z"))


def _print_status(store: Any, settings: Any, edition_id: str) -> None:
    from rich.table import Table

    from broadsheet.errors import DeliveryError
    from broadsheet.model import SendState

    with store.read() as tx:
        if tx.editions.get(edition_id) is None:
            raise DeliveryError(f"no edition {edition_id!r} in the store")
        hold, hold_reason = tx.editions.hold(edition_id)
        counts = tx.ledger.counts(edition_id)
        reasons = tx.ledger.reasons(edition_id, SendState.SKIPPED)
        waiting = tx.ledger.deferred(edition_id)
        problems = []
        for state in (SendState.FAILED, SendState.BOUNCED, SendState.SENDING):
            for entry in tx.ledger.entries(edition_id, state=state, limit=10):
                person = tx.subscribers.get(entry.subscriber_id)
                email = person.email if person else f"#{entry.subscriber_id}"
                problems.append((email, entry))
    table = Table("state", "messages", title=f"ledger of {edition_id}")
    for state in SendState:
        table.add_row(str(state), str(counts[state]))
    table.add_row("total", str(sum(counts.values())), style="bold")
    out = console()
    if hold == "paused":
        out.print(f"{edition_id} is paused: {hold_reason}")
        out.print(f"`broadsheet send {edition_id}` resumes it; `--cancel` stops it for good")
    elif hold == "cancelled":
        out.print(f"{edition_id} is cancelled: {hold_reason}")
    out.print(table)
    if waiting:
        deferred = Table(
            "deferred: last reply", "messages", "next attempt", title="waiting for a retry"
        )
        for group in waiting:
            deferred.add_row(
                group.reply or "(no reply stored)",
                str(group.count),
                _when(group.next_attempt, settings),
            )
        out.print(deferred)
    if reasons:
        why = Table("skipped because", "messages")
        for reason, count in reasons.items():
            why.add_row(reason or "(no reason stored)", str(count))
        out.print(why)
    if problems:
        detail = Table("address", "state", "attempts", "since", "last reply")
        for email, entry in problems:
            detail.add_row(
                email,
                str(entry.state),
                str(entry.attempts),
                entry.changed.isoformat(timespec="seconds"),
                entry.last_reply,
            )
        out.print(detail)


@contextmanager
def _recorded(store: Any, edition_id: str, now: Any, dry_run: bool) -> Iterator[Any]:
    """A real send by hand recorded as a run of its edition's job (for ``status``)."""
    from broadsheet.scheduler.manual import edition_job, manual_run

    with store.read() as tx:
        record = tx.editions.get(edition_id)
    if dry_run or record is None:
        yield None
        return
    with manual_run(store, edition_job(record), now=now) as run:
        yield run


def _send_test(
    store: Any,
    settings: Any,
    edition: str,
    to: tuple[str, ...],
    as_email: str | None,
    transport: str | None,
    now: Any,
) -> None:
    """``send EDITION --to ADDRESS``: one line per address; exit 1 if one failed."""
    from broadsheet.emails import send_test

    report = send_test(
        store, settings, edition, to=to, as_email=as_email, now=now, transport=transport
    )
    who = f"as {report.as_email}" if report.as_email else "as a neutral reader"
    click.echo(f"{edition}: test send {who}, subject {report.subject!r}")
    for address, _reply in report.delivered:
        click.echo(f"  sent to {address}")
    for address, reason in report.failed:
        click.echo(f"  not sent to {address}: {reason}", err=True)
    if report.failed:
        raise SystemExit(1)


@click.command()
@click.argument("edition")
@click.option(
    "--transport",
    type=click.Choice(["maildir", "smtp"]),
    default=None,
    help="Where messages go; default: delivery.transport.",
)
@click.option("--dry-run", is_flag=True, help="Render and count; deliver and record nothing.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Send at most N messages.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Sending processes; default: delivery.workers.",
)
@click.option("--status", is_flag=True, help="Show the ledger's counts and problems, send nothing.")
@click.option(
    "--cancel",
    is_flag=True,
    help="Stop EDITION for good (a scheduled campaign before it starts): nothing more is sent.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Send an edition even when it is over emails.clip_limit (Gmail clips it).",
)
@click.option(
    "--to",
    "to",
    multiple=True,
    metavar="ADDRESS",
    help="A test send: only to ADDRESS (repeat for more), outside the ledger, "
    "the subject marked as a test.",
)
@click.option(
    "--as",
    "as_email",
    default=None,
    metavar="EMAIL",
    help="With --to: personalise as this subscriber (default: a neutral reader).",
)
@config_option
@at_option
@handle_errors
def send(
    edition: str,
    transport: str | None,
    dry_run: bool,
    limit: int | None,
    workers: int | None,
    status: bool,
    cancel: bool,
    force: bool,
    to: tuple[str, ...],
    as_email: str | None,
    config_path: str,
    at: str | None,
) -> None:
    """Send EDITION (e.g. weekly-en-2026-11-23) to its subscribers.

    Every subscriber gets it at most once, however often this runs, and a
    run cut short (even killed) is finished by running it again. With
    --to, a test send goes to the given addresses only and the ledger is
    left alone. An edition the brake paused (too many bounces or
    complaints) is resumed by sending it; --cancel stops one for good.
    """
    from broadsheet.emails.delivery.sender import send_edition

    settings = load(config_path)
    store = open_store(settings)
    try:
        if status:
            _print_status(store, settings, edition)
            return
        if cancel:
            _cancel(store, settings, edition, now_or(at, settings))
            return
        if as_email is not None and not to:
            raise click.UsageError("--as goes with --to ADDRESS (a test send)")
        if to:
            _send_test(store, settings, edition, to, as_email, transport, now_or(at, settings))
            return
        if not force and not dry_run:
            _refuse_oversize(store, edition)
        bar, update = _progress_bar()
        now = now_or(at, settings)
        with _stop_on_signals() as stop, _recorded(store, edition, now, dry_run) as run:
            if bar is not None:
                bar.start()
            try:
                report = send_edition(
                    store,
                    settings,
                    edition,
                    now=now,
                    transport=transport,
                    dry_run=dry_run,
                    limit=limit,
                    workers=workers or settings.delivery.workers,
                    stop=stop,
                    progress=update,
                    resume=not dry_run,
                )
            finally:
                if bar is not None:
                    bar.stop()
            if run is not None:
                run.note = edition
                run.counts = {
                    "sent": report.sent,
                    "failed": report.failed + report.bounced,
                    "skipped": report.skipped,
                }
        if report.resumed:
            click.echo(f"{edition}: resumed (it was paused: {report.resumed})")
        if report.held:
            click.echo(
                f"{edition}: {report.held}\n"
                f"`broadsheet send {edition}` resumes it; "
                f"`broadsheet send {edition} --cancel` stops it for good",
                err=True,
            )
        click.echo(_summary(report))
        if report.waiting and not dry_run:
            click.echo(
                f"{report.waiting} messages deferred by a temporary failure wait for a retry "
                f"(the scheduler tries them when due): `broadsheet send {edition} --status` "
                "lists them",
                err=True,
            )
        if report.remaining - report.waiting > 0 and not dry_run and not report.held:
            click.echo(
                f"{report.remaining - report.waiting} messages still to send: "
                f"run `broadsheet send {edition}` again",
                err=True,
            )
        if report.given_up and not dry_run:
            click.echo(
                f"{report.given_up} messages failed every try and will not be sent again: "
                f"`broadsheet send --status {edition}` lists them",
                err=True,
            )
    finally:
        store.close()


def _cancel(store: Any, settings: Any, edition: str, now: Any) -> None:
    """``send EDITION --cancel``: say what was stopped."""
    from broadsheet.emails import cancel_edition

    report = cancel_edition(store, edition, now=now)
    if report.already:
        click.echo(f"{edition} was already cancelled; {report.sent} sent before")
        return
    stopped = [f"{report.queued} queued", f"{report.deferred} deferred"]
    click.echo(
        f"{edition}: cancelled; {report.sent} sent before, "
        + " and ".join(stopped)
        + " messages will not be sent"
    )
    if report.was_paused:
        click.echo(f"it had been paused: {report.was_paused}")
    if report.sending:
        click.echo(
            f"{report.sending} messages are with a sender now: it stops at its next batch",
            err=True,
        )
    if report.send_at is not None:
        click.echo(f"its scheduled send at {_when(report.send_at, settings)} will not happen")
