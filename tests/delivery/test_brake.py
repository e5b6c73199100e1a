"""The brake and ``send --cancel``: an edition past its complaint rate pauses; a cancel stops it.

Real SQLite store, real Maildir, the real command line; complaints are
recorded as the inbox records them (``tx.events``, naming the edition).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.emails import cancel_edition, send_edition
from broadsheet.emails.delivery.brake import BrakeLimits, brake_reason, check_brake
from broadsheet.emails.delivery.ledger import Progress
from broadsheet.errors import DeliveryError
from broadsheet.model import EventKind, SendState, SubscriberEvent
from broadsheet.store import Store
from tests.delivery.helpers import add_subscribers, maildir_recipients, save_edition

EDITION = "weekly-en-2026-11-23"


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADSHEET_SECRET", "a-test-secret")


def invoke(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(settings.path)])
    return result.exit_code, result.output


def complain(store: Store, emails: list[str], now: datetime, edition_id: str = EDITION) -> None:
    """Record complaints naming the edition, as the inbox does for feedback-loop reports."""
    with store.write() as tx:
        for email in emails:
            tx.events.record(
                SubscriberEvent(
                    email=email,
                    kind=EventKind.COMPLAINT,
                    time=now,
                    source="inbox",
                    edition_id=edition_id,
                )
            )


def test_rates_count_only_once_the_minimum_is_handed_over() -> None:
    limits = BrakeLimits(bounce_rate=0.05, complaint_rate=0.003, minimum=100)
    assert brake_reason(limits, (99, 50, 50)) is None
    assert brake_reason(limits, (1000, 0, 3)) is None  # exactly 0.3 % does not pass it
    why = brake_reason(limits, (1000, 0, 4))
    assert why is not None and why.startswith("complaint rate 0.4 % (4 of 1000 messages)")
    why = brake_reason(limits, (1000, 51, 0))
    assert why is not None and "bounce rate 5.1 %" in why
    # After a resume only what came since counts.
    assert brake_reason(limits, (1100, 0, 4), {"handed": 1000, "complaints": 4}) is None
    why = brake_reason(limits, (1100, 0, 5), {"handed": 1000, "complaints": 4})
    assert why is not None and "since it was resumed" in why


def test_complaints_past_the_threshold_pause_the_edition_and_send_resumes_it(
    make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    settings = make_settings("[inbound]\nbrake_minimum = 100\n")
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, 300, now=fixed_now)
        first = send_edition(store, settings, EDITION, now=fixed_now, limit=200)
        assert first.sent == 200 and not first.held
        # One complaint in 200 messages is 0.5 %: over 0.3 %.
        complain(store, ["reader3@example.org"], fixed_now + timedelta(minutes=5))
        held = check_brake(store, settings, EDITION, fixed_now + timedelta(minutes=5))
        assert held is not None and held.startswith("paused: complaint rate 0.5 %")
        with store.read() as tx:
            hold, reason = tx.editions.hold(EDITION)
        assert hold == "paused" and "inbound.brake_complaint_rate 0.3 %" in reason
        # The scheduler's send (no resume) sends nothing and says why.
        again = send_edition(store, settings, EDITION, now=fixed_now + timedelta(minutes=6))
        assert again.sent == 0 and again.held.startswith("paused: complaint rate")
    finally:
        store.close()
    assert sum(maildir_recipients(settings.delivery.maildir).values()) == 200

    code, out = invoke(settings, "status", "--at", (fixed_now + timedelta(minutes=7)).isoformat())
    assert code == 0, out
    assert "Held editions" in out and EDITION in out and "paused" in out
    code, out = invoke(settings, "send", EDITION, "--status")
    assert code == 0, out
    assert f"{EDITION} is paused: complaint rate 0.5 %" in out
    # By hand: resumed, the rest is sent, and the brake judges only what comes after.
    code, out = invoke(
        settings, "send", EDITION, "--at", (fixed_now + timedelta(minutes=8)).isoformat()
    )
    assert code == 0, out
    assert f"{EDITION}: resumed (it was paused: complaint rate 0.5 %" in out
    assert "100 sent" in out
    delivered = maildir_recipients(settings.delivery.maildir)
    assert len(delivered) == 300 and set(delivered.values()) == {1}
    store = Store.open(settings.store.url)
    try:
        with store.read() as tx:
            assert tx.editions.hold(EDITION) == ("", "")
    finally:
        store.close()


def test_a_running_send_stops_at_its_next_batch_once_paused(
    make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    settings = make_settings("[inbound]\nbrake_minimum = 10\n[delivery]\nbatch_size = 10\n")
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, 100, now=fixed_now)

        def complaints_after_twenty(progress: Progress) -> None:
            if progress.sent == 20:
                complain(store, ["reader1@example.org"], fixed_now)

        report = send_edition(
            store, settings, EDITION, now=fixed_now, progress=complaints_after_twenty
        )
        assert report.sent == 20 and report.stopped
        assert report.held.startswith("paused: complaint rate 5 % (1 of 20 messages)")
        with store.read() as tx:
            counts = tx.ledger.counts(EDITION)
        assert counts[SendState.SENT] == 20 and counts[SendState.QUEUED] == 80
        assert counts[SendState.SENDING] == 0
    finally:
        store.close()


def test_cancel_stops_an_edition_for_good(
    make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    settings = make_settings()
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, 30, now=fixed_now)
        send_edition(store, settings, EDITION, now=fixed_now, limit=10)
    finally:
        store.close()
    code, out = invoke(
        settings, "send", EDITION, "--cancel", "--at", (fixed_now + timedelta(hours=1)).isoformat()
    )
    assert code == 0, out
    assert f"{EDITION}: cancelled; 10 sent before, 20 queued and 0 deferred messages" in out
    code, out = invoke(settings, "send", EDITION)
    assert code != 0
    assert f"{EDITION} was cancelled (cancelled by hand at 2026-11-23T06:00:00+00:00)" in out
    assert "never sent" in out
    code, out = invoke(settings, "send", EDITION, "--status")
    assert code == 0, out
    assert "is cancelled" in out and "edition cancelled" in out
    code, out = invoke(settings, "send", EDITION, "--cancel")
    assert code == 0 and "already cancelled" in out
    assert sum(maildir_recipients(settings.delivery.maildir).values()) == 10
    store = Store.open(settings.store.url)
    try:
        with store.read() as tx:
            counts = tx.ledger.counts(EDITION)
            reasons = tx.ledger.reasons(EDITION)
        assert counts[SendState.SKIPPED] == 20 and counts[SendState.QUEUED] == 0
        assert reasons == {"edition cancelled": 20}
        with pytest.raises(DeliveryError, match="no edition 'nope'"):
            cancel_edition(store, "nope", now=fixed_now)
    finally:
        store.close()


def test_brake_counts_distinct_addresses_on_each_store(
    any_store_url: str, fixed_now: datetime
) -> None:
    store = Store.open(any_store_url)
    try:
        save_edition(store, now=fixed_now)
        ids = add_subscribers(store, 5, now=fixed_now)
        stale = fixed_now - timedelta(hours=1)
        with store.write() as tx:
            tx.ledger.enqueue(EDITION, [(i, SendState.QUEUED, "") for i in ids], now=fixed_now)
            tx.ledger.claim(EDITION, worker="w", limit=5, now=fixed_now, stale_before=stale)
            for i in ids[:4]:
                tx.ledger.mark(EDITION, i, SendState.SENT, now=fixed_now)
            tx.ledger.mark(EDITION, ids[4], SendState.BOUNCED, now=fixed_now, reply="550")
        # Two complaints from one address (in another case) count once; a
        # hard bounce reported for the address refused at delivery counts once.
        complain(store, ["reader1@example.org", "Reader1@example.org"], fixed_now)
        with store.write() as tx:
            tx.events.record(
                SubscriberEvent(
                    email="reader4@example.org",
                    kind=EventKind.HARD_BOUNCE,
                    time=fixed_now,
                    source="inbox",
                    edition_id=EDITION,
                )
            )
            tx.events.record(
                SubscriberEvent(
                    email="reader2@example.org",
                    kind=EventKind.COMPLAINT,
                    time=fixed_now,
                    source="inbox",
                    edition_id="another-edition",
                )
            )
        with store.read() as tx:
            assert tx.ledger.brake_counts(EDITION) == (5, 1, 1)
    finally:
        store.close()


def test_a_cancel_stops_a_running_send_within_its_batch(
    make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    # One batch holds every row, so only the check within the batch can stop it.
    settings = make_settings("[delivery]\nrate = 25\nbatch_size = 200\n")
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, 150, now=fixed_now)
        cancelled: list[int] = []

        def cancel_after_ten(progress: Progress) -> None:
            if progress.sent == 10 and not cancelled:
                report = cancel_edition(store, EDITION, now=fixed_now)
                cancelled.append(report.sending)

        report = send_edition(store, settings, EDITION, now=fixed_now, progress=cancel_after_ten)
        # The sender held the rest of its batch (the last outcome may be on its way).
        assert len(cancelled) == 1 and 140 <= cancelled[0] <= 141
        assert 10 <= report.sent < 150
        assert report.held.startswith("cancelled: cancelled by hand")
        with store.read() as tx:
            counts = tx.ledger.counts(EDITION)
        assert counts[SendState.SENT] == report.sent
        assert counts[SendState.SKIPPED] == 150 - report.sent
        assert counts[SendState.QUEUED] == counts[SendState.SENDING] == 0
    finally:
        store.close()
    assert sum(maildir_recipients(settings.delivery.maildir).values()) == report.sent


def test_a_complaint_read_by_the_inbox_pauses_its_edition(
    make_settings: Callable[..., Settings], tmp_path: Path, fixed_now: datetime
) -> None:
    from tests.inbound import messages
    from tests.inbound.helpers import publication

    pub = publication(make_settings, tmp_path, fixed_now, extra="brake_minimum = 3\n", readers=3)
    try:
        sent = pub.send(EDITION)
        assert pub.run().filed == {}
        with pub.store.read() as tx:
            assert tx.editions.hold(EDITION) == ("", "")
        # One complaint in three messages is far past 0.3 %.
        pub.deliver(messages.arf(original=sent["reader0@example.org"].data))
        assert pub.run().filed == {"complaints": 1}
        with pub.store.read() as tx:
            hold, reason = tx.editions.hold(EDITION)
        assert hold == "paused"
        assert reason.startswith("complaint rate 33.33 % (1 of 3 messages)")
    finally:
        pub.store.close()
