"""Runs made by hand (``broadsheet feeds build``, ``broadsheet send``), recorded for ``status``.

A job run by hand is recorded in the job-runs table under its own name,
``manual:`` and the job's (``manual:feeds``, ``manual:edition:weekly:en``),
with the moment it started as its slot. The scheduler never reads these
names, so a run by hand never settles or blocks a scheduled slot; ``broadsheet
status`` shows it as the job's last run when it is the newest, marked "by hand".
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from broadsheet.errors import BroadsheetError
from broadsheet.model import EditionRecord
from broadsheet.store import Store
from broadsheet.store.jobs import JobRun, RunStatus

__all__ = [
    "MANUAL_PREFIX",
    "ManualRun",
    "edition_job",
    "manual_run",
    "manual_runs",
    "process_name",
    "record_manual_run",
]

log = logging.getLogger(__name__)

MANUAL_PREFIX = "manual:"
"""What a run by hand's job name begins with."""


def process_name() -> str:
    """``hostname:pid``, recorded with each run (by hand here, scheduled by the runner)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def edition_job(edition: EditionRecord) -> str:
    """The name of the scheduler job that builds and sends editions like ``edition``."""
    return f"edition:{edition.frequency}:{edition.language}"


@dataclass
class ManualRun:
    """What a command run by hand did, filled in while it runs.

    Attributes:
        counts: what it did (``{"sent": 12}``).
        note: what a person wants to know (the edition id).
    """

    counts: dict[str, int] = field(default_factory=dict)
    note: str = ""


def record_manual_run(
    store: Store,
    job: str,
    *,
    started: datetime,
    duration: float,
    status: RunStatus = RunStatus.OK,
    counts: Mapping[str, int] | None = None,
    note: str = "",
    error: str = "",
) -> JobRun | None:
    """Record one run of ``job`` by hand that began at ``started``.

    A run by hand recorded earlier for the very same instant (``--at`` the
    same time: ``edition build`` then ``send``) is replaced by this one.

    Returns:
        The recorded run, or ``None`` when another process is recording a
        run by hand of ``job`` for that instant right now.
    """
    name, host = MANUAL_PREFIX + job, process_name()
    with store.write() as tx:
        run = tx.jobs.start(name, started, now=started, host=host)
        if run is None:
            settled = [s for s in RunStatus if s is not RunStatus.RUNNING]
            run = tx.jobs.restart(name, started, expect=settled, now=started, host=host)
        if run is None:
            return None
        tx.jobs.finish(
            run.id,
            status=status,
            finished=started + timedelta(seconds=duration),
            duration=duration,
            counts=counts,
            note=note,
            error=error,
        )
        return tx.jobs.get(MANUAL_PREFIX + job, started)


@contextmanager
def manual_run(store: Store, job: str, *, now: datetime) -> Iterator[ManualRun]:
    """Record the block as a run of ``job`` by hand: ``ok``, or ``failed`` with its error.

    Recording never fails the command itself: a store that cannot record
    it is logged as a warning.
    """
    started = time.monotonic()
    run = ManualRun()
    status, error = RunStatus.OK, ""
    try:
        yield run
    except BroadsheetError as exc:
        status, error = RunStatus.FAILED, str(exc)
        raise
    except BaseException as exc:  # Ctrl-C, a bug: recorded, then passed on
        status, error = RunStatus.INTERRUPTED, type(exc).__name__
        raise
    finally:
        try:
            record_manual_run(
                store,
                job,
                started=now,
                duration=time.monotonic() - started,
                status=status,
                counts=run.counts,
                note=run.note,
                error=error,
            )
        except BroadsheetError as exc:
            log.warning("could not record the run of %s by hand: %s", job, exc)


def manual_runs(store: Store, jobs: Iterable[str]) -> dict[str, JobRun]:
    """The latest run by hand of each of ``jobs`` that has one."""
    found: dict[str, JobRun] = {}
    with store.read() as tx:
        for job in jobs:
            run = tx.jobs.latest(MANUAL_PREFIX + job)
            if run is not None:
                found[job] = run
    return found
