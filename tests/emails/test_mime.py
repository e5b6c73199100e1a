"""MIME assembly: shared parts encoded once, readers' values spliced in, read back cleanly."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadsheet.emails.edition.mime import Alternative, EncodedPart, choose_encoding, crlf
from broadsheet.emails.edition.personalize import SLOTS, Template

# Unicode categories, typed so mypy matches them with hypothesis's names.
SURROGATES: tuple[Literal["Cs"], ...] = ("Cs",)
SURROGATES_AND_CONTROLS: tuple[Literal["Cs", "Cc"], ...] = ("Cs", "Cc")

texts = st.text(
    alphabet=st.characters(blacklist_categories=SURROGATES, blacklist_characters="\x00"),
    max_size=300,
)
values = st.text(
    alphabet=st.characters(blacklist_categories=SURROGATES_AND_CONTROLS)
    | st.sampled_from(" \t.=-"),
    max_size=120,
)


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def message_of(body: bytes, alternative: Alternative) -> bytes:
    return b"MIME-Version: 1.0\r\n" + alternative.content_type + b"\r\n" + body


def lines_ok(data: bytes, limit: int = 78) -> None:
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    for line in data.split(b"\r\n"):
        assert len(line) <= limit, line


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    pieces=st.lists(texts, min_size=1, max_size=5),
    fills=st.lists(values, min_size=4, max_size=4),
    encoding=st.sampled_from(["base64", "quoted-printable"]),
    subtype=st.sampled_from(["plain", "html"]),
)
def test_any_text_round_trips(
    pieces: list[str], fills: list[str], encoding: str, subtype: str
) -> None:
    slots = [SLOTS[i % len(SLOTS)] for i in range(len(pieces) - 1)]
    template = Template(pieces=tuple(pieces), slots=tuple(slots))
    values_by_slot = dict(zip(SLOTS, fills, strict=False))
    part = EncodedPart(template, subtype=subtype, encoding=encoding)  # type: ignore[arg-type]
    other = EncodedPart(Template(pieces=("x",), slots=()), subtype="html")
    alternative = Alternative(part, other, seed="edition")
    data = message_of(alternative.body(values_by_slot, {}), alternative)
    lines_ok(data)
    message = parse(data)
    assert not message.defects
    text_part = next(message.iter_parts())
    assert not text_part.defects
    assert text_part["Content-Transfer-Encoding"] == encoding
    expected = crlf(template.fill(values_by_slot))
    decoded = text_part.get_payload(decode=True)
    assert decoded == expected.encode("utf-8")


def test_base64_never_pads_mid_stream() -> None:
    template = Template.parse("ab%%bs:greeting%%c%%bs:unsubscribe_url%%defg%%bs:preferences_url%%")
    part = EncodedPart(template, subtype="html", encoding="base64")
    for fill in ("", "x", "xy", "xyz", "Привет"):
        body = part.encode({"greeting": fill, "unsubscribe_url": fill, "preferences_url": fill})
        encoded = body.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"")
        assert b"=" not in encoded.rstrip(b"=")
        lines_ok(body)


def test_cyrillic_html_goes_base64_and_english_text_quoted_printable() -> None:
    russian = ("<p>Независимая аналитика о России и её соседях.</p>\n" * 200).encode()
    english = ("Independent analysis of Russia and its neighbours.\n" * 200).encode()
    assert choose_encoding(russian) == "base64"
    assert choose_encoding(english) == "quoted-printable"


def test_alternative_puts_text_first_then_html() -> None:
    text = EncodedPart(Template.parse("Hello %%bs:greeting%%\n"), subtype="plain")
    html = EncodedPart(Template.parse("<p>Hello %%bs:greeting%%</p>"), subtype="html")
    alternative = Alternative(text, html, seed="weekly-en-2026-11-23")
    data = message_of(
        alternative.body({"greeting": "Anna"}, {"greeting": "Anna &amp; Bob"}), alternative
    )
    message = parse(data)
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    parts = list(message.iter_parts())
    assert parts[0].get_content().replace("\r\n", "\n") == "Hello Anna\n"
    assert parts[1].get_content() == "<p>Hello Anna &amp; Bob</p>"
    assert all(part.get_content_charset() == "utf-8" for part in parts)


def test_boundary_is_stable_per_edition() -> None:
    part = EncodedPart(Template.parse("x"), subtype="plain")
    assert Alternative(part, part, seed="a").boundary == Alternative(part, part, seed="a").boundary
    assert Alternative(part, part, seed="a").boundary != Alternative(part, part, seed="b").boundary


@pytest.mark.parametrize("encoding", ["base64", "quoted-printable"])
def test_long_lines_are_wrapped(encoding: str) -> None:
    long_line = "<td>" + "Длинная строка без переносов " * 200 + "</td>"
    part = EncodedPart(Template.parse(long_line), subtype="html", encoding=encoding)  # type: ignore[arg-type]
    body = part.encode({})
    lines_ok(body, limit=76)
