"""send_edition end to end: real store, real Maildir, real SMTP server."""

from __future__ import annotations

import email
import email.policy
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from broadsheet.config import Settings
from broadsheet.emails.delivery.claimants import dead_workers
from broadsheet.emails.delivery.sender import Progress, send_edition, wants_edition
from broadsheet.emails.delivery.transports import maildir_name
from broadsheet.errors import DeliveryError
from broadsheet.model import Frequency, SendState, SubscriberDetails, SubscriberStatus
from broadsheet.store import Store
from tests.delivery.helpers import (
    SmtpServer,
    add_subscribers,
    free_port,
    maildir_recipients,
    plain_factory,
    save_edition,
    smtp_config,
)

EDITION = "weekly-en-2026-11-23"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADSHEET_SECRET", "a-test-secret")


pytestmark = pytest.mark.usefixtures("secret_env")


def _counts(store: Store, edition_id: str = EDITION) -> dict[SendState, int]:
    with store.read() as tx:
        return tx.ledger.counts(edition_id)


def test_sends_each_active_subscriber_of_the_edition_once(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    save_edition(store, now=fixed_now)
    wanted = add_subscribers(store, 25, now=fixed_now)
    add_subscribers(store, 4, now=fixed_now, language="ru", prefix="ru")
    add_subscribers(store, 3, now=fixed_now, frequency=Frequency.DAILY, prefix="daily")
    others = add_subscribers(store, 2, now=fixed_now, prefix="left")
    with store.write() as tx:
        tx.subscribers.set_status(others[0], SubscriberStatus.UNSUBSCRIBED, now=fixed_now)
        tx.subscribers.set_status(others[1], SubscriberStatus.BOUNCED, now=fixed_now)
        tx.subscribers.add_pending(
            SubscriberDetails("pending@example.org", "", "en", Frequency.WEEKLY),
            source="web",
            now=fixed_now,
        )
    report = send_edition(store, settings, EDITION, now=fixed_now)
    assert (report.sent, report.failed, report.bounced, report.skipped) == (25, 0, 0, 0)
    assert report.queued == 25 and report.remaining == 0 and report.language == "en"
    assert report.ledger["sent"] == 25
    delivered = maildir_recipients(settings.delivery.maildir)
    assert delivered == {f"reader{i}@example.org": 1 for i in range(25)}
    with store.read() as tx:
        entry = tx.ledger.get(EDITION, wanted[0])
    assert entry is not None and entry.state is SendState.SENT
    assert entry.message_id == f"<{EDITION}.{wanted[0]}@news.example>" or entry.message_id
    assert (settings.delivery.maildir / "new" / maildir_name(entry.message_id)).is_file()
    again = send_edition(store, settings, EDITION, now=fixed_now + timedelta(hours=1))
    assert (again.sent, again.already_sent, again.queued) == (0, 25, 0)
    assert maildir_recipients(settings.delivery.maildir) == delivered


def test_messages_are_the_editions_with_personal_links(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    import mailbox

    save_edition(store, now=fixed_now)
    add_subscribers(store, 1, now=fixed_now)
    send_edition(store, settings, EDITION, now=fixed_now)
    (message,) = list(mailbox.Maildir(settings.delivery.maildir, create=False))
    assert message["Subject"] == "Test Weekly: the week in brief"
    assert message["To"] == "Reader 0 <reader0@example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://news.example/newsletter/unsubscribe?token=" in message["List-Unsubscribe"]


def test_the_date_is_when_the_send_started(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    import mailbox
    from email.utils import parsedate_to_datetime

    save_edition(store, now=fixed_now)
    add_subscribers(store, 1, now=fixed_now)
    later = fixed_now + timedelta(days=1, hours=2)
    send_edition(store, settings, EDITION, now=later)
    (message,) = list(mailbox.Maildir(settings.delivery.maildir, create=False))
    assert parsedate_to_datetime(message["Date"]) == later


def test_topics_decide_who_gets_the_edition(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    save_edition(store, now=fixed_now, sections=("Foreign policy", "Economy"))
    add_subscribers(store, 2, now=fixed_now, topics=("economy",), prefix="econ")
    add_subscribers(store, 3, now=fixed_now, topics=("Society",), prefix="soc")
    add_subscribers(store, 1, now=fixed_now, prefix="all")
    report = send_edition(store, settings, EDITION, now=fixed_now)
    assert (report.sent, report.skipped) == (3, 3)
    assert set(maildir_recipients(settings.delivery.maildir)) == {
        "econ0@example.org",
        "econ1@example.org",
        "all0@example.org",
    }
    assert _counts(store)[SendState.SKIPPED] == 3


def test_wants_edition() -> None:
    from broadsheet.model import Subscriber

    person = Subscriber(1, "a@b.c", "", "en", Frequency.WEEKLY, topics=("Foreign  Policy",))
    assert wants_edition(person, ["foreign policy"])
    assert not wants_edition(person, ["Economy"])
    assert wants_edition(Subscriber(2, "d@e.f", "", "en", Frequency.WEEKLY), [])


def test_unsubscribed_after_queueing_is_not_mailed(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    save_edition(store, now=fixed_now)
    ids = add_subscribers(store, 5, now=fixed_now)
    first = send_edition(store, settings, EDITION, now=fixed_now, limit=2)
    assert first.sent == 2 and first.stopped
    with store.write() as tx:
        tx.subscribers.set_status(ids[3], SubscriberStatus.UNSUBSCRIBED, now=fixed_now)
    rest = send_edition(store, settings, EDITION, now=fixed_now)
    assert (rest.sent, rest.skipped, rest.already_sent) == (2, 1, 2)
    assert "reader3@example.org" not in maildir_recipients(settings.delivery.maildir)
    with store.read() as tx:
        entry = tx.ledger.get(EDITION, ids[3])
    assert entry is not None and entry.state is SendState.SKIPPED


def test_a_subscriber_no_message_can_carry_is_skipped_and_the_rest_go_out(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    # Stored before such addresses were refused: the To header cannot carry it.
    save_edition(store, now=fixed_now)
    add_subscribers(store, 3, now=fixed_now)
    with store.write() as tx:
        tx.subscribers.upsert_active(
            SubscriberDetails("юзер@example.org", "", "en", Frequency.WEEKLY),
            source="old",
            now=fixed_now,
        )
        stored = tx.subscribers.by_email("юзер@example.org")
    assert stored is not None
    odd = stored.id
    add_subscribers(store, 3, now=fixed_now, prefix="later")
    dry = send_edition(store, settings, EDITION, now=fixed_now, dry_run=True)
    assert (dry.sent, dry.skipped) == (6, 1)
    report = send_edition(store, settings, EDITION, now=fixed_now)
    assert (report.sent, report.skipped, report.remaining) == (6, 1, 0)
    assert len(maildir_recipients(settings.delivery.maildir)) == 6
    with store.read() as tx:
        entry = tx.ledger.get(EDITION, odd)
    assert entry is not None and entry.state is SendState.SKIPPED
    assert "no message can be written" in entry.last_reply
    assert "not plain ASCII" in entry.last_reply


def test_limit_and_dry_run(settings: Settings, store: Store, fixed_now: datetime) -> None:
    save_edition(store, now=fixed_now)
    add_subscribers(store, 12, now=fixed_now)
    add_subscribers(store, 2, now=fixed_now, topics=("Society",), prefix="soc")
    dry = send_edition(store, settings, EDITION, now=fixed_now, dry_run=True)
    assert dry.dry_run and (dry.sent, dry.skipped, dry.already_sent) == (12, 2, 0)
    assert _counts(store) == dict.fromkeys(SendState, 0)
    assert not settings.delivery.maildir.exists()
    limited = send_edition(store, settings, EDITION, now=fixed_now, limit=5)
    assert limited.sent == 5 and limited.remaining == 7 and limited.stopped
    dry_after = send_edition(store, settings, EDITION, now=fixed_now, dry_run=True, limit=3)
    assert (dry_after.sent, dry_after.already_sent, dry_after.stopped) == (3, 5, True)
    assert sum(maildir_recipients(settings.delivery.maildir).values()) == 5
    rest = send_edition(store, settings, EDITION, now=fixed_now)
    assert rest.sent == 7 and rest.remaining == 0
    assert sum(maildir_recipients(settings.delivery.maildir).values()) == 12


def test_stop_between_messages_gives_the_batch_back(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    save_edition(store, now=fixed_now)
    add_subscribers(store, 30, now=fixed_now)
    stop = threading.Event()

    def progress(state: Progress) -> None:
        if state.sent == 4:
            stop.set()

    report = send_edition(store, settings, EDITION, now=fixed_now, stop=stop, progress=progress)
    assert report.sent == 4 and report.stopped
    counts = _counts(store)
    assert counts[SendState.SENDING] == 0
    assert counts[SendState.QUEUED] == 26
    rest = send_edition(store, settings, EDITION, now=fixed_now)
    assert rest.sent == 26
    assert set(maildir_recipients(settings.delivery.maildir).values()) == {1}


def test_unknown_edition(settings: Settings, store: Store, fixed_now: datetime) -> None:
    with pytest.raises(DeliveryError, match="no edition 'weekly-en-2030-01-01'"):
        send_edition(store, settings, "weekly-en-2030-01-01", now=fixed_now)


def test_smtp_bounce_marks_the_subscriber_and_later_editions_skip_it(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer, fixed_now: datetime
) -> None:
    settings = make_settings(smtp_config(smtp_server.port))
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        ids = add_subscribers(store, 6, now=fixed_now)
        smtp_server.handler.refuse = {
            "reader2@example.org": "550 5.1.1 <reader2@example.org>: Recipient address rejected"
        }
        report = send_edition(store, settings, EDITION, now=fixed_now)
        assert (report.sent, report.bounced) == (5, 1)
        with store.read() as tx:
            entry = tx.ledger.get(EDITION, ids[2])
            person = tx.subscribers.get(ids[2])
        assert entry is not None and entry.state is SendState.BOUNCED
        assert entry.last_reply.startswith("550 5.1.1") and entry.attempts == 1
        assert person is not None and person.status is SubscriberStatus.BOUNCED
        nxt = "weekly-en-2026-11-30"
        save_edition(store, now=fixed_now + timedelta(days=7), edition_id=nxt)
        smtp_server.handler.refuse = {}
        later = send_edition(store, settings, nxt, now=fixed_now + timedelta(days=7))
        assert later.sent == 5
        assert smtp_server.handler.per_recipient()["reader2@example.org"] == 0
        with store.read() as tx:
            assert tx.ledger.get(nxt, ids[2]) is None
    finally:
        store.close()


def test_smtp_421_then_recovering_sends_everything_once(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer, fixed_now: datetime
) -> None:
    settings = make_settings(smtp_config(smtp_server.port))
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, 8, now=fixed_now)
        smtp_server.handler.busy_mail = 3
        report = send_edition(store, settings, EDITION, now=fixed_now)
        assert report.sent == 8
        assert set(smtp_server.handler.per_recipient().values()) == {1}
        assert len(smtp_server.handler.per_recipient()) == 8
    finally:
        store.close()


def test_smtp_dropped_mid_data_is_delivered_once(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer, fixed_now: datetime
) -> None:
    settings = make_settings(smtp_config(smtp_server.port))
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, 5, now=fixed_now)
        smtp_server.handler.drop_in_data = {"reader1@example.org", "reader3@example.org"}
        report = send_edition(store, settings, EDITION, now=fixed_now)
        assert report.sent == 5
        assert smtp_server.handler.per_recipient() == {
            f"reader{i}@example.org": 1 for i in range(5)
        }
    finally:
        store.close()


def test_temporary_failure_is_deferred_and_retried_by_a_later_run(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer, fixed_now: datetime
) -> None:
    settings = make_settings(smtp_config(smtp_server.port))
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        ids = add_subscribers(store, 3, now=fixed_now)
        smtp_server.handler.greylist = {"reader1@example.org": 100}
        first = send_edition(store, settings, EDITION, now=fixed_now)
        assert (first.sent, first.failed, first.deferred) == (2, 0, 1)
        assert (first.remaining, first.waiting) == (1, 1)
        with store.read() as tx:
            entry = tx.ledger.get(EDITION, ids[1])
        assert entry is not None and entry.state is SendState.DEFERRED
        assert entry.last_reply.startswith("451 4.7.1 Greylisted")
        assert entry.next_attempt is not None
        assert timedelta(minutes=5) <= entry.next_attempt - fixed_now < timedelta(minutes=6)
        # Not due yet: a run a minute later leaves it waiting.
        early = send_edition(store, settings, EDITION, now=fixed_now + timedelta(minutes=1))
        assert (early.sent, early.deferred, early.waiting) == (0, 0, 1)
        smtp_server.handler.greylist = {}
        second = send_edition(store, settings, EDITION, now=fixed_now + timedelta(minutes=30))
        assert (second.sent, second.failed, second.already_sent) == (1, 0, 2)
        with store.read() as tx:
            entry = tx.ledger.get(EDITION, ids[1])
        assert entry is not None and entry.state is SendState.SENT and entry.attempts == 2
    finally:
        store.close()


def test_a_row_that_failed_every_try_is_given_up_not_left_to_send(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer, fixed_now: datetime
) -> None:
    # retry_for = 0: a temporary failure is not deferred, only retried by hand.
    settings = make_settings(smtp_config(smtp_server.port, retries=1, retry_for="0s"))
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        ids = add_subscribers(store, 2, now=fixed_now)
        smtp_server.handler.greylist = {"reader1@example.org": 1000}
        first = send_edition(store, settings, EDITION, now=fixed_now)
        assert (first.failed, first.remaining, first.given_up) == (1, 1, 0)
        second = send_edition(store, settings, EDITION, now=fixed_now + timedelta(hours=1))
        assert (second.failed, second.remaining, second.given_up) == (1, 0, 1)
        third = send_edition(store, settings, EDITION, now=fixed_now + timedelta(hours=2))
        assert (third.sent, third.failed, third.remaining, third.given_up) == (0, 0, 0, 1)
        with store.read() as tx:
            entry = tx.ledger.get(EDITION, ids[1])
        assert entry is not None and (entry.state, entry.attempts) == (SendState.FAILED, 2)
    finally:
        store.close()


def test_server_away_stops_the_send_and_keeps_the_queue(
    make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    settings = make_settings(smtp_config(free_port(), retries=1))
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now)
        add_subscribers(store, 4, now=fixed_now)
        with pytest.raises(DeliveryError, match="cannot connect.*run `broadsheet send"):
            send_edition(store, settings, EDITION, now=fixed_now)
        counts = _counts(store)
        assert counts[SendState.QUEUED] == 4 and counts[SendState.SENDING] == 0
    finally:
        store.close()


def test_claims_of_a_dead_local_sender_are_taken_over_at_once(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    from broadsheet.emails.delivery.claimants import _MACHINE

    save_edition(store, now=fixed_now)
    ids = add_subscribers(store, 6, now=fixed_now)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead = f"{_MACHINE}:{int(gone.stdout)}:deadbeef"
    alive = f"{_MACHINE}:1:cafe0001"  # pid 1 never goes away
    elsewhere = "another-host/0:4242:cafe0002"
    assert dead_workers([dead, alive, elsewhere]) == [dead]
    send_edition(store, settings, EDITION, now=fixed_now, limit=1)  # fills the ledger
    with store.write() as tx:
        batch = tx.ledger.claim(
            EDITION, worker=dead, limit=3, now=fixed_now, stale_before=fixed_now
        )
    claimed = [c.subscriber.id for c in batch.items]
    assert claimed == ids[1:4]
    report = send_edition(store, settings, EDITION, now=fixed_now + timedelta(seconds=5))
    # The dead sender's rows did not wait for the ten-minute claim timeout.
    assert report.sent == 5 and report.remaining == 0
    assert set(maildir_recipients(settings.delivery.maildir).values()) == {1}


def test_generic_factory(settings: Settings, store: Store, fixed_now: datetime) -> None:
    save_edition(store, now=fixed_now)
    ids = add_subscribers(store, 3, now=fixed_now)
    report = send_edition(store, settings, EDITION, now=fixed_now, make_factory=plain_factory)
    assert report.sent == 3
    with store.read() as tx:
        entry = tx.ledger.get(EDITION, ids[0])
    assert entry is not None and entry.message_id == f"<{EDITION}.{ids[0]}@test.example>"


def test_two_worker_processes_on_sqlite(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    save_edition(store, now=fixed_now)
    add_subscribers(store, 120, now=fixed_now)
    seen: list[int] = []
    report = send_edition(
        store, settings, EDITION, now=fixed_now, workers=2, progress=lambda p: seen.append(p.done)
    )
    assert report.sent == 120 and report.remaining == 0
    assert seen[-1] == 120
    delivered = maildir_recipients(settings.delivery.maildir)
    assert len(delivered) == 120 and set(delivered.values()) == {1}


def test_crlf_in_names_and_titles_cannot_add_headers(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer, fixed_now: datetime
) -> None:
    from broadsheet.store.schema import subscribers as table

    settings = make_settings(smtp_config(smtp_server.port))
    store = Store.open(settings.store.url)
    try:
        save_edition(
            store,
            now=fixed_now,
            subject="Weekly\r\nBcc: everyone@attacker.example\r\nX-Injected: 1",
        )
        with store.write() as tx:
            # Written past the import's checks, as a damaged or hostile store might hold it.
            tx.conn.execute(
                table.insert().values(
                    email="victim@example.org",
                    name="Eve\r\nBcc: list@attacker.example\nX-Evil: yes\r\n\r\n<b>body</b>",
                    language="en",
                    frequency="weekly",
                    topics=[],
                    status="active",
                    source="test",
                    created=fixed_now,
                    changed=fixed_now,
                    confirmed=fixed_now,
                    status_reason="",
                )
            )
        report = send_edition(store, settings, EDITION, now=fixed_now)
        assert report.sent == 1
        (received,) = smtp_server.handler.received
        assert received.recipients == ["victim@example.org"]
        message = email.message_from_bytes(received.data, policy=email.policy.default)
        names = [name.lower() for name in message]
        assert "bcc" not in names and "x-evil" not in names and "x-injected" not in names
        assert names.count("subject") == 1 and names.count("to") == 1
        assert "\n" not in str(message["Subject"]) and "\n" not in str(message["To"])
        assert message["To"].addresses[0].addr_spec == "victim@example.org"
        head = received.data.split(b"\r\n\r\n", 1)[0]
        assert all(line[:1] in (b" ", b"\t") or b":" in line for line in head.split(b"\r\n")), head
    finally:
        store.close()


def test_progress_reports_totals(settings: Settings, store: Store, fixed_now: datetime) -> None:
    save_edition(store, now=fixed_now)
    add_subscribers(store, 7, now=fixed_now)
    states: list[tuple[int, int]] = []
    send_edition(
        store, settings, EDITION, now=fixed_now, progress=lambda p: states.append((p.total, p.done))
    )
    assert states[0] == (7, 0) and states[-1] == (7, 7)


def test_send_all_counts_per_language(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    from broadsheet.emails.delivery.sender import send_all, sent_per_language

    save_edition(store, now=fixed_now)
    save_edition(store, now=fixed_now, edition_id="weekly-ru-2026-11-23", language="ru")
    add_subscribers(store, 3, now=fixed_now)
    add_subscribers(store, 2, now=fixed_now, language="ru", prefix="ru")
    reports = send_all(
        store, settings, ["weekly-en-2026-11-23", "weekly-ru-2026-11-23"], now=fixed_now
    )
    assert sent_per_language(reports.values()) == {"en": 3, "ru": 2}
    again = send_all(store, settings, list(reports), now=fixed_now)
    assert sent_per_language(again.values()) == {"en": 0, "ru": 0}
