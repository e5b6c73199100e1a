"""The SMTP transport doubles line-leading dots exactly as smtplib does."""

from __future__ import annotations

import itertools
import re
import smtplib

from broadsheet.emails.delivery.smtp import _dot_stuffed


def _smtplib(data: bytes) -> bytes:
    # smtplib.quotedata's dot-stuffing, on data already in CRLF form.
    return re.sub(rb"(?m)^\.", b"..", data)


def test_every_short_message_of_dots_and_line_ends_is_stuffed_as_smtplib_does() -> None:
    for size in range(7):
        for letters in itertools.product(b".\r\na", repeat=size):
            data = bytes(letters)
            assert _dot_stuffed(data) == _smtplib(data), data


def test_a_crlf_message_matches_smtplib_quotedata() -> None:
    data = b".first\r\nplain\r\n..two\r\n=\r\n.end\r\n"
    assert _dot_stuffed(data) == smtplib.quotedata(data.decode()).encode()
