"""Bad mail: each is ignored or left with a log line naming it; no status goes wrong."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.emails import enqueue_edition
from broadsheet.emails.edition.returnpath import ReturnPaths
from broadsheet.model import SubscriberStatus
from tests.delivery.helpers import save_edition
from tests.inbound import messages
from tests.inbound.helpers import Publication, publication

READER = "reader0@example.org"


@pytest.fixture
def pub(
    make_settings: Callable[..., Settings], tmp_path: Path, fixed_now: datetime
) -> Iterator[Publication]:
    made = publication(make_settings, tmp_path, fixed_now)
    yield made
    made.store.close()


def everyone_active(pub: Publication) -> bool:
    with pub.store.read() as tx:
        return all(s.status is SubscriberStatus.ACTIVE for s in tx.subscribers.listing())


def no_events(pub: Publication) -> bool:
    with pub.store.read() as tx:
        return all(not tx.events.history(s.email) for s in tx.subscribers.listing())


def test_bad_notifications_are_unmatched_and_named(
    pub: Publication, caplog: pytest.LogCaptureFixture
) -> None:
    sent = pub.send("weekly-en-2026-11-23")
    good = sent[READER].return_path
    local, _, domain = good.partition("@")
    token = local.partition("+")[2]
    altered = token[:-1] + ("a" if token[-1] != "a" else "b")
    paths = ReturnPaths(pub.settings, pub.secret)
    full_dsn = messages.dsn(to=good, recipient=READER, original=sent[READER].data)
    bounce_of_bounce = messages.dsn(
        to=good,
        recipient=READER,
        original=messages.dsn(to="x@mail.example", recipient="y@mail.example"),
        headers_only=False,
        message_id="<bb@mx>",
    )
    looped = b"".join(
        f"Received: from relay{i}.mail.example by mx.mail.example; Tue, 24 Nov 2026 09:00:00 +0000\r\n".encode()
        for i in range(40)
    ) + messages.dsn(to=good, recipient=READER, message_id="<loop@mx>")
    cases = {
        "forged": messages.dsn(
            to=f"bounces+{altered}@{domain}", recipient=READER, message_id="<f@mx>"
        ),
        "other-secret": messages.dsn(
            to=ReturnPaths(pub.settings, "another secret").sender(1, "weekly-en-2026-11-23"),
            recipient=READER,
            message_id="<o@mx>",
        ),
        "no-such-subscriber": messages.dsn(
            to=paths.sender(99_999, "weekly-en-2026-11-23"), recipient=READER, message_id="<n@mx>"
        ),
        "never-sent-edition": messages.dsn(
            to=paths.sender(1, "weekly-en-2027-01-04"), recipient=READER, message_id="<e@mx>"
        ),
        "truncated": full_dsn[: len(full_dsn) // 3],
        "no-status-part": full_dsn.replace(b"message/delivery-status", b"text/plain"),
        "bounce-of-bounce": bounce_of_bounce,
        "loop": looped,
        "garbage": b"\x00\xff\xfe not a message at all \x00\r\n\r\n\x80",
        "empty-headers": b"\r\n\r\n",
        "plain-bounce-address": messages.dsn(
            to="bounces@news.example", recipient=READER, message_id="<p@mx>"
        ),
        "daemon-without-failures": messages.plain(
            subject="Delivery report",
            sender="MAILER-DAEMON@mail.example",
            message_id="<d@mx>",
            body="Everything is fine.\n",
        ),
        "complaint-about-nothing": messages.arf(
            original=b"From: spammer@else.example\r\nMessage-ID: <x@else.example>\r\n\r\nhi\r\n",
            message_id="<c@fbl>",
        ),
    }
    names = {case: pub.deliver(raw, name=f"{case}.mx") for case, raw in cases.items()}
    with caplog.at_level(logging.INFO):
        summary = pub.run()
    assert summary.left == 0
    assert summary.filed == {"unmatched": len(cases)}, summary
    assert everyone_active(pub) and no_events(pub)
    unmatched_lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    for case, name in names.items():
        assert any(name in line for line in unmatched_lines), (case, unmatched_lines)
    assert not any("Traceback" in r.getMessage() for r in caplog.records)


def test_a_notification_for_a_queued_message_changes_nothing(pub: Publication) -> None:
    queued = save_edition(pub.store, now=pub.now, edition_id="weekly-en-2026-11-30")
    enqueue_edition(pub.store, queued, now=pub.now)
    with pub.store.read() as tx:
        reader = tx.subscribers.of_address(READER)[0]
    to = ReturnPaths(pub.settings, pub.secret).sender(reader.id, "weekly-en-2026-11-30")
    pub.deliver(messages.dsn(to=to, recipient=READER))
    assert pub.run().filed == {"unmatched": 1}
    assert everyone_active(pub)


def test_huge_non_utf8_and_encoded_word_messages(pub: Publication) -> None:
    sent = pub.send("weekly-en-2026-11-23")
    huge_original = sent[READER].data + b"X" * (30 << 20)
    pub.deliver(
        messages.dsn(
            to=sent[READER].return_path,
            recipient=READER,
            original=huge_original,
            headers_only=False,
        ),
        name="huge.mx",
    )
    pub.deliver(
        b"From: =?koi8-r?b?8NLJ18XU?= <reader@mail.example>\r\n"
        b"Subject: =?utf-8?q?=D0=A1=D0=BF=D0=B0=D1=81=D0=B8=D0=B1=D0=BE?= \xe9t\xe9 \xff\r\n"
        b"Message-ID: <latin@mail.example>\r\n"
        b"Content-Type: text/plain; charset=bogus-charset\r\n\r\n\xe9\xe8\xff\r\n",
        name="latin.mx",
    )
    pub.deliver(
        b"From: broken =?utf-8?b?###?= <x@y>\r\nSubject: =?unknown-8bit?q?=FF?=\r\n"
        b"Message-ID: <enc@mail.example>\r\nContent-Type: multipart/mixed\r\n\r\nno boundary\r\n",
        name="broken.mx",
    )
    summary = pub.run()
    assert summary.left == 0
    assert summary.filed == {"bounces": 1, "human": 2}
    # The huge DSN was read from its first megabyte and acted on.
    assert {s.status for s in pub.subscriptions(READER)} == {SubscriberStatus.BOUNCED}


def test_a_forwarded_copy_that_comes_back_is_a_loop(
    make_settings: Callable[..., Settings], tmp_path: Path, fixed_now: datetime
) -> None:
    made = publication(
        make_settings, tmp_path, fixed_now, extra='forward_to = "editor@news.example"\n'
    )
    try:
        made.send("weekly-en-2026-11-23")
        made.deliver(messages.plain(subject="Re: Test Weekly", message_id="<human@mail.example>"))
        assert made.run().filed == {"human": 1}
        outbox = made.settings.delivery.maildir / "new"
        forwarded = [
            path.read_bytes()
            for path in outbox.iterdir()
            if b"editor@news.example" in path.read_bytes()
        ]
        assert len(forwarded) == 1
        assert b"X-Broadsheet-Inbox: forwarded" in forwarded[0]
        assert b"<human@mail.example>" in forwarded[0]
        # Running again forwards nothing twice.
        made.deliver(messages.plain(subject="Re: Test Weekly", message_id="<human@mail.example>"))
        made.run()
        assert sum(b"editor@news.example" in p.read_bytes() for p in outbox.iterdir()) == 1
        # The forward address sends it back to the inbox: a loop, not forwarded again.
        made.deliver(forwarded[0].replace(b"\n", b"\r\n"))
        assert made.run().filed == {"unmatched": 1}
    finally:
        made.store.close()
