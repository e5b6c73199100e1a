"""MIME assembly, fast: the shared body is encoded once, readers' parts are spliced in.

A text part is a :class:`~broadsheet.emails.edition.personalize.Template`: fixed pieces with a
few personal values between them. :class:`EncodedPart` transfer-encodes the
fixed pieces once per edition; per message only the short seams around each
personal value are encoded, then everything is joined.

- **base64**: a seam is padded out to a multiple of three bytes with the
  neighbouring fixed bytes, so no ``=`` padding appears mid-stream; each
  piece is pre-encoded for each of the three possible starting offsets.
  Lines are at most 76 characters.
- **quoted-printable**: pieces are encoded with lines of at most 75
  characters and joined to the seams with soft line breaks (``=`` CRLF).

The part's encoding is chosen by size: Cyrillic HTML is about a third
smaller as base64 than as quoted-printable, English text far smaller as
quoted-printable. Both keep every line far below 998 octets.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email import quoprimime
from typing import Final, Literal

from broadsheet.emails.edition.personalize import Template

Encoding = Literal["base64", "quoted-printable"]

CRLF: Final = b"\r\n"
_B64_LINE_BYTES: Final = 57  # 57 bytes encode to one 76-character line


def crlf(text: str) -> str:
    """``text`` with every line break as CRLF (MIME's canonical form for text)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def _b64_lines(data: bytes) -> bytes:
    """``data`` base64-encoded, 76-character lines, each ending in CRLF."""
    if not data:
        return b""
    out = []
    for start in range(0, len(data), _B64_LINE_BYTES):
        out.append(binascii.b2a_base64(data[start : start + _B64_LINE_BYTES], newline=False))
    return CRLF.join(out) + CRLF


def _qp(data: bytes) -> bytes:
    """``data`` quoted-printable with lines of at most 75 characters, CRLF line ends.

    One character short of the limit leaves room for the soft line break
    that joins a piece to the next seam.
    """
    encoded = quoprimime.body_encode(data.decode("latin-1"), maxlinelen=75, eol="\r\n")
    return encoded.encode("ascii")


def _qp_value(data: bytes) -> bytes:
    """A personal value quoted-printable on its own soft-broken lines (fast, in C)."""
    encoded = binascii.b2a_qp(data, quotetabs=True, istext=False, header=False)
    # b2a_qp breaks long lines with "=\n"; the message uses CRLF.
    return encoded.replace(b"=\n", b"=\r\n")


def choose_encoding(data: bytes) -> Encoding:
    """The transfer encoding that makes ``data`` smaller."""
    base64_size = (len(data) + 2) // 3 * 4 * 78 // 76
    qp_size = len(_qp(data))
    return "base64" if base64_size < qp_size else "quoted-printable"


@dataclass(frozen=True, slots=True)
class _Piece:
    """One fixed piece, encoded for each number of leading bytes a seam may take."""

    raw: bytes
    encoded: tuple[bytes, ...]  # base64: by bytes taken (0, 1, 2); qp: (whole piece,)
    tails: tuple[bytes, ...]  # base64: bytes left over after the aligned run


class EncodedPart:
    """One ``text/*`` part whose fixed text is encoded once.

    Args:
        template: the part's text split at its personal placeholders.
        subtype: ``plain`` or ``html``.
        encoding: force a transfer encoding; chosen by size when ``None``.
    """

    def __init__(
        self, template: Template, *, subtype: str, encoding: Encoding | None = None
    ) -> None:
        raws = [crlf(piece).encode("utf-8") for piece in template.pieces]
        self.slots = template.slots
        self.encoding: Encoding = encoding or choose_encoding(b"".join(raws))
        self.header = (
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {self.encoding}\r\n\r\n"
        ).encode("ascii")
        if self.encoding == "base64":
            self._pieces = tuple(self._base64_piece(raw) for raw in raws)
        else:
            self._pieces = tuple(_Piece(raw, (_qp(raw),), ()) for raw in raws)

    @staticmethod
    def _base64_piece(raw: bytes) -> _Piece:
        encoded = []
        tails = []
        for taken in range(3):
            body = raw[taken:]
            cut = len(body) - len(body) % 3
            encoded.append(_b64_lines(body[:cut]))
            tails.append(body[cut:])
        return _Piece(raw, tuple(encoded), tuple(tails))

    def encode(self, values: Mapping[str, str]) -> bytes:
        """The part (its headers and encoded body) with ``values`` in its slots."""
        seams = [crlf(values[slot]).encode("utf-8") for slot in self.slots]
        join = self._join_base64 if self.encoding == "base64" else self._join_qp
        body = join(seams) or CRLF
        return self.header + body

    def _join_qp(self, seams: Sequence[bytes]) -> bytes:
        pieces = self._pieces
        out = [pieces[0].encoded[0]]
        for seam, piece in zip(seams, pieces[1:], strict=True):
            if seam:
                out.append(b"=\r\n")
                out.append(_qp_value(seam))
            out.append(b"=\r\n")
            out.append(piece.encoded[0])
        out.append(CRLF)
        return b"".join(out)

    def _join_base64(self, seams: Sequence[bytes]) -> bytes:
        pieces = self._pieces
        first = pieces[0]
        out = [first.encoded[0]]
        carry = first.tails[0]
        for seam, piece in zip(seams, pieces[1:], strict=True):
            carry += seam
            need = -len(carry) % 3
            if need > len(piece.raw):
                # A piece too short to align the seam: it joins the carry whole.
                carry += piece.raw
                aligned = len(carry) - len(carry) % 3
                out.append(_b64_lines(carry[:aligned]))
                carry = carry[aligned:]
                continue
            out.append(_b64_lines(carry + piece.raw[:need]))
            out.append(piece.encoded[need])
            carry = piece.tails[need]
        if carry:
            out.append(binascii.b2a_base64(carry, newline=False) + CRLF)
        return b"".join(out)


class Alternative:
    """A ``multipart/alternative`` body: the text twin, then the HTML.

    Args:
        text: the plain-text part.
        html: the HTML part.
        seed: text the boundary is derived from (the edition id), so a
            rebuilt message is byte-identical.
    """

    def __init__(self, text: EncodedPart, html: EncodedPart, *, seed: str) -> None:
        self.text = text
        self.html = html
        # "=_" never occurs in base64 or quoted-printable output, so the
        # boundary cannot collide with the encoded bodies.
        self.boundary = "=_bs_" + hashlib.sha256(seed.encode()).hexdigest()[:24]
        self.content_type = (
            f'Content-Type: multipart/alternative;\r\n boundary="{self.boundary}"\r\n'
        ).encode("ascii")
        delimiter = f"--{self.boundary}\r\n".encode("ascii")
        self._open = delimiter
        self._middle = CRLF + delimiter
        self._close = f"\r\n--{self.boundary}--\r\n".encode("ascii")

    def body(self, text_values: Mapping[str, str], html_values: Mapping[str, str]) -> bytes:
        """Both parts with the reader's values, between the boundaries."""
        text = self.text.encode(text_values)
        html = self.html.encode(html_values)
        # Each encoded body ends in CRLF; that CRLF belongs to the boundary.
        return b"".join(
            (self._open, text[:-2], self._middle, html[:-2], self._close),
        )
