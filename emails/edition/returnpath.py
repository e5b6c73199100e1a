"""The envelope sender (Return-Path) of each message: which edition, which subscriber.

With ``[inbound] bounce_address = "bounces@example.org"`` every message of
an edition leaves with its own envelope sender, VERP-style::

    bounces+<TOKEN>@example.org

so a bounce, which goes back to the envelope sender, names exactly one send
ledger row even when it quotes none of the original message. The token is
lower-case base32 (RFC 4648, no padding) of three parts::

    varint(subscriber id) ‖ BLAKE2b-32(edition id) ‖ HMAC-SHA256(key, first two)[:10]

where the key is derived from the publication's secret for the purpose
``return`` (as :mod:`~broadsheet.emails.edition.tokens` derives its keys), so
nobody without the secret can make a token (80 bits of MAC), and a token
made for one subscriber says nothing about another. base32 makes it
case-insensitive: a mail server may change the case of a local part. The
token is at most 37 characters (23 for the ids below 2 million a store
usually holds), so the local part stays within RFC 5321's 64 octets
whenever the bounce address's own is at most 26 characters.

A token does not expire: bounces come back days later. Test sends and
messages outside editions use the plain bounce address.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from broadsheet.config import Settings
from broadsheet.errors import ConfigError

__all__ = [
    "MAC_BYTES",
    "MAX_TOKEN",
    "ReturnToken",
    "ReturnPaths",
    "edition_digest",
    "plain_sender",
    "token_in",
    "verify",
]

MAC_BYTES = 10
"""Bytes of HMAC kept in a token (80 bits)."""

DIGEST_BYTES = 4
"""Bytes of the edition id's digest in a token."""

MAX_TOKEN = 37
"""The longest token (a 63-bit subscriber id): 9 + 4 + 10 bytes in base32."""

LOCAL_PART_LIMIT = 64
"""RFC 5321, 4.5.3.1.1: the longest local part."""


@dataclass(frozen=True, slots=True)
class ReturnToken:
    """What a verified token names: a subscriber and (the digest of) an edition id."""

    subscriber_id: int
    edition_digest: bytes


@lru_cache(maxsize=32)
def _key(secret: str) -> bytes:
    if not secret:
        raise ValueError("empty link-signing secret")  # a bug in the caller
    return hmac.new(secret.encode("utf-8"), b"broadsheet token: return", hashlib.sha256).digest()


def edition_digest(edition_id: str) -> bytes:
    """The 4-byte digest of an edition id that tokens carry."""
    return hashlib.blake2b(edition_id.encode("utf-8"), digest_size=DIGEST_BYTES).digest()


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low = number & 0x7F
        number >>= 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _read_varint(data: bytes) -> tuple[int, int] | None:
    """The number at the start of ``data`` and its length, or ``None``."""
    number = 0
    for index, byte in enumerate(data[:9]):
        number |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            # One encoding per number: no trailing zero groups.
            if index and not byte:
                return None
            return number, index + 1
    return None


def _b32(data: bytes) -> str:
    return base64.b32encode(data).rstrip(b"=").decode("ascii").lower()


def _split(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain


def plain_sender(settings: Settings) -> str:
    """The envelope sender of messages outside the ledger (test sends, confirmations)."""
    return settings.inbound.bounce_address or settings.sender.email


class ReturnPaths:
    """Makes the envelope sender of each message of one publication.

    Build once per edition; :meth:`sender` costs one HMAC.
    """

    def __init__(self, settings: Settings, secret: str) -> None:
        self.bounce_address = settings.inbound.bounce_address
        self._mac = hmac.new(_key(secret), digestmod=hashlib.sha256)
        self._local = ""
        self._domain = ""
        if self.bounce_address:
            self._local, self._domain = _split(self.bounce_address)
            if len(self._local) + 1 + MAX_TOKEN > LOCAL_PART_LIMIT:
                room = LOCAL_PART_LIMIT - 1 - MAX_TOKEN
                raise ConfigError(
                    str(settings.path),
                    [
                        f"inbound.bounce_address: the part before the @ ({self._local!r}) may "
                        f"be at most {room} characters, so that '{self._local}+TOKEN' fits "
                        "the 64 octets mail servers allow"
                    ],
                )
        self.fallback = plain_sender(settings)

    def token(self, subscriber_id: int, edition_id: str) -> str:
        """The token naming ``subscriber_id`` and ``edition_id``."""
        if subscriber_id < 0:
            raise ValueError("subscriber ids are not negative")  # a bug in the caller
        body = _varint(subscriber_id) + edition_digest(edition_id)
        mac = self._mac.copy()
        mac.update(body)
        return _b32(body + mac.digest()[:MAC_BYTES])

    def sender(self, subscriber_id: int, edition_id: str) -> str:
        """The envelope sender of ``edition_id``'s message to ``subscriber_id``."""
        if not self.bounce_address:
            return self.fallback
        return f"{self._local}+{self.token(subscriber_id, edition_id)}@{self._domain}"


def token_in(address: str, bounce_address: str | None) -> str | None:
    """The token in ``address`` if it is ``bounce_address`` with one (any case), else ``None``.

    ``address`` may come in angle brackets, as a Return-Path or Delivered-To
    header writes it.
    """
    if not bounce_address:
        return None
    address = address.strip().strip("<>").strip()
    local, domain = _split(address.lower())
    base_local, base_domain = _split(bounce_address.lower())
    if domain != base_domain or not local.startswith(base_local + "+"):
        return None
    token = local[len(base_local) + 1 :]
    return token if 0 < len(token) <= MAX_TOKEN else None


def verify(secret: str, token: str) -> ReturnToken | None:
    """What ``token`` names, or ``None`` when it is malformed or forged (any case)."""
    text = token.strip().upper()
    if not text or len(text) > MAX_TOKEN or not text.isascii():
        return None
    try:
        data = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return None
    if _b32(data) != text.lower():  # a non-canonical spelling of the same bytes
        return None
    read = _read_varint(data)
    if read is None:
        return None
    subscriber_id, used = read
    body_end = used + DIGEST_BYTES
    if len(data) != body_end + MAC_BYTES:
        return None
    body, mac = data[:body_end], data[body_end:]
    expected = hmac.new(_key(secret), body, hashlib.sha256).digest()[:MAC_BYTES]
    if not hmac.compare_digest(expected, mac):
        return None
    return ReturnToken(subscriber_id, data[used:body_end])
