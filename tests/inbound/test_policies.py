"""`inbox` against real sent mail: bounces, complaints, mailto unsubscribes, replies."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.emails.edition import headers
from broadsheet.model import EventKind, SendState, SubscriberStatus
from tests.inbound import messages
from tests.inbound.helpers import Publication, publication

READER = "reader0@example.org"
OTHER = "reader1@example.org"


@pytest.fixture
def pub(
    make_settings: Callable[..., Settings], tmp_path: Path, fixed_now: datetime
) -> Iterator[Publication]:
    made = publication(make_settings, tmp_path, fixed_now)
    yield made
    made.store.close()


def statuses(pub: Publication, email: str) -> set[SubscriberStatus]:
    return {s.status for s in pub.subscriptions(email)}


def ledger_state(pub: Publication, edition_id: str, email: str) -> SendState:
    with pub.store.read() as tx:
        person = tx.subscribers.subscription(
            email, "en", tx.subscribers.of_address(email)[0].frequency
        )
        assert person is not None
        entry = tx.ledger.get(edition_id, person.id)
        assert entry is not None
        return entry.state


def test_a_hard_bounce_by_return_path_alone(pub: Publication) -> None:
    sent = pub.send("weekly-en-2026-11-23")
    # The DSN quotes nothing of ours: only the address it was sent to says whose it is.
    pub.deliver(messages.dsn(to=sent[READER].return_path, recipient=READER, original=None))
    summary = pub.run()
    assert summary.filed == {"bounces": 1} and summary.left == 0
    # Both newsletters of the address: the English weekly and the Russian daily.
    assert statuses(pub, READER) == {SubscriberStatus.BOUNCED}
    assert statuses(pub, OTHER) == {SubscriberStatus.ACTIVE}
    assert ledger_state(pub, "weekly-en-2026-11-23", READER) is SendState.BOUNCED
    events = [e for e in pub.history(READER) if e.kind is EventKind.HARD_BOUNCE]
    assert len(events) == 1
    assert events[0].message_id == "<dsn-1@mx.mail.example>"
    assert events[0].edition_id == "weekly-en-2026-11-23"
    assert events[0].source == "inbox" and events[0].detail["status"] == "5.1.1"
    assert pub.waiting() == [] and len(pub.folder("bounces")) == 1


def test_running_twice_changes_nothing(pub: Publication) -> None:
    sent = pub.send("weekly-en-2026-11-23")
    raw = messages.dsn(to=sent[READER].return_path, recipient=READER, status="4.2.2")
    pub.deliver(raw)
    pub.run()
    # The same message again (a copy restored into the inbox, an IMAP server that did not expunge).
    pub.deliver(raw)
    second = pub.run()
    assert second.filed == {"bounces": 1}
    soft = [e for e in pub.history(READER) if e.kind is EventKind.SOFT_BOUNCE]
    assert len(soft) == 1
    assert pub.run().read == 0


def test_soft_bounces_suspend_and_a_delivery_resets_the_count(pub: Publication) -> None:
    dsn_number = 0

    def soft(sent_to: str, edition_id: str, days: int) -> None:
        nonlocal dsn_number
        dsn_number += 1
        pub.deliver(
            messages.dsn(
                to=sent_to,
                recipient=READER,
                status="4.2.2",
                diagnostic="smtp; 452 4.2.2 Mailbox full",
                message_id=f"<soft-{dsn_number}@mx.mail.example>",
            )
        )
        pub.run(days=days)

    first = pub.send("weekly-en-2026-11-23")
    soft(first[READER].return_path, "weekly-en-2026-11-23", 1)
    second = pub.send("weekly-en-2026-11-30", days=7)
    soft(second[READER].return_path, "weekly-en-2026-11-30", 8)
    assert statuses(pub, READER) == {SubscriberStatus.ACTIVE}
    # The third edition reaches the reader: no bounce for it.
    pub.send("weekly-en-2026-12-07", days=14)
    fourth = pub.send("weekly-en-2026-12-14", days=21)
    soft(fourth[READER].return_path, "weekly-en-2026-12-14", 22)
    # Three soft bounces within 30 days, but a delivery came between: the count is one.
    assert statuses(pub, READER) == {SubscriberStatus.ACTIVE}
    fifth = pub.send("weekly-en-2026-12-21", days=28)
    soft(fifth[READER].return_path, "weekly-en-2026-12-21", 29)
    assert statuses(pub, READER) == {SubscriberStatus.ACTIVE}
    sixth = pub.send("weekly-en-2026-12-28", days=35)
    soft(sixth[READER].return_path, "weekly-en-2026-12-28", 36)
    # Fourth, fifth and sixth bounced in a row within the window: suspended, every newsletter.
    assert statuses(pub, READER) == {SubscriberStatus.SUSPENDED}
    assert [e.kind for e in pub.history(READER)].count(EventKind.SUSPENDED) == 2
    assert statuses(pub, OTHER) == {SubscriberStatus.ACTIVE}


def test_soft_bounces_outside_the_window_do_not_count(pub: Publication) -> None:
    for number, (edition_id, days) in enumerate(
        [("weekly-en-2026-11-23", 0), ("weekly-en-2026-12-21", 28), ("weekly-en-2027-01-18", 56)]
    ):
        sent = pub.send(edition_id, days=days)
        pub.deliver(
            messages.dsn(
                to=sent[READER].return_path,
                recipient=READER,
                status="4.2.2",
                message_id=f"<w{number}@mx.mail.example>",
            )
        )
        pub.run(days=days + 1)
    assert statuses(pub, READER) == {SubscriberStatus.ACTIVE}


def test_a_complaint_unsubscribes_and_suppresses(pub: Publication) -> None:
    sent = pub.send("weekly-en-2026-11-23")
    # The feedback loop's own envelope is not ours; it quotes the original message.
    pub.deliver(messages.arf(original=sent[READER].data))
    summary = pub.run()
    assert summary.filed == {"complaints": 1}
    assert statuses(pub, READER) == {SubscriberStatus.UNSUBSCRIBED}
    with pub.store.read() as tx:
        assert tx.suppressions.matches(READER) == READER
    kinds = [e.kind for e in pub.history(READER)]
    assert EventKind.COMPLAINT in kinds and EventKind.SUPPRESSED in kinds
    assert kinds.count(EventKind.UNSUBSCRIBED) == 2
    assert statuses(pub, OTHER) == {SubscriberStatus.ACTIVE}


def test_a_complaint_quoting_only_our_message_id(pub: Publication) -> None:
    sent = pub.send("weekly-en-2026-11-23")
    headers_only = (
        f"From: letters@news.example\r\nTo: {READER}\r\nSubject: x\r\n"
        f"Message-ID: {sent[READER].message_id}\r\n\r\nbody\r\n"
    ).encode()
    pub.deliver(messages.arf(original=headers_only))
    assert pub.run().filed == {"complaints": 1}
    assert statuses(pub, READER) == {SubscriberStatus.UNSUBSCRIBED}


def test_a_complaint_quoting_a_made_up_message_id_is_unmatched(pub: Publication) -> None:
    """Message-IDs are keyed by the secret: one made from a guessed subscriber number is not ours."""
    sent = pub.send("weekly-en-2026-11-23")
    local, _, domain = sent[READER].message_id.strip("<>").rpartition("@")
    subscriber_id = next(s.id for s in pub.subscriptions(READER) if s.language == "en")
    guessed = headers.message_id("weekly-en-2026-11-23", subscriber_id, domain, secret="guess")
    assert guessed != sent[READER].message_id and local.split(".")[0] in guessed
    headers_only = (
        f"From: letters@news.example\r\nTo: {READER}\r\nSubject: x\r\n"
        f"Message-ID: {guessed}\r\n\r\nbody\r\n"
    ).encode()
    pub.deliver(messages.arf(original=headers_only))
    assert pub.run().filed == {"unmatched": 1}
    assert statuses(pub, READER) == {SubscriberStatus.ACTIVE}


def test_a_mailto_unsubscribe_leaves_the_other_newsletters(pub: Publication) -> None:
    sent = pub.send("weekly-en-2026-11-23")
    found = re.search(r"mailto:([^?>]+)\?subject=([^>]+)>", sent[READER].list_unsubscribe)
    assert found is not None
    to, subject = found.groups()
    pub.deliver(messages.plain(subject=subject, to=to, sender=READER))
    assert pub.run().filed == {"unsubscribes": 1}
    by_newsletter = {(s.language, s.status) for s in pub.subscriptions(READER)}
    assert by_newsletter == {("en", SubscriberStatus.UNSUBSCRIBED), ("ru", SubscriberStatus.ACTIVE)}
    events = [e for e in pub.history(READER) if e.kind is EventKind.UNSUBSCRIBED]
    assert len(events) == 1 and events[0].source == "mailto"


def test_replies_and_automatic_replies(pub: Publication) -> None:
    pub.send("weekly-en-2026-11-23")
    pub.deliver(messages.plain(subject="Re: Test Weekly", message_id="<r1@mail.example>"))
    for number, extra in enumerate(
        [
            {"Auto-Submitted": "auto-replied"},
            {"X-Autoreply": "yes"},
            {"Precedence": "auto_reply"},
        ]
    ):
        pub.deliver(
            messages.plain(subject="Re: Test Weekly", message_id=f"<a{number}@x>", headers=extra)
        )
    pub.deliver(messages.plain(subject="Out of Office: back on Monday", message_id="<a9@x>"))
    pub.deliver(messages.plain(subject="Автоответ: в отпуске", message_id="<a10@x>"))
    summary = pub.run()
    assert summary.filed == {"human": 1, "auto-replies": 5}
    assert statuses(pub, READER) == {SubscriberStatus.ACTIVE}


def test_a_qmail_bounce_read_by_the_detector(pub: Publication) -> None:
    sent = pub.send("weekly-en-2026-11-23")
    pub.deliver(messages.qmail_bounce(to=sent[OTHER].return_path, recipient=OTHER))
    assert pub.run().filed == {"bounces": 1}
    assert statuses(pub, OTHER) == {SubscriberStatus.BOUNCED}
    assert statuses(pub, READER) == {SubscriberStatus.ACTIVE}


def test_a_delayed_dsn_changes_nothing(pub: Publication) -> None:
    sent = pub.send("weekly-en-2026-11-23")
    pub.deliver(
        messages.dsn(
            to=sent[READER].return_path, recipient=READER, action="delayed", status="4.4.7"
        )
    )
    assert pub.run().filed == {"bounces": 1}
    assert statuses(pub, READER) == {SubscriberStatus.ACTIVE}
    assert pub.history(READER) == []


def test_a_bounce_to_the_plain_address_quoting_our_message_id(pub: Publication) -> None:
    sent = pub.send("weekly-en-2026-11-23")
    quoted = (
        f"From: letters@news.example\r\nTo: {OTHER}\r\nSubject: x\r\n"
        f"Message-ID: {sent[OTHER].message_id}\r\n\r\n"
    ).encode()
    pub.deliver(messages.dsn(to="bounces@news.example", recipient=OTHER, original=quoted))
    assert pub.run().filed == {"bounces": 1}
    assert statuses(pub, OTHER) == {SubscriberStatus.BOUNCED}
    assert statuses(pub, READER) == {SubscriberStatus.ACTIVE}
