"""run_due: what is due, catch-up, grace, failures, stops, and a simulated month.

The jobs' actions are counting stand-ins (tests/scheduler/support.py); the
runner, store, locks and records are the real ones. The clock is passed in.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from broadsheet.config import Settings
from broadsheet.model import Frequency
from broadsheet.scheduler.actions import ActionResult, JobContext
from broadsheet.scheduler.jobs import jobs_from_settings
from broadsheet.scheduler.runner import run_due
from broadsheet.store import Store
from broadsheet.store.jobs import RunStatus
from tests.conftest import DEMO_NOW
from tests.scheduler.support import Recorder, ticks

EDITIONS = ["edition:daily:en", "edition:daily:ru", "edition:weekly:en", "edition:weekly:ru"]
ALL = ["feeds", *EDITIONS]
MSK = timedelta(hours=3)


def test_the_first_tick_runs_every_job_feeds_first(store: Store, settings: Settings) -> None:
    recorder = Recorder()
    report = run_due(store, settings, now=DEMO_NOW, actions=recorder.actions)

    assert [o.job for o in report.outcomes] == ALL
    assert [c.job for c in recorder.calls] == ALL
    assert all(o.status is RunStatus.OK for o in report.outcomes)
    slots = {o.job: o.slot for o in report.outcomes}
    # Monday 08:00 in Moscow: the weekly slot is now, the daily one was at 07:00.
    assert slots["feeds"] == DEMO_NOW
    assert slots["edition:weekly:en"] == DEMO_NOW
    assert slots["edition:daily:ru"] == DEMO_NOW - timedelta(hours=1)
    with store.read() as tx:
        runs = tx.jobs.runs()
    assert sorted(r.job for r in runs) == sorted(ALL)
    assert {r.status for r in runs} == {RunStatus.OK}
    assert all(r.started == DEMO_NOW and r.duration is not None for r in runs)


def test_a_second_tick_for_the_same_time_does_nothing(store: Store, settings: Settings) -> None:
    recorder = Recorder()
    run_due(store, settings, now=DEMO_NOW, actions=recorder.actions)
    again = run_due(store, settings, now=DEMO_NOW, actions=recorder.actions)
    later = run_due(store, settings, now=DEMO_NOW + timedelta(minutes=14), actions=recorder.actions)

    assert again.outcomes == () and later.outcomes == ()
    assert len(recorder.calls) == len(ALL)
    # The next feeds slot (:15) is due; nothing else is.
    at_15 = run_due(store, settings, now=DEMO_NOW + timedelta(minutes=15), actions=recorder.actions)
    assert [o.job for o in at_15.outcomes] == ["feeds"]


def test_replaying_an_earlier_time_runs_nothing_already_superseded(
    store: Store, settings: Settings
) -> None:
    recorder = Recorder()
    run_due(store, settings, now=DEMO_NOW, actions=recorder.actions)
    run_due(store, settings, now=DEMO_NOW - timedelta(days=7), actions=recorder.actions)
    assert len(recorder.calls) == len(ALL)


def test_a_failing_job_is_recorded_logged_and_retried_at_its_next_slot(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(fail={"edition:weekly:en"})
    with caplog.at_level(logging.INFO, logger="broadsheet.scheduler"):
        report = run_due(store, settings, now=DEMO_NOW, actions=recorder.actions)

    failed = report.get("edition:weekly:en")
    assert failed is not None and failed.status is RunStatus.FAILED
    assert failed.error == "RuntimeError: edition:weekly:en broke on purpose"
    # The others still ran, after it too.
    assert [o.job for o in report.outcomes] == ALL
    assert not report.ok and report.failed == [failed]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert "runs again at its next slot, 2026-11-30 08:00 MSK" in errors[0].getMessage()
    # One line per run: five jobs, five records.
    per_run = [r for r in caplog.records if r.name == "broadsheet.scheduler.runner"]
    assert len(per_run) == len(ALL)
    with store.read() as tx:
        run = tx.jobs.get("edition:weekly:en", DEMO_NOW)
        assert run is not None and run.status is RunStatus.FAILED
        assert tx.jobs.last_failure("edition:weekly:en") == run

    # Not retried at the next tick, nor the next day...
    recorder.fail.clear()
    for later in (timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)):
        run_due(store, settings, now=DEMO_NOW + later, actions=recorder.actions)
    assert recorder.per_job()["edition:weekly:en"] == 1
    # ...but at its next slot.
    run_due(store, settings, now=DEMO_NOW + timedelta(days=7), actions=recorder.actions)
    assert recorder.slots("edition:weekly:en") == [DEMO_NOW, DEMO_NOW + timedelta(days=7)]


def test_an_edition_later_than_its_grace_is_skipped_not_sent(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    grace = timedelta(minutes=settings.newsletters[Frequency.WEEKLY].grace_minutes)
    with caplog.at_level(logging.WARNING, logger="broadsheet.scheduler"):
        report = run_due(
            store, settings, now=DEMO_NOW + grace + timedelta(minutes=1), actions=recorder.actions
        )

    weekly = report.get("edition:weekly:en")
    assert weekly is not None and weekly.status is RunStatus.SKIPPED
    assert "181 minutes late (grace 180 minutes)" in weekly.note
    assert "edition:weekly:en" not in recorder.per_job()
    # The daily edition (07:00) is even later; the feeds are never too late.
    assert recorder.per_job() == Counter({"feeds": 1})
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("edition:weekly:ru 2026-11-23 08:00 MSK: skipped" in w for w in warnings)
    # A skipped slot is settled: it never runs later either.
    run_due(store, settings, now=DEMO_NOW + grace + timedelta(minutes=2), actions=recorder.actions)
    assert recorder.per_job() == Counter({"feeds": 1})


def test_an_edition_exactly_at_its_grace_still_goes(store: Store, settings: Settings) -> None:
    recorder = Recorder()
    grace = timedelta(minutes=settings.newsletters[Frequency.WEEKLY].grace_minutes)
    run_due(store, settings, now=DEMO_NOW + grace, actions=recorder.actions)
    assert recorder.slots("edition:weekly:en") == [DEMO_NOW]


def test_a_scheduler_down_for_three_days_catches_up_once_per_job(
    store: Store, settings: Settings
) -> None:
    recorder = Recorder()
    for now in ticks(DEMO_NOW - timedelta(hours=2), DEMO_NOW, timedelta(minutes=5)):
        run_due(store, settings, now=now, actions=recorder.actions)
    before = len(recorder.calls)

    # Down from Monday 08:00 to Thursday 07:40 (Moscow), then a tick.
    back = DEMO_NOW + timedelta(days=3) - timedelta(minutes=20)
    report = run_due(store, settings, now=back, actions=recorder.actions)

    thursday_0700 = datetime(2026, 11, 26, 7, 0, tzinfo=UTC) - MSK
    assert [(o.job, o.slot) for o in report.outcomes] == [
        ("feeds", datetime(2026, 11, 26, 4, 30, tzinfo=UTC)),
        ("edition:daily:en", thursday_0700),
        ("edition:daily:ru", thursday_0700),
    ]
    assert len(recorder.calls) == before + 3
    # Nothing was recorded for the slots missed in between.
    with store.read() as tx:
        missed = tx.jobs.runs(
            since=DEMO_NOW + timedelta(minutes=1), until=back - timedelta(hours=1)
        )
    assert missed == []
    # And the next tick does nothing more.
    assert run_due(store, settings, now=back + timedelta(seconds=30)).outcomes == ()


def test_catching_up_beyond_the_grace_skips_editions_but_builds_feeds(
    store: Store, settings: Settings
) -> None:
    recorder = Recorder()
    run_due(store, settings, now=DEMO_NOW, actions=recorder.actions)
    back = datetime(2026, 11, 26, 11, 0, tzinfo=UTC) - MSK  # Thursday 11:00, 4 h after 07:00
    report = run_due(store, settings, now=back, actions=recorder.actions)
    assert {o.job: o.status for o in report.outcomes} == {
        "feeds": RunStatus.OK,
        "edition:daily:en": RunStatus.SKIPPED,
        "edition:daily:ru": RunStatus.SKIPPED,
    }
    assert recorder.slots("feeds")[-1] == back


def test_a_set_stop_starts_nothing(store: Store, settings: Settings) -> None:
    stop = threading.Event()
    stop.set()
    recorder = Recorder()
    report = run_due(store, settings, now=DEMO_NOW, stop=stop, actions=recorder.actions)
    assert report.stopped and report.outcomes == () and recorder.calls == []


def test_a_stop_mid_job_records_it_interrupted_and_the_next_tick_takes_it_up(
    store: Store, settings: Settings
) -> None:
    stop = threading.Event()

    def interrupt_weekly_en(ctx: JobContext) -> ActionResult | None:
        if ctx.job.name == "edition:weekly:en" and not stop.is_set():
            stop.set()
            return ActionResult(counts={"sent": 3}, note="weekly-en-2026-11-23", interrupted=True)
        return None

    recorder = Recorder(on_call=interrupt_weekly_en)
    first = run_due(store, settings, now=DEMO_NOW, stop=stop, actions=recorder.actions)

    assert first.stopped
    assert [(o.job, o.status) for o in first.outcomes] == [
        ("feeds", RunStatus.OK),
        ("edition:daily:en", RunStatus.OK),
        ("edition:daily:ru", RunStatus.OK),
        ("edition:weekly:en", RunStatus.INTERRUPTED),
    ]
    with store.read() as tx:
        run = tx.jobs.get("edition:weekly:en", DEMO_NOW)
    assert run is not None and run.status is RunStatus.INTERRUPTED and run.counts == {"sent": 3}

    second = run_due(store, settings, now=DEMO_NOW + timedelta(minutes=2), actions=recorder.actions)
    assert [(o.job, o.status, o.attempt) for o in second.outcomes] == [
        ("edition:weekly:en", RunStatus.OK, 2),
        ("edition:weekly:ru", RunStatus.OK, 1),
    ]
    assert recorder.slots("edition:weekly:en") == [DEMO_NOW, DEMO_NOW]
    assert run_due(store, settings, now=DEMO_NOW + timedelta(minutes=3)).outcomes == ()


def test_an_interrupted_edition_taken_up_past_its_grace_is_skipped_with_advice(
    store: Store, settings: Settings
) -> None:
    stop = threading.Event()
    weekly = [j for j in jobs_from_settings(settings) if j.name == "edition:weekly:en"]

    def interrupt(ctx: JobContext) -> ActionResult:
        stop.set()
        return ActionResult(interrupted=True)

    run_due(store, settings, now=DEMO_NOW, stop=stop, actions={"edition": interrupt}, jobs=weekly)
    recorder = Recorder()
    report = run_due(
        store, settings, now=DEMO_NOW + timedelta(hours=4), actions=recorder.actions, jobs=weekly
    )
    [outcome] = report.outcomes
    assert outcome.status is RunStatus.SKIPPED and outcome.attempt == 2
    assert "`broadsheet send weekly-en-2026-11-23` finishes the interrupted send" in outcome.note
    assert recorder.calls == []


def test_a_run_left_running_by_a_dead_process_is_taken_up_again(
    store: Store, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with store.write() as tx:
        tx.jobs.start("edition:weekly:en", DEMO_NOW, now=DEMO_NOW, host="gone:4242")
    recorder = Recorder()
    with caplog.at_level(logging.WARNING, logger="broadsheet.scheduler"):
        report = run_due(
            store, settings, now=DEMO_NOW + timedelta(minutes=1), actions=recorder.actions
        )
    outcome = report.get("edition:weekly:en")
    assert outcome is not None and outcome.status is RunStatus.OK and outcome.attempt == 2
    assert any(
        r.getMessage().startswith(
            "edition:weekly:en 2026-11-23 08:00 MSK: the run started by gone:4242 never finished"
        )
        for r in caplog.records
    )


def test_jobs_come_from_the_configuration(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        """
        [newsletters.daily]
        enabled = false
        [scheduler]
        feeds_every_minutes = 0
        """
    )
    recorder = Recorder()
    report = run_due(
        Store.open(settings.store.url), settings, now=DEMO_NOW, actions=recorder.actions
    )
    assert [o.job for o in report.outcomes] == ["edition:weekly:en", "edition:weekly:ru"]


# --- a simulated month ------------------------------------------------------------


@pytest.mark.slow
def test_a_month_of_ticks_runs_exactly_the_expected_jobs(
    make_settings: Callable[..., Settings],
) -> None:
    # November 2026 in Moscow, a tick every 10 minutes, feeds every hour
    # (every quarter hour is the next test's, over a day).
    settings = make_settings("[scheduler]\nfeeds_every_minutes = 60\n")
    store = Store.open(settings.store.url)
    tick = timedelta(minutes=10)
    start = datetime(2026, 11, 1, 0, 0, tzinfo=UTC) - MSK
    end = datetime(2026, 12, 1, 0, 0, tzinfo=UTC) - MSK - timedelta(seconds=1)
    recorder = Recorder()
    for now in ticks(start, end, tick):
        report = run_due(store, settings, now=now, actions=recorder.actions)
        assert report.ok and not report.busy

    days = [datetime(2026, 11, d, tzinfo=UTC) - MSK for d in range(1, 31)]
    mondays = [d for d in days if (d + MSK).weekday() == 0]
    expected = {
        "feeds": [start + timedelta(hours=i) for i in range(30 * 24)],
        "edition:daily:en": [d + timedelta(hours=7) for d in days],
        "edition:daily:ru": [d + timedelta(hours=7) for d in days],
        "edition:weekly:en": [d + timedelta(hours=8) for d in mondays],
        "edition:weekly:ru": [d + timedelta(hours=8) for d in mondays],
    }
    assert len(mondays) == 5
    for job, slots in expected.items():
        assert recorder.slots(job) == slots, job
    # Each ran at the first tick at or after its slot: never early, never late.
    for call in recorder.calls:
        assert timedelta(0) <= call.now - call.slot < tick
    with store.read() as tx:
        runs = tx.jobs.runs(since=start)
    assert len(runs) == sum(len(s) for s in expected.values())
    assert {r.status for r in runs} == {RunStatus.OK}
    store.close()


def test_a_day_of_ticks_builds_the_feeds_every_quarter_hour(
    store: Store, settings: Settings
) -> None:
    # Ticks every 7 minutes drift across the :00 :15 :30 :45 slots.
    start = datetime(2026, 11, 24, 0, 0, tzinfo=UTC) - MSK
    recorder = Recorder()
    for now in ticks(start, start + timedelta(days=1, seconds=-1), timedelta(minutes=7)):
        run_due(store, settings, now=now, actions=recorder.actions)
    assert recorder.slots("feeds") == [start + timedelta(minutes=15 * i) for i in range(96)]
    assert recorder.slots("edition:daily:en") == [start + timedelta(hours=7)]
    # Monday's editions were long past their grace at the first tick: skipped.
    assert recorder.slots("edition:weekly:en") == []
    with store.read() as tx:
        weekly = tx.jobs.get("edition:weekly:en", datetime(2026, 11, 23, 5, 0, tzinfo=UTC))
    assert weekly is not None and weekly.status is RunStatus.SKIPPED
    for call in recorder.calls:
        assert timedelta(0) <= call.now - call.slot < timedelta(minutes=7)
