"""SIGKILL the sender at random moments, run it again, and count what arrived.

Maildir: every subscriber has exactly one copy. SMTP: every subscriber has
the message, with its one Message-ID, and there are no more extra copies
than kills (only the message in flight at a kill may go twice).

Each kill restarts the sender, which costs a second or so. A default run
kills a few times per edition; ``BROADSHEET_FULL_TRIALS=1`` (set by
``.ci/run``) kills the full count. ``BROADSHEET_KILL_SEED`` picks the moments.
"""

from __future__ import annotations

import mailbox
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from broadsheet.config import Settings
from broadsheet.model import SendState
from broadsheet.store import Store
from tests.delivery.helpers import (
    SmtpServer,
    add_subscribers,
    cli_command,
    cli_env,
    save_edition,
    smtp_config,
)

SUBSCRIBERS = 100


def _kills(full: int, quick: int) -> int:
    """How many times to kill a send: ``full`` in CI, ``quick`` by default."""
    return full if os.environ.get("BROADSHEET_FULL_TRIALS") == "1" else quick


def _send(settings: Settings, edition_id: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cli_command("send", edition_id, "--config", str(settings.path), *extra),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _sent(store: Store, edition_id: str) -> int:
    with store.read() as tx:
        return tx.ledger.counts(edition_id)[SendState.SENT]


def _run_with_kills(
    settings: Settings,
    store: Store,
    edition_id: str,
    rng: random.Random,
    *,
    kills_wanted: int,
    extra: tuple[str, ...] = (),
) -> int:
    """Start the send again and again, killing it at a random message, until it completes.

    Each kill waits until the run has recorded a random number of messages,
    then strikes a random few milliseconds later, so kills land anywhere in
    the cycle of claiming, delivering and recording.

    Returns:
        How many runs were killed while they were sending.
    """
    kills = 0
    for attempt in range(40):
        process = _send(settings, edition_id, *extra)
        done = _sent(store, edition_id)
        left = SUBSCRIBERS - done
        if kills < kills_wanted and left > 3:
            # Never far ahead, so every run is cut short before the edition is done.
            target = done + rng.randint(1, min(left - 2, 25))
            deadline = time.monotonic() + 120
            while process.poll() is None and _sent(store, edition_id) < target:
                assert time.monotonic() < deadline, "the send made no progress"
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.006))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.communicate(timeout=60)
                kills += 1
                continue
        out, err = process.communicate(timeout=120)
        if process.returncode == 0:
            return kills
        raise AssertionError(f"run {attempt} failed: {err.decode()}")
    raise AssertionError("the send never completed")


def _ledger(store: Store, edition_id: str) -> dict[SendState, int]:
    with store.read() as tx:
        return tx.ledger.counts(edition_id)


@pytest.mark.slow
def test_sigkill_during_maildir_sends(
    make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    rng = random.Random(int(os.environ.get("BROADSHEET_KILL_SEED", "20261123")))
    settings = make_settings("[delivery]\nbatch_size = 20\n")
    store = Store.open(settings.store.url)
    try:
        ids = add_subscribers(store, SUBSCRIBERS, now=fixed_now)
        total_kills = 0
        editions = []
        plan = [((), _kills(5, 2)), (("--workers", "2"), _kills(3, 1))]
        for week, (extra, kills) in enumerate(plan):
            edition_id = f"weekly-en-2026-1{week}-01"
            save_edition(store, now=fixed_now + timedelta(days=7 * week), edition_id=edition_id)
            total_kills += _run_with_kills(
                settings, store, edition_id, rng, kills_wanted=kills, extra=extra
            )
            editions.append(edition_id)
        assert total_kills == sum(kills for _, kills in plan)
        box = mailbox.Maildir(settings.delivery.maildir, create=False)
        per_edition: dict[str, Counter[str]] = {e: Counter() for e in editions}
        for message in box:
            (edition_id,) = [e for e in editions if message["Message-ID"].startswith(f"<{e}.")]
            per_edition[edition_id][str(message["Delivered-To"])] += 1
        everyone = {f"reader{i}@example.org": 1 for i in range(len(ids))}
        for edition_id, received in per_edition.items():
            assert received == everyone, edition_id
            counts = _ledger(store, edition_id)
            assert counts[SendState.SENT] == SUBSCRIBERS, (edition_id, counts)
    finally:
        store.close()


@pytest.mark.slow
def test_sigkill_during_smtp_sends(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer, fixed_now: datetime
) -> None:
    rng = random.Random(int(os.environ.get("BROADSHEET_KILL_SEED", "20261123")) + 1)
    settings = make_settings(smtp_config(smtp_server.port, batch_size=20))
    store = Store.open(settings.store.url)
    try:
        add_subscribers(store, SUBSCRIBERS, now=fixed_now)
        total_kills = 0
        editions = []
        for week in range(2):
            edition_id = f"weekly-en-2026-1{week}-01"
            save_edition(store, now=fixed_now + timedelta(days=7 * week), edition_id=edition_id)
            total_kills += _run_with_kills(
                settings, store, edition_id, rng, kills_wanted=_kills(4, 2)
            )
            editions.append(edition_id)
        assert total_kills == 2 * _kills(4, 2)
        handler = smtp_server.handler
        duplicates = 0
        for edition_id in editions:
            mine = [r for r in handler.received if r.message_id.startswith(f"<{edition_id}.")]
            per_recipient = Counter(r.recipients[0] for r in mine)
            assert set(per_recipient) == {f"reader{i}@example.org" for i in range(SUBSCRIBERS)}
            ids: dict[str, set[str]] = {}
            for r in mine:
                ids.setdefault(r.recipients[0], set()).add(r.message_id)
            # A repeated message carries the same Message-ID, so receivers drop it.
            assert all(len(found) == 1 for found in ids.values())
            duplicates += sum(n - 1 for n in per_recipient.values())
            assert _ledger(store, edition_id)[SendState.SENT] == SUBSCRIBERS
        assert duplicates <= total_kills
    finally:
        store.close()
