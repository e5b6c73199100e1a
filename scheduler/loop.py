"""The long-running scheduler: ``broadsheet schedule``.

The ``schedule`` library is only the trigger: a private
``schedule.Scheduler()`` calls :func:`~broadsheet.scheduler.runner.run_due` every
``scheduler.tick_seconds`` with the time read from ``clock``. It keeps no
state; what ran is in the store, so a restart catches up by itself (the
first tick runs at start), and a second scheduler is harmless.

SIGTERM and SIGINT set a :class:`threading.Event`. The sender checks it
between messages, so the message in flight finishes, the run is recorded as
interrupted (the next start takes it up without repeating a message), and
:func:`run_forever` returns.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType

import schedule

from broadsheet.config import Settings
from broadsheet.errors import BroadsheetError
from broadsheet.scheduler.actions import Action
from broadsheet.scheduler.jobs import jobs_from_settings, local_time
from broadsheet.scheduler.runner import RunReport, run_due
from broadsheet.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """Set ``stop`` on SIGTERM or SIGINT while inside; the previous handlers come back after.

    Must be entered in the main thread (Python delivers signals there).
    """

    def handle(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log.warning("%s again: still stopping, after the message in flight", name)
        else:
            log.warning("%s: stopping after the message in flight", name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _announce(settings: Settings, now: datetime) -> None:
    tz = settings.site.tz
    jobs = jobs_from_settings(settings)
    if not jobs:
        log.warning("no jobs configured: feeds_every_minutes is 0 and no newsletter is enabled")
    upcoming = ", ".join(f"{job.name} {local_time(job.next_slot(now), tz)}" for job in jobs)
    log.info(
        "scheduler started: %d jobs, a tick every %ds; next: %s",
        len(jobs),
        settings.scheduler.tick_seconds,
        upcoming or "none",
    )


def run_forever(
    store: Store,
    settings: Settings,
    *,
    stop: threading.Event,
    clock: Clock = utc_now,
    actions: Mapping[str, Action] | None = None,
    on_tick: Callable[[RunReport], None] | None = None,
) -> None:
    """Tick every ``scheduler.tick_seconds`` until ``stop`` is set.

    The first tick runs at once, so jobs missed while the scheduler was down
    are caught up on start. A tick that raises (say, the database is
    unreachable) is logged with its traceback and the next tick tries again.

    Args:
        store: the publication's store.
        settings: its settings.
        stop: set it to make the loop return (after the message in flight).
        clock: the time each tick runs at.
        actions: passed to :func:`~broadsheet.scheduler.runner.run_due` (tests count calls).
        on_tick: called with each tick's report.
    """
    every = settings.scheduler.tick_seconds
    trigger = schedule.Scheduler()

    def tick() -> None:
        try:
            report = run_due(store, settings, now=clock(), stop=stop, actions=actions)
        except BroadsheetError as exc:
            log.error("the scheduler tick failed: %s; trying again in %ds", exc, every)
            return
        except Exception:
            log.exception("the scheduler tick failed; trying again in %ds", every)
            return
        if on_tick is not None:
            on_tick(report)

    def arm() -> None:
        trigger.clear()
        trigger.every(every).seconds.do(tick)

    _announce(settings, clock())
    arm()
    tick()
    while not stop.is_set():
        trigger.run_pending()
        idle = trigger.idle_seconds
        if idle is None or idle > every:
            # ``schedule`` keeps naive local times: when the wall clock goes
            # back (a fall-back change in the host's zone, a clock fix) its
            # next run recedes by as much. Re-arm so the ticks go on.
            log.debug("the wall clock went back; re-arming the trigger")
            arm()
            idle = every
        stop.wait(max(0.0, min(idle, float(every))))
    log.info("scheduler stopped at %s", local_time(clock(), settings.site.tz))
