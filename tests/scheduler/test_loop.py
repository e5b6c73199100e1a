"""The long-running loop: ticks on the wall clock, survives errors, stops cleanly.

The wall clock matters here (``schedule`` reads it), so it is moved with
time-machine; ticks are a second apart to keep the tests short.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
import time_machine

from broadsheet.config import Settings
from broadsheet.scheduler.actions import ActionResult, JobContext
from broadsheet.scheduler.loop import run_forever, stop_on_signals
from broadsheet.scheduler.runner import RunReport
from broadsheet.store import Store
from broadsheet.store.jobs import RunStatus
from tests.conftest import DEMO_NOW
from tests.scheduler.support import Recorder, wait_for

ALL = ["feeds", "edition:daily:en", "edition:daily:ru", "edition:weekly:en", "edition:weekly:ru"]


@pytest.fixture
def fast_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings("[scheduler]\ntick_seconds = 1\n")


@pytest.fixture
def fast_store(fast_settings: Settings) -> Iterator[Store]:
    store = Store.open(fast_settings.store.url)
    yield store
    store.close()


class Loop:
    """run_forever in a thread, with its reports collected."""

    def __init__(self, store: Store, settings: Settings, **kwargs: object) -> None:
        self.stop = threading.Event()
        self.reports: list[RunReport] = []
        self.thread = threading.Thread(
            target=run_forever,
            args=(store, settings),
            kwargs={"stop": self.stop, "on_tick": self.reports.append, **kwargs},
        )

    def __enter__(self) -> Loop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()

    def ticks(self, count: int, timeout: float = 20) -> bool:
        return wait_for(lambda: len(self.reports) >= count, timeout=timeout)


def test_the_loop_ticks_on_the_wall_clock_and_catches_up_at_start(
    fast_store: Store, fast_settings: Settings
) -> None:
    recorder = Recorder()
    with time_machine.travel(DEMO_NOW + timedelta(seconds=5), tick=True):
        with Loop(fast_store, fast_settings, actions=recorder.actions) as loop:
            assert loop.ticks(3)
        finish = datetime.now(DEMO_NOW.tzinfo)
    # The first tick, at start, ran everything due; the next ones nothing.
    assert [c.job for c in recorder.calls] == ALL
    assert loop.reports[0].outcomes and not any(r.outcomes for r in loop.reports[1:])
    nows = [r.now for r in loop.reports]
    assert nows == sorted(nows)
    assert nows[0] > DEMO_NOW and nows[-1] <= finish
    # About a second apart: the trigger's interval.
    gaps = [b - a for a, b in zip(nows, nows[1:], strict=False)]
    assert all(timedelta(seconds=0.5) < gap < timedelta(seconds=5) for gap in gaps), gaps


def test_a_failing_job_or_tick_never_stops_the_loop(
    fast_store: Store, fast_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(fail={"feeds"})
    calls = 0

    def clock() -> datetime:
        nonlocal calls
        calls += 1
        if calls == 3:  # the start-up line and first tick read it first
            raise RuntimeError("clock broke on purpose")
        return DEMO_NOW + timedelta(minutes=calls)

    with Loop(fast_store, fast_settings, actions=recorder.actions, clock=clock) as loop:
        assert loop.ticks(3)
    first = loop.reports[0]
    feeds = first.get("feeds")
    assert feeds is not None and feeds.status is RunStatus.FAILED
    assert [o.job for o in first.outcomes] == ALL  # the others still ran
    assert "the scheduler tick failed" in caplog.text and "clock broke on purpose" in caplog.text
    # Feeds ran again at their next slot (:15), not at the following ticks.
    with fast_store.read() as tx:
        assert [r.status for r in tx.jobs.runs("feeds")] == [RunStatus.FAILED]


def test_the_loop_keeps_ticking_when_the_wall_clock_goes_back(
    fast_store: Store, fast_settings: Settings
) -> None:
    travel = time_machine.travel(DEMO_NOW, tick=True)
    with travel as traveller, Loop(fast_store, fast_settings, actions=Recorder().actions) as loop:
        assert loop.ticks(2)
        # An hour back, as a fall-back change in the host's zone does to the
        # naive local times ``schedule`` keeps.
        traveller.move_to(DEMO_NOW - timedelta(hours=1))
        seen = len(loop.reports)
        assert loop.ticks(seen + 2, timeout=10)
    assert loop.reports[-1].now < DEMO_NOW


def test_a_stop_lets_the_running_job_finish_its_step_and_record_it(
    fast_store: Store, fast_settings: Settings
) -> None:
    started = threading.Event()

    def long_send(ctx: JobContext) -> ActionResult | None:
        if ctx.job.name != "edition:weekly:en":
            return None
        started.set()
        # A sender checks the stop between messages.
        for sent in range(1, 1000):
            if ctx.stop is not None and ctx.stop.wait(0.01):
                return ActionResult(counts={"sent": sent}, interrupted=True)
        return ActionResult(counts={"sent": 999})

    recorder = Recorder(on_call=long_send)
    with time_machine.travel(DEMO_NOW, tick=True):
        loop = Loop(fast_store, fast_settings, actions=recorder.actions)
        with loop:
            assert started.wait(20)
    report = loop.reports[-1]
    assert report.stopped
    weekly = report.get("edition:weekly:en")
    assert weekly is not None and weekly.status is RunStatus.INTERRUPTED
    assert report.get("edition:weekly:ru") is None  # not started after the stop
    with fast_store.read() as tx:
        run = tx.jobs.get("edition:weekly:en", DEMO_NOW)
    assert run is not None and run.status is RunStatus.INTERRUPTED and run.counts["sent"] >= 1


def test_sigterm_and_sigint_set_the_stop_and_the_old_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    for signum in (signal.SIGTERM, signal.SIGINT):
        with stop_on_signals(threading.Event()) as stop:
            os.kill(os.getpid(), signum)
            assert stop.wait(5)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_sigterm_stops_the_loop_in_the_main_thread(
    fast_store: Store, fast_settings: Settings
) -> None:
    reports: list[RunReport] = []

    def on_tick(report: RunReport) -> None:
        reports.append(report)
        if len(reports) == 2:
            threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGTERM)).start()

    with time_machine.travel(DEMO_NOW, tick=True), stop_on_signals(threading.Event()) as stop:
        run_forever(
            fast_store, fast_settings, stop=stop, actions=Recorder().actions, on_tick=on_tick
        )
    assert stop.is_set() and len(reports) >= 2
