"""``broadsheet run``, ``broadsheet schedule`` and ``broadsheet status``."""

from __future__ import annotations

import logging
import sys
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from collections.abc import Sequence

    from broadsheet.config import Settings
    from broadsheet.scheduler.jobs import Job
    from broadsheet.scheduler.runner import RunReport


def _print_report(report: RunReport, settings: Settings, jobs: Sequence[Job]) -> None:
    """One line per run; with -q only the failed ones (cron mails what is printed)."""
    from broadsheet.scheduler.jobs import local_time
    from broadsheet.store.jobs import RunStatus

    quiet = logging.getLogger().getEffectiveLevel() > logging.WARNING
    tz = settings.site.tz
    for outcome in report.outcomes:
        if quiet and outcome.status is not RunStatus.FAILED:
            continue
        counts = " ".join(f"{k}={v}" for k, v in outcome.counts.items())
        detail = outcome.error or outcome.note
        parts = [
            f"{outcome.job:<20}",
            local_time(outcome.slot, tz),
            f"{outcome.status:<11}",
            f"{outcome.duration:6.1f}s",
        ]
        if counts:
            parts.append(counts)
        if detail:
            parts.append(f"({detail})")
        click.echo("  ".join(parts))
    if quiet:
        return
    for name in report.busy:
        click.echo(f"{name:<20}  running in another process; left to it")
    if report.stopped:
        click.echo("stopped: jobs not started are left for the next run", err=True)
    if not report.outcomes and not report.busy:
        upcoming = sorted(
            ((job.next_slot(report.now), job.name) for job in jobs),
        )
        after = f"; next: {upcoming[0][1]} at {local_time(upcoming[0][0], tz)}" if upcoming else ""
        click.echo(f"nothing due at {local_time(report.now, tz)}{after}")


@click.command()
@config_option
@at_option
@handle_errors
def run(config_path: str, at: str | None) -> None:
    """Run every job due at TIME (default: now) once, then exit.

    Feeds first, then the editions. Running it again for the same TIME does
    nothing. Prints one line per run (with -q only failures); exit status 1
    when a job failed. Suits cron and systemd timers.
    """
    from broadsheet.scheduler.loop import stop_on_signals
    from broadsheet.scheduler.runner import configured_jobs, run_due

    settings = load(config_path)
    store = open_store(settings)
    try:
        with stop_on_signals(threading.Event()) as stop:
            report = run_due(store, settings, now=now_or(at, settings), stop=stop)
        # For "next: …" when nothing ran (readers' zones give local-time jobs their slots).
        jobs = configured_jobs(store, settings) if not report.outcomes else []
    finally:
        store.close()
    _print_report(report, settings, jobs)
    sys.exit(0 if report.ok else 1)


@click.command()
@config_option
@click.option(
    "--at",
    "at",
    default=None,
    metavar="TIME",
    help="Start the scheduler's clock at this ISO 8601 time; it then runs on in real time "
    "(a rehearsal on a copy of the store).",
)
@handle_errors
def schedule(config_path: str, at: str | None) -> None:
    """The long-running scheduler: runs each job at its time until stopped.

    Stops cleanly on SIGTERM or SIGINT: the message in flight is finished,
    state is recorded, and the exit status is 0. Logs one line per job run.
    """
    from broadsheet.scheduler.loop import run_forever, stop_on_signals, utc_now

    settings = load(config_path)
    if at is None:
        clock = utc_now
    else:
        start, origin = now_or(at, settings), time.monotonic()

        def clock() -> datetime:
            return start + timedelta(seconds=time.monotonic() - origin)

    # A service's log should say what ran; -q still silences it.
    scheduler_log = logging.getLogger("broadsheet.scheduler")
    if logging.getLogger().getEffectiveLevel() == logging.WARNING:
        scheduler_log.setLevel(logging.INFO)
    store = open_store(settings)
    try:
        with stop_on_signals(threading.Event()) as stop:
            run_forever(store, settings, stop=stop, clock=clock)
    finally:
        store.close()


def _short(text: str, width: int = 160) -> str:
    """The last line of ``text`` (a traceback's message), cut to ``width``."""
    line = text.strip().splitlines()[-1] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


@click.command()
@config_option
@at_option
@handle_errors
def status(config_path: str, at: str | None) -> None:
    """Each job's last run, its status, its next run and its last error.

    Times are on the wall clock of site.timezone.
    """
    from rich.table import Table

    from broadsheet.scheduler.jobs import EditionJob
    from broadsheet.scheduler.localtime import local_editions
    from broadsheet.scheduler.manual import manual_runs
    from broadsheet.scheduler.runner import job_states
    from broadsheet.store.jobs import RunStatus

    settings = load(config_path)
    now = now_or(at, settings)
    tz = settings.site.tz
    store = open_store(settings)
    try:
        states = job_states(store, settings, now=now)
        by_hand = manual_runs(store, [state.job.name for state in states])
        with store.read() as tx:
            held = tx.editions.held()
    finally:
        store.close()

    def offsets(job: object, slot: datetime) -> str:
        """`` for +1000``: the offsets whose editions a local-time slot sends."""
        if not (isinstance(job, EditionJob) and job.local):
            return ""
        return " for " + ", ".join(group.offset for group in local_editions(job, slot))

    def shown(moment: datetime, *, day_of: datetime | None = None) -> str:
        local = moment.astimezone(tz)
        if day_of is not None and local.date() == day_of.astimezone(tz).date():
            return local.strftime("%H:%M")
        return local.strftime("%Y-%m-%d %H:%M")

    table = Table(
        title=f"{settings.site.title}: jobs at {shown(now)} ({settings.site.timezone})",
        title_justify="left",
    )
    # Times today show as HH:MM, others with their date.
    table.add_column("Job", no_wrap=True)
    table.add_column("Last run")
    table.add_column("Status", no_wrap=True)
    table.add_column("Next run", no_wrap=True)
    table.add_column("Last error", overflow="fold", min_width=10)
    for state in states:
        latest = state.latest
        manual = by_hand.get(state.job.name)
        if manual is not None and (latest is None or manual.started > latest.started):
            # The newest run was made by hand (`feeds build`, `send`): its slot is its start.
            last = f"{shown(manual.started, day_of=now)}\nby hand"
            outcome = str(manual.status)
            if manual.duration is not None:
                outcome += f" {manual.duration:.1f}s"
        elif latest is None:
            last, outcome = "never", "-"
        else:
            last = shown(latest.slot, day_of=now) + offsets(state.job, latest.slot)
            if abs(latest.started - latest.slot) > timedelta(minutes=1):
                last += f"\nran {shown(latest.started, day_of=latest.slot)}"
            outcome = str(latest.status)
            if latest.duration is not None:
                outcome += f" {latest.duration:.1f}s"
        if state.due is not None:
            upcoming = f"due now ({shown(state.due, day_of=now)}{offsets(state.job, state.due)})"
        else:
            upcoming = shown(state.next_slot, day_of=now) + offsets(state.job, state.next_slot)
        failure = state.last_failure
        newer = manual is not None and (failure is None or manual.started > failure.started)
        if manual is not None and newer and manual.status is RunStatus.FAILED:
            failure = manual
        error = (
            "" if failure is None else f"{shown(failure.slot, day_of=now)}: {_short(failure.error)}"
        )
        table.add_row(state.job.name, last, outcome, upcoming, error)
    console().print(table)
    _print_held(held)


def _print_held(held: list[tuple[str, str, str]]) -> None:
    """Editions the brake paused or someone cancelled, and why."""
    if not held:
        return
    from rich.table import Table

    table = Table(title="Held editions", title_justify="left")
    table.add_column("Edition", no_wrap=True)
    table.add_column("Hold", no_wrap=True)
    table.add_column("Why", overflow="fold", min_width=10)
    for edition_id, hold, reason in held:
        table.add_row(edition_id, hold, reason)
    console().print(table)
    if any(hold == "paused" for _, hold, _ in held):
        console().print(
            "a paused edition resumes with `broadsheet send EDITION`; "
            "`broadsheet send EDITION --cancel` stops it for good"
        )
