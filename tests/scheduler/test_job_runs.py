"""The job_runs repository, on SQLite and PostgreSQL: one run per job and slot."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from broadsheet.store import Store
from broadsheet.store.jobs import RESUMABLE, RunStatus
from tests.conftest import DEMO_NOW

SLOT = DEMO_NOW
LATER = DEMO_NOW + timedelta(days=7)


@pytest.fixture
def runs_store(any_store_url: str) -> Iterator[Store]:
    store = Store.open(any_store_url)
    yield store
    store.close()


def test_a_slot_starts_once(runs_store: Store) -> None:
    with runs_store.write() as tx:
        run = tx.jobs.start("feeds", SLOT, now=SLOT, host="here:1")
        assert run is not None
        assert (run.job, run.slot, run.status, run.attempts) == ("feeds", SLOT, "running", 1)
        assert tx.jobs.start("feeds", SLOT, now=SLOT, host="there:2") is None
        # Another job, or another slot, is another run.
        assert tx.jobs.start("edition:weekly:en", SLOT, now=SLOT, host="here:1") is not None
        assert tx.jobs.start("feeds", LATER, now=LATER, host="here:1") is not None
    with runs_store.read() as tx:
        assert len(tx.jobs.runs()) == 3
        assert tx.jobs.get("feeds", SLOT) == run


def test_finishing_records_status_duration_counts_and_error(runs_store: Store) -> None:
    with runs_store.write() as tx:
        ok = tx.jobs.start("feeds", SLOT, now=SLOT, host="h:1")
        bad = tx.jobs.start("edition:weekly:en", SLOT, now=SLOT, host="h:1")
        assert ok is not None and bad is not None
        tx.jobs.finish(
            ok.id,
            status=RunStatus.OK,
            finished=SLOT + timedelta(seconds=2),
            duration=1.23456,
            counts={"written": 12},
            note="public/feeds",
        )
        tx.jobs.finish(
            bad.id,
            status=RunStatus.FAILED,
            finished=SLOT,
            duration=0.5,
            error="DeliveryError: the SMTP server refused",
        )
    with runs_store.read() as tx:
        done = tx.jobs.get("feeds", SLOT)
        failed = tx.jobs.last_failure("edition:weekly:en")
        assert tx.jobs.last_success("edition:weekly:en") is None
        assert tx.jobs.last_success("feeds") == done
    assert done is not None and failed is not None
    assert done.status is RunStatus.OK and done.duration == 1.235
    assert done.counts == {"written": 12} and done.note == "public/feeds"
    assert done.finished == SLOT + timedelta(seconds=2)
    assert failed.error == "DeliveryError: the SMTP server refused"
    with pytest.raises(ValueError, match="running"), runs_store.write() as tx:
        tx.jobs.finish(ok.id, status=RunStatus.RUNNING, finished=SLOT, duration=0)


def test_the_last_done_slot_counts_ok_and_skipped_only(runs_store: Store) -> None:
    statuses = [RunStatus.OK, RunStatus.SKIPPED, RunStatus.FAILED, RunStatus.INTERRUPTED]
    with runs_store.write() as tx:
        for days, status in enumerate(statuses):
            slot = SLOT + timedelta(days=days)
            run = tx.jobs.start("edition:daily:en", slot, now=slot, host="h:1")
            assert run is not None
            tx.jobs.finish(run.id, status=status, finished=slot, duration=0.1)
    with runs_store.read() as tx:
        assert tx.jobs.last_done_slot("edition:daily:en") == SLOT + timedelta(days=1)
        assert tx.jobs.last_done_slot("feeds") is None
        assert tx.jobs.last_done_slots(["edition:daily:en", "feeds"]) == {
            "edition:daily:en": SLOT + timedelta(days=1)
        }
        latest = tx.jobs.latest("edition:daily:en")
        assert latest is not None and latest.status is RunStatus.INTERRUPTED
        assert tx.jobs.names() == ["edition:daily:en"]
        assert [
            r.status for r in tx.jobs.runs("edition:daily:en", since=SLOT + timedelta(days=2))
        ] == [
            RunStatus.FAILED,
            RunStatus.INTERRUPTED,
        ]


def test_at_slots_finds_each_jobs_own_slot(runs_store: Store) -> None:
    with runs_store.write() as tx:
        tx.jobs.start("feeds", SLOT, now=SLOT, host="h:1")
        tx.jobs.start("edition:weekly:en", LATER, now=LATER, host="h:1")
    with runs_store.read() as tx:
        # feeds ran at SLOT but is asked about LATER, and the reverse.
        assert tx.jobs.at_slots({"feeds": LATER, "edition:weekly:en": SLOT}) == {}
        found = tx.jobs.at_slots({"feeds": SLOT, "edition:weekly:en": LATER, "other": SLOT})
        assert sorted(found) == ["edition:weekly:en", "feeds"]
        assert tx.jobs.at_slots({}) == {}


def test_an_interrupted_run_is_taken_up_by_one_restart_only(runs_store: Store) -> None:
    with runs_store.write() as tx:
        run = tx.jobs.start("edition:weekly:en", SLOT, now=SLOT, host="a:1")
        assert run is not None
        tx.jobs.finish(
            run.id, status=RunStatus.INTERRUPTED, finished=SLOT, duration=3, counts={"sent": 5}
        )
    later = SLOT + timedelta(minutes=1)
    with runs_store.write() as tx:
        again = tx.jobs.restart("edition:weekly:en", SLOT, expect=RESUMABLE, now=later, host="b:2")
        assert again is not None
        assert (again.status, again.attempts, again.host, again.started) == (
            RunStatus.RUNNING,
            2,
            "b:2",
            later,
        )
        assert again.finished is None and again.duration is None
        # A second taker finds it running, which it did not expect.
        assert (
            tx.jobs.restart(
                "edition:weekly:en", SLOT, expect=[RunStatus.INTERRUPTED], now=later, host="c:3"
            )
            is None
        )
        assert tx.jobs.restart("nothing", SLOT, expect=RESUMABLE, now=later, host="c:3") is None


def test_racing_starts_of_one_slot_let_exactly_one_win(runs_store: Store) -> None:
    # Eight threads, each with its own connection and transaction, insert the
    # same (job, slot) at once: the unique key lets one through.
    barrier = threading.Barrier(8)
    winners: list[int] = []
    errors: list[BaseException] = []

    def race(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            with runs_store.write() as tx:
                if tx.jobs.start("feeds", SLOT, now=SLOT, host=f"t:{n}") is not None:
                    winners.append(n)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(winners) == 1
    with runs_store.read() as tx:
        [run] = tx.jobs.runs()
    assert run.host == f"t:{winners[0]}"
