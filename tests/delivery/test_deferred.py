"""Deferred retries: a 4xx waits in the ledger and later scheduler ticks deliver it once.

Real SQLite store, real SMTP server (aiosmtpd) answering 451 on cue, the
real command line (``send``, ``send --status``, ``run --at``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.emails import retry_deferred, send_edition
from broadsheet.emails.delivery.retry import deferral, wait_before
from broadsheet.model import SendState
from broadsheet.store import Store
from tests.conftest import BASE_CONFIG
from tests.delivery.helpers import (
    SmtpServer,
    add_subscribers,
    cli_command,
    cli_env,
    save_edition,
    smtp_config,
)

EDITION = "weekly-en-2026-11-23"

QUIET_SCHEDULER = """
[scheduler]
feeds_every_minutes = 0
[newsletters.daily]
enabled = false
[newsletters.weekly]
enabled = false
"""


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADSHEET_SECRET", "a-test-secret")


def invoke(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(settings.path)])
    return result.exit_code, result.output


def test_the_schedule_doubles_from_five_minutes_to_an_hour_and_stops_at_retry_for() -> None:
    waits = [wait_before(n) for n in range(1, 7)]
    assert [w.total_seconds() / 60 for w in waits] == [5, 10, 20, 40, 60, 60]
    three_days = timedelta(days=3)
    assert deferral(1, three_days) == timedelta(minutes=5)
    # 5 + 10 + 20 + 40 minutes, then hourly: the last try within three days.
    tries = 1
    while deferral(tries, three_days) is not None:
        tries += 1
    elapsed = sum((wait_before(n) for n in range(1, tries)), timedelta(0))
    assert elapsed <= three_days < elapsed + wait_before(tries)
    assert deferral(1, timedelta(0)) is None  # retry_for = 0: nothing is deferred


def test_451_waits_and_later_ticks_deliver_it_once(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer, fixed_now: datetime
) -> None:
    settings = make_settings(smtp_config(smtp_server.port, retries=2) + QUIET_SCHEDULER)
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        ids = add_subscribers(store, 4, now=fixed_now)
    finally:
        store.close()
    # Three tries in the send itself, three at the first due tick: all 451.
    smtp_server.handler.greylist = {"reader2@example.org": 6}
    at = fixed_now.isoformat()
    code, out = invoke(settings, "send", EDITION, "--at", at)
    assert code == 0, out
    assert "3 sent" in out and "1 deferred" in out
    assert "wait for a retry" in out
    assert smtp_server.handler.per_recipient()["reader2@example.org"] == 0

    code, out = invoke(settings, "send", EDITION, "--status")
    assert code == 0, out
    assert "waiting for a retry" in out
    assert "451 4.7.1 Greylisted" in out
    assert "2026-11-23 08:05" in out  # the next attempt, in site.timezone

    # Not yet due: the tick leaves it waiting.
    code, out = invoke(settings, "run", "--at", (fixed_now + timedelta(minutes=2)).isoformat())
    assert code == 0, out
    assert "retries" not in out
    # Due: tried once more (451 again), deferred for ten minutes.
    code, out = invoke(settings, "run", "--at", (fixed_now + timedelta(minutes=6)).isoformat())
    assert code == 0, out
    assert "retries" in out
    store = Store.open(settings.store.url)
    try:
        with store.read() as tx:
            entry = tx.ledger.get(EDITION, ids[2])
        assert entry is not None and entry.state is SendState.DEFERRED
        assert entry.next_attempt is not None
        assert entry.next_attempt - (fixed_now + timedelta(minutes=6)) >= timedelta(minutes=10)
    finally:
        store.close()
    assert smtp_server.handler.per_recipient()["reader2@example.org"] == 0
    code, out = invoke(settings, "status", "--at", (fixed_now + timedelta(minutes=7)).isoformat())
    assert code == 0, out
    assert "retries" in out and "08:16" in out
    # Due again: delivered; later ticks change nothing.
    for minutes in (17, 18, 90):
        code, out = invoke(
            settings, "run", "--at", (fixed_now + timedelta(minutes=minutes)).isoformat()
        )
        assert code == 0, out
    assert smtp_server.handler.per_recipient() == {f"reader{i}@example.org": 1 for i in range(4)}
    store = Store.open(settings.store.url)
    try:
        with store.read() as tx:
            entry = tx.ledger.get(EDITION, ids[2])
            counts = tx.ledger.counts(EDITION)
        assert entry is not None and entry.state is SendState.SENT
        assert entry.next_attempt is None and entry.attempts == 3
        assert counts[SendState.SENT] == 4 and counts[SendState.DEFERRED] == 0
    finally:
        store.close()


def test_a_deferred_message_is_given_up_once_retry_for_has_gone_by(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer, fixed_now: datetime
) -> None:
    settings = make_settings(smtp_config(smtp_server.port, retries=0, retry_for="15m"))
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        ids = add_subscribers(store, 2, now=fixed_now)
        smtp_server.handler.greylist = {"reader1@example.org": 1000}
        first = send_edition(store, settings, EDITION, now=fixed_now)
        assert (first.sent, first.deferred, first.waiting) == (1, 1, 1)
        # Nothing is due before the next attempt.
        assert retry_deferred(store, settings, now=fixed_now + timedelta(minutes=4)) == {}
        # 5 minutes, then 10: still within the 15 minutes.
        second = retry_deferred(store, settings, now=fixed_now + timedelta(minutes=6))
        assert second[EDITION].deferred == 1 and second[EDITION].sent == 0
        # The next wait (20 minutes) would pass retry_for: given up as failed.
        third = retry_deferred(store, settings, now=fixed_now + timedelta(minutes=17))
        assert third[EDITION].failed == 1 and third[EDITION].waiting == 0
        with store.read() as tx:
            entry = tx.ledger.get(EDITION, ids[1])
        assert entry is not None and entry.state is SendState.FAILED
        assert entry.last_reply.startswith("451 4.7.1 Greylisted") and entry.attempts == 3
        assert retry_deferred(store, settings, now=fixed_now + timedelta(days=1)) == {}
        assert smtp_server.handler.per_recipient() == {"reader0@example.org": 1}
    finally:
        store.close()


def test_a_due_deferred_row_is_claimed_by_one_sender_only(
    any_store_url: str, fixed_now: datetime
) -> None:
    store = Store.open(any_store_url)
    try:
        _claim_deferred(store, fixed_now)
    finally:
        store.close()


def _claim_deferred(store: Store, fixed_now: datetime) -> None:
    save_edition(store, now=fixed_now)
    ids = add_subscribers(store, 3, now=fixed_now)
    stale = fixed_now - timedelta(hours=1)
    with store.write() as tx:
        tx.ledger.enqueue(EDITION, [(i, SendState.QUEUED, "") for i in ids], now=fixed_now)
        tx.ledger.claim(EDITION, worker="w1", limit=3, now=fixed_now, stale_before=stale)
        for i in ids:
            tx.ledger.defer(
                EDITION,
                i,
                now=fixed_now,
                next_attempt=fixed_now + timedelta(minutes=5 * (i - ids[0] + 1)),
                reply="451 later",
            )
    later = fixed_now + timedelta(minutes=11)
    with store.write() as tx:
        # Only the two due rows; the retries job never takes queued rows.
        first = tx.ledger.claim(
            EDITION, worker="w2", limit=10, now=later, stale_before=stale, deferred_only=True
        )
        second = tx.ledger.claim(EDITION, worker="w3", limit=10, now=later, stale_before=stale)
        waiting = tx.ledger.deferred(EDITION)
    assert [c.subscriber.id for c in first.items] == ids[:2]
    assert second.items == []
    assert [(w.reply, w.count) for w in waiting] == [("451 later", 1)]
    assert waiting[0].next_attempt == fixed_now + timedelta(minutes=15)


def test_two_schedulers_retrying_at_once_deliver_each_deferred_message_once(
    make_settings: Callable[..., Settings],
    smtp_server: SmtpServer,
    any_store_url: str,
    fixed_now: datetime,
) -> None:
    settings = make_settings(
        smtp_config(smtp_server.port, retries=0, batch_size=3)
        + f'[store]\nurl = "{any_store_url}"\n',
        base=BASE_CONFIG.replace('[store]\nurl = "sqlite:///broadsheet.db"\n', ""),
    )
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, 40, now=fixed_now)
        smtp_server.handler.greylist = {f"reader{i}@example.org": 1 for i in range(0, 40, 2)}
        first = send_edition(store, settings, EDITION, now=fixed_now)
        assert (first.sent, first.deferred) == (20, 20)
        due = fixed_now + timedelta(minutes=6)
        reports: list[dict[str, Any]] = []
        threads = [
            threading.Thread(
                target=lambda: reports.append(retry_deferred(store, settings, now=due))
            )
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(r[EDITION].sent for r in reports if EDITION in r) == 20
        with store.read() as tx:
            counts = tx.ledger.counts(EDITION)
        assert counts[SendState.SENT] == 40 and counts[SendState.DEFERRED] == 0
    finally:
        store.close()
    assert smtp_server.handler.per_recipient() == {f"reader{i}@example.org": 1 for i in range(40)}


@pytest.mark.slow
def test_sigkill_during_the_retries_job_delivers_each_deferred_message(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer, fixed_now: datetime
) -> None:
    rng = random.Random(int(os.environ.get("BROADSHEET_KILL_SEED", "20261123")) + 7)
    settings = make_settings(
        smtp_config(smtp_server.port, retries=0, batch_size=5) + QUIET_SCHEDULER
    )
    readers = 60
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, readers, now=fixed_now)
        # Every other reader is greylisted once: deferred by the send itself.
        smtp_server.handler.greylist = {f"reader{i}@example.org": 1 for i in range(0, readers, 2)}
        first = send_edition(store, settings, EDITION, now=fixed_now)
        assert (first.sent, first.deferred) == (readers // 2, readers // 2)

        def sent() -> int:
            with store.read() as tx:
                return tx.ledger.counts(EDITION)[SendState.SENT]

        tick = (fixed_now + timedelta(minutes=6)).isoformat()
        kills = 0
        for _attempt in range(20):
            process = subprocess.Popen(
                cli_command("run", "--config", str(settings.path), "--at", tick),
                env=cli_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            done = sent()
            if kills < 3 and readers - done > 3:
                target = done + rng.randint(1, min(readers - done - 2, 8))
                deadline = time.monotonic() + 120
                while process.poll() is None and sent() < target:
                    assert time.monotonic() < deadline, "the retries made no progress"
                    time.sleep(0.002)
                time.sleep(rng.uniform(0, 0.006))
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    process.communicate(timeout=60)
                    kills += 1
                    continue
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err.decode()
            break
        assert kills == 3
        with store.read() as tx:
            counts = tx.ledger.counts(EDITION)
        assert counts[SendState.SENT] == readers and counts[SendState.DEFERRED] == 0
    finally:
        store.close()
    per_recipient = smtp_server.handler.per_recipient()
    assert set(per_recipient) == {f"reader{i}@example.org" for i in range(readers)}
    assert all(len(ids) == 1 for ids in smtp_server.handler.ids_per_recipient().values())
    # Only the message in flight at a kill may go twice (same Message-ID).
    assert sum(n - 1 for n in per_recipient.values()) <= kills
