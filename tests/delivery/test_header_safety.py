"""No subscriber name or edition subject can add a header, whatever it holds."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from broadsheet.config import Settings
from broadsheet.emails.delivery.sender import edition_factory
from broadsheet.emails.delivery.transports import MaildirTransport
from broadsheet.model import Frequency, Subscriber
from tests.delivery.helpers import EDITION_HTML, EDITION_TEXT

PIECES = st.sampled_from(
    list("abcАБВ :;<>\"',@\\=?\r\n\t\x00\x0b\x0c\x1b\u2028\u2029\u0085")
    + ["\r\nBcc: x@evil.example", "\nX-Injected: 1", "\r\n\r\n", "=?utf-8?q?", "=?="]
)
NASTY = st.lists(PIECES, max_size=20).map("".join)


EXPECTED = {
    "return-path",
    "delivered-to",
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
    "mime-version",
    "content-type",
}


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=NASTY, subject=NASTY)
def test_names_and_subjects_stay_in_their_headers(
    settings: Settings, fixed_now: datetime, tmp_path: Path, name: str, subject: str
) -> None:
    from broadsheet.model import EditionRecord

    edition = EditionRecord(
        id="weekly-en-2026-11-23",
        language="en",
        frequency=Frequency.WEEKLY,
        slot=fixed_now,
        since=fixed_now,
        until=fixed_now,
        new_ids=(),
        top_ids=(),
        subject=subject or "x",
        html=EDITION_HTML,
        text=EDITION_TEXT,
        built=fixed_now,
    )
    factory = edition_factory(edition, settings, "secret", fixed_now)
    person = Subscriber(7, "reader7@example.org", name, "en", Frequency.WEEKLY)
    message = factory(person)
    transport = MaildirTransport(tmp_path / "box", fsync=False)
    transport.deliver(message, recipient=person.email)
    (path,) = (tmp_path / "box" / "new").iterdir()
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert {key.lower() for key in parsed} == EXPECTED
    assert parsed["To"].addresses[0].addr_spec == "reader7@example.org"
    assert parsed["Delivered-To"] == "reader7@example.org"
    path.unlink()
