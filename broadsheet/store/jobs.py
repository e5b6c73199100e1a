"""Scheduler job runs in the store: one row per job and slot.

A *slot* is the instant a job is scheduled for (the weekly edition's Monday
08:00, a feeds build's 10:15). The scheduler claims a slot by inserting its
row; the unique ``(job, slot)`` key means two processes racing for the same
slot cannot both win, whatever their locks did. A run ends ``ok``,
``failed``, ``skipped`` (nothing to do, or too late) or ``interrupted`` (a
clean stop came first: the slot stays due and is taken up again). A row left
``running`` by a process that died is taken up again by the next scheduler
that holds the job's lock.

Times are UTC; ``started``/``finished`` come from the clock the caller was
given, ``duration`` from a monotonic clock.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, Row, bindparam, select
from sqlalchemy.dialects import sqlite

from broadsheet.store.schema import job_runs as table


class RunStatus(enum.StrEnum):
    """Where one run of a job stands."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"


DONE = (RunStatus.OK, RunStatus.SKIPPED)
"""Statuses that settle a slot: later ticks never run it, nor any slot before it."""

RESUMABLE = (RunStatus.INTERRUPTED, RunStatus.RUNNING)
"""Statuses whose slot is taken up again (``running`` only when its process is gone)."""


@dataclass(frozen=True, slots=True)
class JobRun:
    """One run of one job for one slot.

    Attributes:
        id: the row's key.
        job: the job's name (``feeds``, ``edition:weekly:en``).
        slot: the instant the run was scheduled for (UTC).
        status: see :class:`RunStatus`.
        attempts: how many times the slot was started (interrupted runs resume).
        started: when the latest attempt began (the tick's time).
        finished: when it ended, or ``None`` while running.
        duration: seconds the latest attempt took, or ``None`` while running.
        counts: what the job did (``{"sent": 120, "failed": 0}``).
        note: what a person wants to know (the edition id, why it was skipped).
        error: the error of a failed run, else ``""``.
        host: ``hostname:pid`` of the process that ran it.
    """

    id: int
    job: str
    slot: datetime
    status: RunStatus
    attempts: int
    started: datetime
    finished: datetime | None
    duration: float | None
    counts: Mapping[str, int] = field(default_factory=lambda: types.MappingProxyType({}))
    note: str = ""
    error: str = ""
    host: str = ""


def _run(row: Row[Any]) -> JobRun:
    return JobRun(
        id=row.id,
        job=row.job,
        slot=row.slot,
        status=RunStatus(row.status),
        attempts=row.attempts,
        started=row.started,
        finished=row.finished,
        duration=row.duration,
        counts=types.MappingProxyType({str(k): int(v) for k, v in dict(row.counts).items()}),
        note=row.note,
        error=row.error,
        host=row.host,
    )


# The scheduler asks these every tick: built once, they skip SQLAlchemy's
# statement construction, which costs more than SQLite answering them.
_AT_SLOT = select(table).where(table.c.job == bindparam("job"), table.c.slot == bindparam("slot"))
_AT_SLOTS = select(table).where(
    table.c.job.in_(bindparam("jobs", expanding=True)),
    table.c.slot.in_(bindparam("slots", expanding=True)),
)
_LAST_DONE = (
    select(table.c.slot)
    .where(table.c.job == bindparam("job"), table.c.status.in_([str(s) for s in DONE]))
    .order_by(table.c.slot.desc())
    .limit(1)
)


def _insert_once(conn: Connection) -> Insert:
    """An INSERT that does nothing when the (job, slot) row already exists."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql  # a SQLite store never loads it

        return postgresql.insert(table).on_conflict_do_nothing(index_elements=["job", "slot"])
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=["job", "slot"])


class Jobs:
    """Repository of job runs bound to one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # --- claiming and finishing ------------------------------------------------

    def start(self, job: str, slot: datetime, *, now: datetime, host: str) -> JobRun | None:
        """Record that ``job`` starts its run for ``slot``.

        Returns:
            The new run, or ``None`` when a run for this slot already exists
            (another process got there first, or it ran before).
        """
        inserted = self.conn.execute(
            _insert_once(self.conn)
            .values(
                job=job,
                slot=slot,
                status=str(RunStatus.RUNNING),
                attempts=1,
                started=now,
                finished=None,
                duration=None,
                counts={},
                note="",
                error="",
                host=host[:200],
            )
            .returning(*table.c)
        ).one_or_none()
        return None if inserted is None else _run(inserted)

    def restart(
        self,
        job: str,
        slot: datetime,
        *,
        expect: Collection[RunStatus],
        now: datetime,
        host: str,
    ) -> JobRun | None:
        """Take up the existing run of ``job`` for ``slot`` again, if its status is in ``expect``.

        The check and the update are one statement, so of two processes
        taking up the same run only one succeeds.

        Returns:
            The run, now ``running`` with one more attempt, or ``None`` when
            its status was not one of ``expect``.
        """
        done = self.conn.execute(
            table.update()
            .where(
                table.c.job == job,
                table.c.slot == slot,
                table.c.status.in_([str(s) for s in expect]),
            )
            .values(
                status=str(RunStatus.RUNNING),
                attempts=table.c.attempts + 1,
                started=now,
                finished=None,
                duration=None,
                error="",
                host=host[:200],
            )
        )
        return self.get(job, slot) if done.rowcount == 1 else None

    def finish(
        self,
        run_id: int,
        *,
        status: RunStatus,
        finished: datetime,
        duration: float,
        counts: Mapping[str, int] | None = None,
        note: str = "",
        error: str = "",
    ) -> None:
        """Record how a run ended."""
        if status is RunStatus.RUNNING:
            raise ValueError("a run cannot finish as running")  # a bug in the caller
        self.conn.execute(
            table.update()
            .where(table.c.id == run_id)
            .values(
                status=str(status),
                finished=finished,
                duration=round(duration, 3),
                counts={str(k): int(v) for k, v in (counts or {}).items()},
                note=note,
                error=error,
            )
        )

    # --- reading ----------------------------------------------------------------

    def get(self, job: str, slot: datetime) -> JobRun | None:
        """The run of ``job`` for ``slot``, if any."""
        row = self.conn.execute(_AT_SLOT, {"job": job, "slot": slot}).one_or_none()
        return _run(row) if row else None

    def at_slots(self, slots: Mapping[str, datetime]) -> dict[str, JobRun]:
        """job -> its run for the given slot, for the jobs that have one (one query)."""
        if not slots:
            return {}
        # Two IN lists walk the (job, slot) key; pairs that were not asked for
        # (another job's slot) are dropped here.
        rows = self.conn.execute(
            _AT_SLOTS, {"jobs": list(slots), "slots": sorted(set(slots.values()))}
        )
        return {row.job: _run(row) for row in rows if slots[row.job] == row.slot}

    def last_done_slots(self, jobs: Iterable[str]) -> dict[str, datetime]:
        """job -> the latest slot it settled (ran ``ok`` or was ``skipped``), for ``jobs``."""
        found: dict[str, datetime] = {}
        for job in jobs:
            slot = self.last_done_slot(job)
            if slot is not None:
                found[job] = slot
        return found

    def last_done_slot(self, job: str) -> datetime | None:
        """The latest slot ``job`` settled, or ``None``."""
        # Newest first along the (job, slot) key: the answer is almost always
        # the first row, however long the history grows.
        return self.conn.execute(_LAST_DONE, {"job": job}).scalar_one_or_none()

    def _latest(self, job: str, *statuses: RunStatus) -> JobRun | None:
        query = select(table).where(table.c.job == job)
        if statuses:
            query = query.where(table.c.status.in_([str(s) for s in statuses]))
        row = self.conn.execute(
            query.order_by(table.c.slot.desc(), table.c.id.desc()).limit(1)
        ).one_or_none()
        return _run(row) if row else None

    def latest(self, job: str) -> JobRun | None:
        """The run of ``job`` for its latest slot, whatever its status."""
        return self._latest(job)

    def last_success(self, job: str) -> JobRun | None:
        """The latest run of ``job`` that ended ``ok``."""
        return self._latest(job, RunStatus.OK)

    def last_failure(self, job: str) -> JobRun | None:
        """The latest run of ``job`` that failed."""
        return self._latest(job, RunStatus.FAILED)

    def runs(
        self,
        job: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[JobRun]:
        """Runs by slot then job, optionally of one job and with slots in ``[since, until]``."""
        query = select(table).order_by(table.c.slot, table.c.job, table.c.id)
        if job is not None:
            query = query.where(table.c.job == job)
        if since is not None:
            query = query.where(table.c.slot >= since)
        if until is not None:
            query = query.where(table.c.slot <= until)
        return [_run(row) for row in self.conn.execute(query)]

    def names(self) -> list[str]:
        """Every job name with a recorded run, sorted."""
        rows = self.conn.execute(select(table.c.job).distinct().order_by(table.c.job))
        return [row[0] for row in rows]
