"""Headers: encoded, folded, deterministic, and safe from header injection."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from email.header import decode_header, make_header
from email.message import EmailMessage
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadsheet.config import Settings
from broadsheet.emails.edition import headers
from broadsheet.errors import RenderError
from broadsheet.model import Frequency

# Unicode categories, typed so mypy matches them with hypothesis's names.
SURROGATES: tuple[Literal["Cs"], ...] = ("Cs",)

hostile = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=SURROGATES), max_size=30)
    | st.sampled_from(["\r", "\n", "\r\n", "\x00", "\nBcc: x@evil.example", ":", '"', "=?"]),
    max_size=8,
).map("".join)


def parse(head: str) -> EmailMessage:
    message = email.message_from_bytes((head + "\r\n").encode("utf-8"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(name=hostile, subject=hostile)
def test_no_name_or_title_can_inject_a_header(name: str, subject: str) -> None:
    head = headers.fold("To", headers.address_tokens(name, "reader@example.org"))
    head += headers.unstructured("Subject", subject)
    physical = head.split("\r\n")
    assert physical[-1] == ""
    for index, line in enumerate(physical[:-1]):
        assert "\r" not in line and "\n" not in line
        assert len(line.encode()) <= 998
        if index and not line.startswith(("To:", "Subject:")):
            # Every line that does not start a header continues one.
            assert line[:1] in (" ", "\t")
    message = parse(head)
    assert sorted(message.keys()) == ["Subject", "To"]
    assert message["To"].addresses[0].addr_spec == "reader@example.org"
    shown = message["To"].addresses[0].display_name
    cleaned = headers.clean(name, limit=120)
    # The standard library's address parser keeps the space between two
    # adjacent encoded-words, which RFC 2047 says to drop; compare without it,
    # and check the exact text with the RFC 2047 decoder.
    assert shown.replace(" ", "") == cleaned.replace(" ", "")
    if not cleaned.isascii():
        raw = head.split("\r\nSubject:")[0].removeprefix("To: ").replace("\r\n", "")
        phrase = raw.rsplit(" <", 1)[0]
        assert str(make_header(decode_header(phrase))) == cleaned
    assert str(message["Subject"]) == headers.clean(subject, limit=900)


def test_ascii_name_with_specials_is_quoted() -> None:
    head = headers.fold("To", headers.address_tokens('Smith, "Jo"', "jo@example.org"))
    assert head == 'To: "Smith, \\"Jo\\"" <jo@example.org>\r\n'


def test_cyrillic_name_is_rfc2047_encoded() -> None:
    head = headers.fold("To", headers.address_tokens("Анна Петрова", "anna@example.org"))
    assert head.isascii()
    assert "=?utf-8?b?" in head
    assert parse(head)["To"].addresses[0].display_name == "Анна Петрова"


def test_long_subject_is_folded_below_78_columns() -> None:
    subject = "Полынья за неделю: " + "очень длинный заголовок статьи " * 6 + "end of the line"
    head = headers.unstructured("Subject", subject)
    assert all(len(line) <= 78 for line in head.split("\r\n"))
    assert str(parse(head)["Subject"]) == headers.clean(subject, limit=900)


def test_message_id_is_deterministic_and_on_the_site_domain() -> None:
    first = headers.message_id("weekly-en-2026-11-23", 7, "polynya.example", secret="s")
    assert first == headers.message_id("weekly-en-2026-11-23", 7, "polynya.example", secret="s")
    assert first != headers.message_id("weekly-en-2026-11-23", 8, "polynya.example", secret="s")
    assert first != headers.message_id("weekly-ru-2026-11-23", 7, "polynya.example", secret="s")
    # Keyed: without the secret nobody can make up a reader's Message-ID.
    assert first != headers.message_id("weekly-en-2026-11-23", 7, "polynya.example", secret="t")
    assert first.startswith("<weekly-en-2026-11-23.") and first.endswith("@polynya.example>")


def test_subject_uses_the_configured_template(make_settings: Callable[..., Settings]) -> None:
    configured = make_settings(
        """
        [newsletters.weekly.subject]
        en = "{title} — {date}: {lead}"
        """
    )
    text = headers.subject(
        configured,
        language="en",
        frequency=Frequency.WEEKLY,
        date_text="November 23, 2026",
        lead="Moscow is wary\r\nof Belgrade",
    )
    assert text == "Test Weekly — November 23, 2026: Moscow is wary of Belgrade"


@pytest.mark.parametrize(
    ("language", "frequency", "expected"),
    [
        ("en", Frequency.WEEKLY, "Test Weekly weekly: Lead"),
        ("en", Frequency.DAILY, "Test Weekly daily: Lead"),
        ("ru", Frequency.WEEKLY, "Test Weekly за неделю: Lead"),
        ("ru", Frequency.DAILY, "Test Weekly за день: Lead"),
    ],
)
def test_subject_defaults_per_language(
    settings: Settings, language: str, frequency: Frequency, expected: str
) -> None:
    assert (
        headers.subject(
            settings, language=language, frequency=frequency, date_text="d", lead="Lead"
        )
        == expected
    )


def test_subject_with_an_unknown_field_names_the_key(
    make_settings: Callable[..., Settings],
) -> None:
    configured = make_settings(
        """
        [newsletters.daily.subject]
        ru = "{title}: {issue}"
        """
    )
    with pytest.raises(RenderError, match=r"newsletters\.daily\.subject\.ru"):
        headers.subject(
            configured, language="ru", frequency=Frequency.DAILY, date_text="d", lead="x"
        )


def test_very_long_lead_is_shortened(settings: Settings) -> None:
    text = headers.subject(
        settings, language="en", frequency=Frequency.WEEKLY, date_text="d", lead="word " * 100
    )
    assert len(text) <= headers.SUBJECT_LIMIT
    assert text.startswith("Test Weekly weekly: word word") and text.endswith("…")
