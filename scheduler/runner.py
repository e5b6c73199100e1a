"""One scheduler tick: every job due at ``now`` runs, and its outcome is recorded.

For each job (feeds first, then the editions) the tick looks at the job's
latest slot at or before ``now``. The job is due when that slot has no run
recorded and is later than every slot the job has settled (``ok`` or
``skipped``), or when its run was interrupted by a clean stop, or left
``running`` by a process that died. So:

- a tick repeated for the same ``now`` does nothing;
- after downtime only the latest missed slot runs, once, never one run
  per missed slot;
- an edition whose slot is more than its grace period before ``now`` is
  recorded as skipped, with a warning, instead of being sent late;
- a job that raises is logged with its traceback, recorded as failed with
  its error, and runs again at its next slot (not at the next tick);
- each job runs under its own lock (:mod:`broadsheet.scheduler.locks`); a job locked
  by another process is left to it.

Every run logs one line with its duration and counts.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from broadsheet.config import Settings
from broadsheet.errors import BroadsheetError
from broadsheet.scheduler.actions import DEFAULT_ACTIONS, Action, ActionResult, JobContext, kind
from broadsheet.scheduler.campaigns import scheduled_campaigns
from broadsheet.scheduler.jobs import (
    EditionJob,
    Job,
    campaign_jobs,
    jobs_from_settings,
    local_time,
)
from broadsheet.scheduler.localtime import with_reader_zones
from broadsheet.scheduler.locks import JobLock, holding, job_lock
from broadsheet.scheduler.manual import process_name
from broadsheet.scheduler.purge import PurgeJob, purge_jobs
from broadsheet.scheduler.retries import RetryJob, retry_jobs
from broadsheet.store import Store, Tx
from broadsheet.store.jobs import RESUMABLE, JobRun, RunStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobOutcome:
    """How one job's run went in this tick.

    Attributes:
        job: the job's name.
        slot: the slot that ran (UTC).
        status: ``ok``, ``failed``, ``skipped`` or ``interrupted``.
        duration: seconds it took.
        counts: what it did (feeds: ``articles``, ``written``, ``unchanged``;
            editions: ``sent``, ``failed``, ``bounced``, ``skipped``,
            ``already_sent``).
        note: the edition id, or why the run was skipped.
        error: the error of a failed run.
        attempt: 1, or more when an interrupted run was taken up again.
    """

    job: str
    slot: datetime
    status: RunStatus
    duration: float
    counts: Mapping[str, int] = field(default_factory=dict)
    note: str = ""
    error: str = ""
    attempt: int = 1


@dataclass(frozen=True)
class RunReport:
    """What one tick did.

    Attributes:
        now: the tick's time (UTC).
        outcomes: the runs this tick made, in the order they ran.
        busy: jobs that were due but are running in another process.
        stopped: a stop was asked for; jobs not yet started were left for later.
    """

    now: datetime
    outcomes: tuple[JobOutcome, ...] = ()
    busy: tuple[str, ...] = ()
    stopped: bool = False

    def get(self, job: str) -> JobOutcome | None:
        """The outcome of ``job`` in this tick, if it ran."""
        return next((o for o in self.outcomes if o.job == job), None)

    @property
    def failed(self) -> list[JobOutcome]:
        """The runs that failed."""
        return [o for o in self.outcomes if o.status is RunStatus.FAILED]

    @property
    def ok(self) -> bool:
        """Whether no run failed."""
        return not self.failed


@dataclass(frozen=True)
class JobState:
    """Where one job stands at a given time (for ``broadsheet status``).

    Attributes:
        job: the job.
        latest: its run for its latest recorded slot, if any.
        last_failure: its latest failed run, if any.
        due: the slot the next tick would run (not yet run, within grace), or ``None``.
        next_slot: its first slot after the given time.
    """

    job: Job
    latest: JobRun | None
    last_failure: JobRun | None
    due: datetime | None
    next_slot: datetime


def job_states(store: Store, settings: Settings, *, now: datetime) -> list[JobState]:
    """Every configured job's last run, last failure and next slot at ``now``."""
    states = []
    with store.read() as tx:
        jobs = [
            *jobs_from_settings(settings),
            *campaign_jobs(scheduled_campaigns(tx)),
            *retry_jobs(tx, now, waiting=True),
            *purge_jobs(tx, settings, now, waiting=True),
        ]
        jobs = _with_zones(tx, jobs)
        for job in jobs:
            slot = job.latest_slot(now)
            run, done = tx.jobs.get(job.name, slot), tx.jobs.last_done_slot(job.name)
            # A campaign's one slot may still be ahead.
            due = slot <= now and is_due(slot, run, done) and not job.is_late(slot, now)
            if isinstance(job, RetryJob) and (job.next_attempt is None or job.next_attempt > now):
                due = False  # deferred messages wait, none is due yet
            if isinstance(job, PurgeJob) and (job.due_at is None or job.due_at >= now):
                due = False  # nothing is old enough yet
            states.append(
                JobState(
                    job=job,
                    latest=tx.jobs.latest(job.name),
                    last_failure=tx.jobs.last_failure(job.name),
                    due=slot if due else None,
                    next_slot=job.next_slot(now),
                )
            )
    return states


def configured_jobs(store: Store, settings: Settings) -> list[Job]:
    """The configured jobs, those in readers' local time with their readers' zones."""
    with store.read() as tx:
        return _with_zones(tx, jobs_from_settings(settings))


def _with_zones(tx: Tx, jobs: Sequence[Job]) -> list[Job]:
    """``jobs``, those in readers' local time given their readers' zones (one query)."""
    wanted = [
        (job.language, str(job.frequency))
        for job in jobs
        if isinstance(job, EditionJob) and job.local
    ]
    if not wanted:
        return list(jobs)
    return with_reader_zones(jobs, tx.ledger.reader_zones(wanted))


def due_slots(
    job: Job, latest: datetime, last_done: datetime | None, now: datetime
) -> list[datetime]:
    """The slots of ``job`` to try at ``now``, oldest first.

    Its latest slot; and for an edition in readers' local time every earlier
    slot after the job's last settled one, since each reaches other readers:
    those still within grace run, the others are recorded as skipped (with a
    warning), going back at most a day past the grace period. A job with no
    settled slot yet looks back over its grace period only.
    """
    if not (isinstance(job, EditionJob) and job.local):
        return [latest]
    start = now - job.grace
    if last_done is not None:
        start = max(last_done, start - timedelta(days=1))
    return [slot for slot in job.slots_since(start, now) if slot <= latest]


def is_due(slot: datetime, run: JobRun | None, last_done: datetime | None) -> bool:
    """Whether ``slot`` may run, given its recorded run and the job's latest settled slot.

    A ``running`` run counts as due: only the job's lock can tell a live run
    (lock held elsewhere) from one whose process died (lock free).
    """
    if last_done is not None and slot <= last_done:
        return False
    return run is None or run.status in RESUMABLE


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, BroadsheetError):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _counts_text(counts: Mapping[str, int]) -> str:
    return " ".join(f"{name}={value}" for name, value in counts.items()) or "-"


def _claim(
    store: Store, job: Job, slot: datetime, *, now: datetime, host: str, tz_note: str
) -> JobRun | None:
    """Record the start of ``slot`` (or take up its resumable run), re-checked under the lock."""
    with store.write() as tx:
        done = tx.jobs.last_done_slot(job.name)
        run = tx.jobs.get(job.name, slot)
        if not is_due(slot, run, done):
            return None
        if run is None:
            return tx.jobs.start(job.name, slot, now=now, host=host)
        if run.status is RunStatus.RUNNING:
            log.warning(
                "%s: the run started by %s never finished (that process ended); taking it up again",
                tz_note,
                run.host,
            )
        return tx.jobs.restart(job.name, slot, expect=RESUMABLE, now=now, host=host)


def _finish(
    store: Store,
    run: JobRun,
    *,
    status: RunStatus,
    now: datetime,
    duration: float,
    counts: Mapping[str, int] | None = None,
    note: str = "",
    error: str = "",
) -> JobOutcome:
    with store.write() as tx:
        tx.jobs.finish(
            run.id,
            status=status,
            finished=now + timedelta(seconds=duration),
            duration=duration,
            counts=counts,
            note=note,
            error=error,
        )
    return JobOutcome(
        job=run.job,
        slot=run.slot,
        status=status,
        duration=duration,
        counts=dict(counts or {}),
        note=note,
        error=error,
        attempt=run.attempts,
    )


def _execute(ctx: JobContext, run: JobRun, action: Action) -> JobOutcome:
    """Run ``action`` for ``run``, record how it ended, and log one line about it."""
    job, tz = ctx.job, ctx.settings.site.tz
    where = f"{job.name} {local_time(run.slot, tz)}"
    started = time.perf_counter()
    try:
        result: ActionResult = action(ctx)
    except Exception as exc:
        duration = time.perf_counter() - started
        error = _error_text(exc)
        log.error(
            "%s: failed after %.1fs: %s; it runs again at its next slot, %s",
            where,
            duration,
            error,
            local_time(job.next_slot(ctx.now), tz),
            # A mistake in the publication is said in words; a bug gets its traceback.
            exc_info=not isinstance(exc, BroadsheetError),
        )
        return _finish(
            ctx.store, run, status=RunStatus.FAILED, now=ctx.now, duration=duration, error=error
        )
    duration = time.perf_counter() - started
    if result.interrupted:
        status = RunStatus.INTERRUPTED
    elif result.skipped is not None:
        status = RunStatus.SKIPPED
    else:
        status = RunStatus.OK
    note = result.skipped if result.skipped is not None else result.note
    extra = f" ({note})" if note else ""
    log.info("%s: %s in %.1fs: %s%s", where, status, duration, _counts_text(result.counts), extra)
    return _finish(
        ctx.store,
        run,
        status=status,
        now=ctx.now,
        duration=duration,
        counts=result.counts,
        note=note or "",
    )


def _skip_late(
    store: Store, job: EditionJob, run: JobRun, *, now: datetime, tz_note: str
) -> JobOutcome:
    minutes = int((now - run.slot).total_seconds() // 60)
    grace = int(job.grace.total_seconds() // 60)
    note = f"{minutes} minutes late (grace {grace} minutes): not sent late"
    if run.attempts > 1:
        note += f"; `broadsheet send {job.edition_id(run.slot)}` finishes the interrupted send"
    log.warning("%s: skipped, %s", tz_note, note)
    return _finish(store, run, status=RunStatus.SKIPPED, now=now, duration=0.0, note=note)


def run_due(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    stop: threading.Event | None = None,
    actions: Mapping[str, Action] | None = None,
    jobs: Sequence[Job] | None = None,
    host: str | None = None,
) -> RunReport:
    """Run every job due at ``now``, feeds first, then the editions; record each outcome.

    Args:
        store: the publication's store (job state lives in its ``job_runs``).
        settings: the publication's settings; the jobs come from them.
        now: the tick's time, timezone-aware.
        stop: when set, no further job starts, and the running one (a send)
            stops after the message in flight; its run is recorded as
            interrupted and taken up by the next tick.
        actions: what each kind of job does (``"feeds"``, ``"edition"``);
            defaults to building the feeds and building and sending editions.
        jobs: the jobs to consider; defaults to :func:`jobs_from_settings`
            and the campaigns whose ``send_at`` has come.
        host: recorded with each run; defaults to ``hostname:pid``.

    Returns:
        What ran and how it went.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("run_due needs an aware datetime")  # a bug in the caller
    now = now.astimezone(UTC)
    if jobs is None:
        with store.read() as tx:
            scheduled = [(i, at) for i, at in scheduled_campaigns(tx) if at <= now]
            retries = retry_jobs(tx, now)
            purges = purge_jobs(tx, settings, now)
        jobs = [*jobs_from_settings(settings), *campaign_jobs(scheduled), *retries, *purges]
    jobs = list(jobs)
    if any(isinstance(job, EditionJob) and job.local and not job.zones for job in jobs):
        with store.read() as tx:
            jobs = _with_zones(tx, jobs)
    actions = DEFAULT_ACTIONS if actions is None else actions
    host = host or process_name()
    slots = {job.name: job.latest_slot(now) for job in jobs}
    # One cheap read decides which jobs need a lock at all; the decision is
    # made again under each job's lock before anything runs. A slot with a
    # settled run needs no more than that one query.
    with store.read() as tx:
        runs = tx.jobs.at_slots(slots)
        open_ = [j.name for j in jobs if is_due(slots[j.name], runs.get(j.name), None)]
        done = tx.jobs.last_done_slots(open_)
    candidates = [
        (job, slot)
        for job in jobs
        if job.name in open_ and is_due(slots[job.name], runs.get(job.name), done.get(job.name))
        for slot in due_slots(job, slots[job.name], done.get(job.name), now)
    ]
    if not candidates:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: nothing due", local_time(now, settings.site.tz))
        return RunReport(now=now, stopped=stop is not None and stop.is_set())
    return _run_jobs(store, settings, candidates, now=now, stop=stop, actions=actions, host=host)


def _run_jobs(
    store: Store,
    settings: Settings,
    candidates: Sequence[tuple[Job, datetime]],
    *,
    now: datetime,
    stop: threading.Event | None,
    actions: Mapping[str, Action],
    host: str,
) -> RunReport:
    tz = settings.site.tz
    outcomes: list[JobOutcome] = []
    busy: list[str] = []
    stopped = False
    for job, slot in candidates:
        if stop is not None and stop.is_set():
            stopped = True
            break
        where = f"{job.name} {local_time(slot, tz)}"
        lock: JobLock = job_lock(store, settings, job.name)
        with holding(lock) as held:
            if not held:
                log.debug("%s: running in another process; left to it", where)
                if job.name not in busy:
                    busy.append(job.name)
                continue
            run = _claim(store, job, slot, now=now, host=host, tz_note=where)
            if run is None:
                continue
            if isinstance(job, EditionJob) and job.is_late(slot, now):
                outcomes.append(_skip_late(store, job, run, now=now, tz_note=where))
                continue
            ctx = JobContext(store=store, settings=settings, job=job, slot=slot, now=now, stop=stop)
            outcomes.append(_execute(ctx, run, actions[kind(job)]))
    if stop is not None and stop.is_set():
        stopped = True
    return RunReport(now=now, outcomes=tuple(outcomes), busy=tuple(busy), stopped=stopped)
