"""The send ledger on SQLite and PostgreSQL: enqueue, claim, reclaim, outcomes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from broadsheet.model import SendState, SubscriberStatus
from broadsheet.store import Store
from tests.delivery.helpers import add_subscribers, save_edition

EDITION = "weekly-en-2026-11-23"


@pytest.fixture
def ledger_store(any_store_url: str, fixed_now: datetime) -> Iterator[Store]:
    store = Store.open(any_store_url)
    save_edition(store, now=fixed_now)
    yield store
    store.close()


def _queue(store: Store, ids: list[int], now: datetime) -> int:
    with store.write() as tx:
        return tx.ledger.enqueue(EDITION, [(i, SendState.QUEUED, "") for i in ids], now=now)


def test_enqueue_is_idempotent(ledger_store: Store, fixed_now: datetime) -> None:
    ids = add_subscribers(ledger_store, 700, now=fixed_now)
    assert _queue(ledger_store, ids, fixed_now) == 700
    assert _queue(ledger_store, ids, fixed_now) == 0
    with ledger_store.write() as tx:
        tx.ledger.mark(EDITION, ids[0], SendState.SENT, now=fixed_now)  # not sending: no change
        counts = tx.ledger.counts(EDITION)
    assert counts[SendState.QUEUED] == 700
    assert sum(counts.values()) == 700


def test_claim_takes_disjoint_batches_and_outcomes_stick(
    ledger_store: Store, fixed_now: datetime
) -> None:
    ids = add_subscribers(ledger_store, 10, now=fixed_now)
    _queue(ledger_store, ids, fixed_now)
    stale = fixed_now - timedelta(minutes=10)
    with ledger_store.write() as tx:
        first = tx.ledger.claim(EDITION, worker="a", limit=4, now=fixed_now, stale_before=stale)
    with ledger_store.write() as tx:
        second = tx.ledger.claim(EDITION, worker="b", limit=4, now=fixed_now, stale_before=stale)
    taken_a = [c.subscriber.id for c in first.items]
    taken_b = [c.subscriber.id for c in second.items]
    assert taken_a == ids[:4] and taken_b == ids[4:8]
    assert all(c.attempts == 1 and not c.resumed for c in first.items)
    with ledger_store.write() as tx:
        assert tx.ledger.mark(
            EDITION, ids[0], SendState.SENT, now=fixed_now, reply="250 ok", message_id="<m@x>"
        )
        # A second outcome for the same row changes nothing.
        assert not tx.ledger.mark(EDITION, ids[0], SendState.FAILED, now=fixed_now)
        assert tx.ledger.release(EDITION, ids[1:4], worker="a", now=fixed_now) == 3
        # Another worker cannot release rows it does not hold.
        assert tx.ledger.release(EDITION, ids[4:8], worker="a", now=fixed_now) == 0
        entry = tx.ledger.get(EDITION, ids[0])
        counts = tx.ledger.counts(EDITION)
    assert entry is not None
    assert entry.state is SendState.SENT and entry.last_reply == "250 ok"
    assert entry.message_id == "<m@x>" and entry.sent == fixed_now and entry.attempts == 1
    assert counts[SendState.SENT] == 1
    assert counts[SendState.QUEUED] == 5
    assert counts[SendState.SENDING] == 4


def test_stale_and_dead_claims_are_taken_over(ledger_store: Store, fixed_now: datetime) -> None:
    ids = add_subscribers(ledger_store, 6, now=fixed_now)
    _queue(ledger_store, ids, fixed_now)
    with ledger_store.write() as tx:
        tx.ledger.claim(EDITION, worker="old", limit=2, now=fixed_now, stale_before=fixed_now)
        tx.ledger.claim(EDITION, worker="dead", limit=2, now=fixed_now, stale_before=fixed_now)
    later = fixed_now + timedelta(seconds=30)
    with ledger_store.write() as tx:
        # Neither claim is older than 60 s; only the dead worker's rows come back.
        batch = tx.ledger.claim(
            EDITION,
            worker="new",
            limit=10,
            now=later,
            stale_before=later - timedelta(seconds=60),
            dead_workers=["dead"],
        )
        assert sorted(tx.ledger.claimants(EDITION)) == ["new", "old"]
    resumed = [c.subscriber.id for c in batch.items if c.resumed]
    fresh = [c.subscriber.id for c in batch.items if not c.resumed]
    assert resumed == ids[2:4]
    assert fresh == ids[4:6]
    # The dead worker never recorded a try: taking its rows over uses up no retries.
    assert all(c.attempts == 1 for c in batch.items if c.resumed)
    much_later = fixed_now + timedelta(minutes=5)
    with ledger_store.write() as tx:
        again = tx.ledger.claim(
            EDITION,
            worker="newer",
            limit=10,
            now=much_later,
            stale_before=much_later - timedelta(seconds=60),
        )
    assert sorted(c.subscriber.id for c in again.items) == ids


def test_inactive_subscribers_are_skipped_at_claim(
    ledger_store: Store, fixed_now: datetime
) -> None:
    ids = add_subscribers(ledger_store, 3, now=fixed_now)
    _queue(ledger_store, ids, fixed_now)
    with ledger_store.write() as tx:
        tx.subscribers.set_status(ids[1], SubscriberStatus.UNSUBSCRIBED, now=fixed_now)
    with ledger_store.write() as tx:
        batch = tx.ledger.claim(
            EDITION, worker="w", limit=10, now=fixed_now, stale_before=fixed_now
        )
        entry = tx.ledger.get(EDITION, ids[1])
    assert [c.subscriber.id for c in batch.items] == [ids[0], ids[2]]
    assert batch.skipped == 1
    assert entry is not None and entry.state is SendState.SKIPPED


def test_refresh_keeps_claims_and_failed_rows_requeue(
    ledger_store: Store, fixed_now: datetime
) -> None:
    ids = add_subscribers(ledger_store, 3, now=fixed_now)
    _queue(ledger_store, ids, fixed_now)
    with ledger_store.write() as tx:
        tx.ledger.claim(EDITION, worker="w", limit=3, now=fixed_now, stale_before=fixed_now)
        later = fixed_now + timedelta(minutes=9)
        assert tx.ledger.refresh(EDITION, ids, worker="w", now=later) == set(ids)
        assert tx.ledger.refresh(EDITION, ids, worker="x", now=later) == set()
        tx.ledger.mark(EDITION, ids[0], SendState.FAILED, now=later, reply="451 later")
    after_timeout = fixed_now + timedelta(minutes=11)
    with ledger_store.write() as tx:
        batch = tx.ledger.claim(
            EDITION,
            worker="y",
            limit=10,
            now=after_timeout,
            stale_before=after_timeout - timedelta(minutes=10),
        )
        # The refreshed claim (9 minutes) is not stale after 11 minutes.
        assert batch.items == []
        assert tx.ledger.requeue_failed(EDITION, max_attempts=1, now=after_timeout) == 0
        assert tx.ledger.requeue_failed(EDITION, max_attempts=2, now=after_timeout) == 1
        assert tx.ledger.counts(EDITION)[SendState.QUEUED] == 1


@pytest.mark.postgres
def test_skip_locked_lets_concurrent_claims_proceed(pg_url: str, fixed_now: datetime) -> None:
    store = Store.open(pg_url)
    try:
        save_edition(store, now=fixed_now)
        ids = add_subscribers(store, 40, now=fixed_now)
        _queue(store, ids, fixed_now)
        holding = threading.Event()
        release = threading.Event()
        first: list[int] = []

        def slow_claim() -> None:
            with store.write() as tx:
                batch = tx.ledger.claim(
                    EDITION, worker="a", limit=10, now=fixed_now, stale_before=fixed_now
                )
                first.extend(c.subscriber.id for c in batch.items)
                holding.set()
                release.wait(10)

        thread = threading.Thread(target=slow_claim)
        thread.start()
        assert holding.wait(10)
        # While the first claim's transaction is still open, a second claim
        # neither waits for it nor takes its rows.
        with store.write() as tx:
            batch = tx.ledger.claim(
                EDITION, worker="b", limit=10, now=fixed_now, stale_before=fixed_now
            )
        release.set()
        thread.join()
        second = [c.subscriber.id for c in batch.items]
        assert first == ids[:10]
        assert second == ids[10:20]
    finally:
        store.close()
