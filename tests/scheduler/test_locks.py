"""Locks: two schedulers on one store never run the same job (SQLite and PostgreSQL)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.scheduler.locks import (
    AdvisoryJobLock,
    FileJobLock,
    advisory_key,
    holding,
    job_lock,
    lock_path,
)
from broadsheet.scheduler.runner import run_due
from broadsheet.store import Store
from broadsheet.store.jobs import RunStatus
from tests.conftest import DEMO_NOW
from tests.scheduler import racer
from tests.scheduler.support import Recorder, logged_calls, wait_for

SPAWN = multiprocessing.get_context("spawn")


# --- the locks themselves ----------------------------------------------------------------


def test_lock_files_are_named_after_the_configured_one(settings: Settings) -> None:
    base = settings.scheduler.lock_file
    assert base == settings.root / "broadsheet.lock"
    assert lock_path(base, "feeds") == settings.root / "broadsheet.feeds.lock"
    assert (
        lock_path(base, "edition:weekly:en") == settings.root / "broadsheet.edition-weekly-en.lock"
    )
    assert lock_path(Path("/run/bs"), "feeds") == Path("/run/bs.feeds.lock")


def test_a_file_lock_is_exclusive_per_job(tmp_path: Path) -> None:
    base = tmp_path / "locks" / "broadsheet.lock"
    first = FileJobLock(lock_path(base, "feeds"))
    second = FileJobLock(lock_path(base, "feeds"))
    other = FileJobLock(lock_path(base, "edition:daily:en"))
    with holding(first) as held:
        assert held
        assert not second.acquire()
        assert other.acquire()
        other.release()
    assert second.acquire()
    second.release()
    second.release()  # releasing twice is harmless


def _hold_file_lock(path: str, ready: str) -> None:
    lock = FileJobLock(Path(path))
    assert lock.acquire()
    Path(ready).touch()
    time.sleep(60)


def test_a_file_lock_dies_with_its_process(tmp_path: Path) -> None:
    path, ready = tmp_path / "b.feeds.lock", tmp_path / "ready"
    holder = SPAWN.Process(target=_hold_file_lock, args=(str(path), str(ready)))
    holder.start()
    try:
        assert wait_for(ready.exists)
        assert not FileJobLock(path).acquire()
        os.kill(holder.pid or 0, signal.SIGKILL)
        holder.join(10)
        lock = FileJobLock(path)
        assert lock.acquire()
        lock.release()
    finally:
        holder.kill()


def test_an_unwritable_lock_folder_is_a_clear_error(tmp_path: Path) -> None:
    from broadsheet.errors import StoreError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="scheduler.lock_file: cannot create the lock file"):
        FileJobLock(blocker / "broadsheet.feeds.lock").acquire()


def test_advisory_keys_differ_per_job_and_fit_in_32_bits() -> None:
    names = ["feeds"] + [
        f"edition:{f}:{lang}" for f in ("daily", "weekly") for lang in ("en", "ru", "de")
    ]
    keys = {advisory_key(n) for n in names}
    assert len(keys) == len(names)
    assert all(-(2**31) <= a < 2**31 and -(2**31) <= b < 2**31 for a, b in keys)


def test_an_advisory_lock_is_exclusive_and_released(pg_url: str) -> None:
    one, two = Store.open(pg_url), Store.open(pg_url)
    try:
        first, second = AdvisoryJobLock(one, "feeds"), AdvisoryJobLock(two, "feeds")
        with holding(first) as held:
            assert held
            assert not second.acquire()
            # Another job's lock is free.
            other = AdvisoryJobLock(two, "edition:weekly:en")
            assert other.acquire()
            other.release()
        assert second.acquire()
        second.release()
    finally:
        one.close()
        two.close()


def test_the_store_decides_the_kind_of_lock(
    store: Store, settings: Settings, pg_settings: Settings
) -> None:
    assert isinstance(job_lock(store, settings, "feeds"), FileJobLock)
    pg = Store.open(pg_settings.store.url)
    try:
        assert isinstance(job_lock(pg, pg_settings, "feeds"), AdvisoryJobLock)
    finally:
        pg.close()


# --- two schedulers at once ----------------------------------------------------------------


def _race(settings: Settings, tmp_path: Path, *, processes: int = 2) -> list[dict[str, object]]:
    """Start ``processes`` schedulers on one store at the same instant; the calls they made."""
    log = tmp_path / "calls.jsonl"
    # Ticks over a day, several of them with jobs due.
    nows = [
        (DEMO_NOW + offset).isoformat()
        for offset in (
            timedelta(0),
            timedelta(minutes=1),
            timedelta(minutes=16),
            timedelta(days=1) - timedelta(minutes=59),
        )
    ]
    start = SPAWN.Barrier(processes)
    children = [
        SPAWN.Process(target=racer.tick_at, args=(str(settings.path), str(log), nows, start, 0.15))
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(120)
        assert child.exitcode == 0
    return logged_calls(log)


def _assert_each_slot_ran_once(calls: list[dict[str, object]], store: Store) -> None:
    per_slot = Counter((c["job"], c["slot"]) for c in calls)
    assert per_slot and max(per_slot.values()) == 1, per_slot
    expected = {
        ("feeds", DEMO_NOW),
        ("feeds", DEMO_NOW + timedelta(minutes=15)),
        ("feeds", DEMO_NOW + timedelta(hours=23)),
        ("edition:daily:en", DEMO_NOW - timedelta(hours=1)),
        ("edition:daily:ru", DEMO_NOW - timedelta(hours=1)),
        ("edition:daily:en", DEMO_NOW + timedelta(hours=23)),
        ("edition:daily:ru", DEMO_NOW + timedelta(hours=23)),
        ("edition:weekly:en", DEMO_NOW),
        ("edition:weekly:ru", DEMO_NOW),
    }
    assert {(job, slot) for job, slot in per_slot} == {(j, s.isoformat()) for j, s in expected}
    with store.read() as tx:
        runs = tx.jobs.runs()
    assert {(r.job, r.slot) for r in runs} == expected
    assert {r.status for r in runs} == {RunStatus.OK}


@pytest.mark.slow
def test_two_schedulers_on_sqlite_never_run_a_job_twice(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    calls = _race(settings, tmp_path)
    _assert_each_slot_ran_once(calls, store)
    # Both took part: the work was shared, not serialised behind one lock.
    assert len({c["pid"] for c in calls}) == 2


@pytest.mark.slow
def test_two_schedulers_on_postgresql_never_run_a_job_twice(
    pg_settings: Settings, tmp_path: Path
) -> None:
    store = Store.open(pg_settings.store.url)
    try:
        calls = _race(pg_settings, tmp_path)
        _assert_each_slot_ran_once(calls, store)
        assert len({c["pid"] for c in calls}) == 2
    finally:
        store.close()


# --- a scheduler that dies mid-job -----------------------------------------------------------


def _slow_tick(config: str, log: str) -> None:
    racer.tick_at(config, log, [DEMO_NOW.isoformat()], None, 600.0)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_job_running_elsewhere_is_left_alone_until_its_process_dies(
    backend: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    extra = "[scheduler]\nfeeds_every_minutes = 15\n[newsletters.daily]\nenabled = false\n"
    extra += "[newsletters.weekly]\nenabled = false\n"
    if backend == "postgresql":
        from tests.conftest import BASE_CONFIG

        url = request.getfixturevalue("pg_url")
        base = BASE_CONFIG.replace('url = "sqlite:///broadsheet.db"', f'url = "{url}"')
        settings = make_settings(extra, base=base)
    else:
        settings = make_settings(extra)
    store = Store.open(settings.store.url)
    log = tmp_path / "calls.jsonl"
    stuck = SPAWN.Process(target=_slow_tick, args=(str(settings.path), str(log)))
    stuck.start()
    try:
        # The other process is inside the feeds job, holding its lock.
        assert wait_for(lambda: len(logged_calls(log)) == 1, timeout=60)
        recorder = Recorder()
        report = run_due(
            store, settings, now=DEMO_NOW + timedelta(minutes=1), actions=recorder.actions
        )
        assert report.busy == ("feeds",) and report.outcomes == () and recorder.calls == []
        with store.read() as tx:
            run = tx.jobs.get("feeds", DEMO_NOW)
        assert run is not None and run.status is RunStatus.RUNNING

        # It dies without a word (power cut, OOM killer): its lock goes with it,
        # and the next tick takes the run up again.
        os.kill(stuck.pid or 0, signal.SIGKILL)
        stuck.join(10)

        def taken_up() -> bool:
            report = run_due(
                store, settings, now=DEMO_NOW + timedelta(minutes=2), actions=recorder.actions
            )
            return bool(report.outcomes)

        assert wait_for(taken_up, timeout=30, poll=0.2)
        assert [c.job for c in recorder.calls] == ["feeds"]
        with store.read() as tx:
            run = tx.jobs.get("feeds", DEMO_NOW)
        assert run is not None and run.status is RunStatus.OK and run.attempts == 2
    finally:
        stuck.kill()
        store.close()
