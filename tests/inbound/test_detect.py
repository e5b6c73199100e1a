"""The detector alone: what each kind of message is, and that nothing makes it raise."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from broadsheet.emails.inbound.detect import Kind, detect, inbound_key
from tests.inbound import messages

ORIGINAL = (
    b"Return-Path: <bounces+abc@news.example>\r\nFrom: letters@news.example\r\n"
    b"To: reader@mail.example\r\nMessage-ID: <weekly-en.1@news.example>\r\n"
    b"Subject: hi\r\n\r\nbody\r\n"
)


def test_kinds() -> None:
    hard = detect(messages.dsn(to="bounces+t@news.example", recipient="r@mail.example"))
    assert hard.kind is Kind.BOUNCE and hard.failures[0].hard
    assert hard.failures[0].status == "5.1.1" and hard.failures[0].address == "r@mail.example"
    soft = detect(messages.dsn(to="b@news.example", recipient="r@mail.example", status="4.2.2"))
    assert soft.kind is Kind.BOUNCE and not soft.failures[0].hard
    delayed = detect(
        messages.dsn(to="b@news.example", recipient="r@x", action="delayed", status="4.4.7")
    )
    assert delayed.kind is Kind.BOUNCE and delayed.failures == ()
    several = detect(
        messages.dsn(
            to="b@news.example",
            recipient="r@x",
            status="4.2.2",
            extra_recipients=[("s@x", "failed", "5.1.1"), ("t@x", "delivered", "2.0.0")],
        )
    )
    assert [(f.address, f.hard) for f in several.failures] == [("r@x", False), ("s@x", True)]
    complaint = detect(messages.arf(original=ORIGINAL))
    assert complaint.kind is Kind.COMPLAINT and complaint.feedback_type == "abuse"
    assert complaint.original_ids == ("<weekly-en.1@news.example>",)
    assert "<bounces+abc@news.example>" in complaint.return_tokens
    assert detect(messages.qmail_bounce(to="b@x", recipient="r@x")).kind is Kind.BOUNCE
    assert detect(messages.plain(subject="Re: hello")).kind is Kind.HUMAN
    # A person's reply that mentions "unsubscribe" without a token is for a person.
    assert detect(messages.plain(subject="How do I unsubscribe?")).kind is Kind.HUMAN


def test_the_envelope_recipient_comes_first() -> None:
    note = detect(messages.plain(subject="x"), recipient="bounces+tok@news.example")
    assert note.kind is Kind.HUMAN
    dsn = detect(
        messages.dsn(to="bounces@news.example", recipient="r@x"),
        recipient="bounces+tok@news.example",
    )
    assert dsn.return_tokens[0] == "bounces+tok@news.example"


def test_keys_hold_no_address() -> None:
    key = inbound_key(b"raw", "<reader@mail.example>")
    assert "reader" not in key and len(key) <= 200
    assert inbound_key(b"raw", "") != inbound_key(b"raw2", "")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes(raw: bytes) -> None:
    assert detect(raw).kind in set(Kind)


DSN = messages.dsn(to="bounces+t@news.example", recipient="r@x", original=ORIGINAL)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(DSN)), st.integers(0, len(DSN)), st.binary(max_size=40))
def test_damaged_reports(start: int, end: int, junk: bytes) -> None:
    start, end = sorted((start, end))
    assert detect(DSN[:start] + junk + DSN[end:]).kind in set(Kind)
    assert detect(DSN[:start]).kind in set(Kind)
