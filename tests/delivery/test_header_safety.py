"""No subscriber name or edition subject can add a header, whatever it holds."""

from __future__ import annotations

import email
import email.message
import email.policy
import email.utils
import re
from dataclasses import replace
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


# Names as a stranger types them into the subscription form: any Unicode,
# the characters that mean something in an address list, encoded-words that
# decode to line breaks, and names far longer than a header line.
HOSTILE_PIECES = st.sampled_from(
    [
        '"',
        "\\",
        ",",
        "<",
        ">",
        "@",
        ":",
        ";",
        "(",
        ")",
        " ",
        "\r\n",
        "\n",
        "\t",
        "=?utf-8?q?X=0D=0ABcc:_evil@evil.example?=",
        "=?utf-8?b?DQpCY2M6IGV2aWxAZXZpbC5leGFtcGxl?=",
        "Evil Person <attacker@evil.example>, x",
        "A very long display name that needs folding here: ",
        "attacker@evil.example",
        "Анна",
        "\u202e",
        "\U0001f600",
    ]
)
HOSTILE_NAMES = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(HOSTILE_PIECES, st.text(max_size=5)), max_size=40).map("".join),
    st.text(alphabet=st.sampled_from('a ,<>"@:\\'), min_size=1000, max_size=1000),
    st.builds(lambda n: "A very long display name " * 40 + n, HOSTILE_PIECES),
)


def _one_recipient(data: bytes, address: str) -> email.message.EmailMessage:
    """The message in ``data``, checked to have one ``To:`` holding only ``address``."""
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    assert len(parsed.get_all("To") or []) == 1
    assert not {"cc", "bcc"} & {key.lower() for key in parsed}
    (only,) = parsed["To"].addresses
    assert only.addr_spec == address
    # The raw header, as a mail client that knows no RFC 2047 reads it.
    raw = email.message_from_bytes(data, policy=email.policy.compat32)
    to = raw.get_all("To")
    assert to is not None
    unfolded = re.sub(r"\r?\n[ \t]", " ", to[0])
    assert email.utils.getaddresses([unfolded]) == [(email.utils.parseaddr(unfolded)[0], address)]
    assert all(len(line) <= 998 for line in data.split(b"\r\n\r\n")[0].split(b"\r\n"))
    return parsed


@hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=HOSTILE_NAMES)
def test_every_to_header_parses_back_to_the_one_address(
    settings: Settings, fixed_now: datetime, name: str
) -> None:
    """Confirmations and editions: whatever the name, ``To:`` holds one address, the right one."""
    from broadsheet.emails.edition import headers
    from broadsheet.emails.subscriptions.flows import confirmation_message
    from broadsheet.model import EditionRecord, SubscriberStatus

    person = Subscriber(7, "reader7@example.org", name, "en", Frequency.WEEKLY)
    edition = EditionRecord(
        id="weekly-en-2026-11-23",
        language="en",
        frequency=Frequency.WEEKLY,
        slot=fixed_now,
        since=fixed_now,
        until=fixed_now,
        new_ids=(),
        top_ids=(),
        subject="x",
        html=EDITION_HTML,
        text=EDITION_TEXT,
        built=fixed_now,
    )
    letter = _one_recipient(
        edition_factory(edition, settings, "secret", fixed_now)(person).data, person.email
    )
    shown = letter["To"].addresses[0].display_name
    # (Python's parser puts a space between adjacent encoded-words; RFC 2047 does not.)
    assert shown.split() == headers.clean(name, limit=120).split() or "".join(
        shown.split()
    ) == "".join(headers.clean(name, limit=120).split())
    for status in (SubscriberStatus.PENDING, SubscriberStatus.ACTIVE):
        stranger = Subscriber(7, "reader7@example.org", name, "en", Frequency.WEEKLY, status=status)
        outgoing = confirmation_message(settings, stranger, secret="secret", now=fixed_now)
        confirmation = _one_recipient(outgoing.data, person.email)
        # Anyone can ask for a confirmation to any address: the typed name is
        # not echoed to it, neither in the header nor in the text.
        assert confirmation["To"].addresses[0].display_name == ""
        nameless = confirmation_message(
            settings, replace(stranger, name=""), secret="secret", now=fixed_now
        )
        reference = email.message_from_bytes(nameless.data, policy=email.policy.default)
        assert isinstance(reference, email.message.EmailMessage)
        for part in ("plain", "html"):
            body = confirmation.get_body(preferencelist=(part,))
            same = reference.get_body(preferencelist=(part,))
            assert body is not None and same is not None
            unsigned = re.compile(r"token=[\w.\-]+")  # tokens carry the time they were signed
            assert unsigned.sub("", body.get_content()) == unsigned.sub("", same.get_content())


def test_a_long_name_cannot_add_a_recipient_to_a_confirmation(
    settings: Settings, fixed_now: datetime
) -> None:
    """The name outside probes used: a folded display name read as two recipients."""
    from broadsheet.emails.subscriptions.flows import confirmation_message
    from broadsheet.model import SubscriberStatus

    name = (
        "A very long display name that needs folding here: Evil Person <attacker@evil.example>, x"
    )
    person = Subscriber(
        3, "victim@example.org", name, "en", Frequency.WEEKLY, status=SubscriberStatus.PENDING
    )
    outgoing = confirmation_message(settings, person, secret="secret", now=fixed_now)
    assert b"attacker@evil.example" not in outgoing.data
    _one_recipient(outgoing.data, "victim@example.org")
