"""Signed tokens for the personal links (confirm, unsubscribe, preferences) and previews.

A token is ``ID.TIME.SIGNATURE``: the subscriber id and the signing time
(both base 36) and an HMAC-SHA256 over them, keyed by the publication's
secret *and* the token's purpose. So a token made to confirm an address
cannot change preferences, a token for one subscriber says nothing about any
other, and any altered character is refused. Signing costs one HMAC, which
matters when an edition goes to tens of thousands of readers.

A preview link (``/preview/EDITION?token=…``, printed by ``broadsheet
edition build``) names an edition, not a subscriber: its token is
``TIME.SIGNATURE``, the HMAC (keyed for the ``preview`` purpose) covering
the edition id and the time, see :func:`sign_name` and :func:`verify_name`.

A counted link (``/r/TOKEN``, ``[links] count_clicks``) names an edition and
one link it carried, never a reader: its token is ``EDITION.KEY.SIGNATURE``,
the HMAC (keyed for the ``link`` purpose) over the edition id and the link's
key, cut to 16 characters (96 bits: guessing one takes longer than any
server answers). It has no time in it and does not expire, as a link in an
old letter should still lead to its article; see :func:`sign_link` and
:func:`verify_link`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from functools import lru_cache

from broadsheet.errors import BroadsheetError

PURPOSES = frozenset({"confirm", "unsubscribe", "preferences", "preview", "link", "message-id"})
"""The purposes a token may be made for."""

CLOCK_SKEW = 300
"""Seconds a token may seem to come from the future (another machine's clock)."""

_NUMBER = re.compile(r"[0-9a-z]{1,13}")
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{43}")
_LARGEST_ID = 2**63 - 1
_EDITION = re.compile(r"[A-Za-z0-9_+-]{1,120}")
_LINK_KEY = re.compile(r"[0-9a-f]{12}")
_LINK_SIGNATURE = 16
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class BadToken(BroadsheetError):
    """A token that is forged, altered, expired, or made for another purpose."""


@lru_cache(maxsize=32)
def _key(secret: str, purpose: str) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")  # a bug in the caller
    if not secret:
        raise ValueError("empty link-signing secret")  # a bug in the caller
    label = f"broadsheet token: {purpose}".encode()
    return hmac.new(secret.encode("utf-8"), label, hashlib.sha256).digest()


def purpose_key(secret: str, purpose: str) -> bytes:
    """The key derived from ``secret`` for one purpose (Message-ID digests use it too)."""
    return _key(secret, purpose)


def _base36(number: int) -> str:
    digits = []
    while True:
        number, rest = divmod(number, 36)
        digits.append(_DIGITS[rest])
        if not number:
            return "".join(reversed(digits))


def _signature(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(secret: str, purpose: str, subscriber_id: int) -> str:
    """A URL-safe token binding ``subscriber_id`` to ``purpose``.

    Args:
        secret: the link-signing secret.
        purpose: one of ``confirm``, ``unsubscribe``, ``preferences``.
        subscriber_id: the subscriber the token is for.

    Returns:
        The token, safe to put in a URL query or a mail subject without escaping.
    """
    if subscriber_id < 0:
        raise ValueError("subscriber ids are not negative")  # a bug in the caller
    body = f"{_base36(int(subscriber_id))}.{_base36(int(time.time()))}"
    return f"{body}.{_signature(_key(secret, purpose), body)}"


def verify(secret: str, token: str, purpose: str, max_age: int) -> int:
    """The subscriber id inside ``token``.

    Args:
        secret: the link-signing secret the token was made with.
        token: the token from the link.
        purpose: the purpose the link is used for.
        max_age: the oldest token accepted, in seconds.

    Raises:
        BadToken: the token is forged, altered, expired or for another purpose.
    """
    key = _key(secret, purpose)
    parts = token.split(".")
    if (
        len(parts) != 3
        or not all(_NUMBER.fullmatch(part) for part in parts[:2])
        or not _SIGNATURE.fullmatch(parts[2])
    ):
        raise BadToken(f"this {purpose} link is not valid")
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_signature(key, body), parts[2]):
        raise BadToken(f"this {purpose} link is not valid")
    age = time.time() - int(parts[1], 36)
    if age > max_age or age < -CLOCK_SKEW:
        raise BadToken(f"this {purpose} link has expired: ask for a new one")
    subscriber_id = int(parts[0], 36)
    if subscriber_id > _LARGEST_ID:  # signed, yet no store holds such an id
        raise BadToken(f"this {purpose} link is not valid")
    return subscriber_id


def signed_at(token: str) -> int:
    """When a token (already verified) was signed, in seconds since the epoch."""
    return int(token.split(".")[1], 36)


def sign_name(secret: str, purpose: str, name: str) -> str:
    """A URL-safe token binding the name ``name`` (an edition id) to ``purpose``.

    The name itself is not in the token: the link carries it (the preview
    page's path), and :func:`verify_name` is given it back.

    Args:
        secret: the link-signing secret.
        purpose: the purpose, e.g. ``preview``.
        name: what the token is for.
    """
    stamp = _base36(int(time.time()))
    return f"{stamp}.{_signature(_key(secret, purpose), _named(name, stamp))}"


def verify_name(secret: str, token: str, purpose: str, name: str, max_age: int) -> None:
    """Check that ``token`` was made by :func:`sign_name` for ``name`` and ``purpose``.

    Raises:
        BadToken: the token is forged, altered, expired, for another name or purpose.
    """
    key = _key(secret, purpose)
    parts = token.split(".")
    if len(parts) != 2 or not _NUMBER.fullmatch(parts[0]) or not _SIGNATURE.fullmatch(parts[1]):
        raise BadToken(f"this {purpose} link is not valid")
    if not hmac.compare_digest(_signature(key, _named(name, parts[0])), parts[1]):
        raise BadToken(f"this {purpose} link is not valid")
    age = time.time() - int(parts[0], 36)
    if age > max_age or age < -CLOCK_SKEW:
        raise BadToken(f"this {purpose} link has expired: ask for a new one")


def _named(name: str, stamp: str) -> str:
    """What a named token signs: the name (as ASCII-safe text) and the time."""
    return f"{name.encode('utf-8').hex()}.{stamp}"


def sign_link(secret: str, edition_id: str, key: str) -> str:
    """The token of a counted link: edition ``edition_id``, link ``key``.

    Args:
        secret: the link-signing secret.
        edition_id: the edition (letters, digits, ``-``, ``_`` and ``+``, as edition ids are).
        key: the link's key in the edition (12 hexadecimal digits).
    """
    if not _EDITION.fullmatch(edition_id) or not _LINK_KEY.fullmatch(key):
        raise ValueError(f"cannot sign a link for {edition_id!r}/{key!r}")  # a bug in the caller
    body = f"{edition_id}.{key}"
    return f"{body}.{_signature(_key(secret, 'link'), body)[:_LINK_SIGNATURE]}"


def verify_link(secret: str, token: str) -> tuple[str, str]:
    """The edition id and link key inside a counted link's ``token``.

    Raises:
        BadToken: the token is forged or altered.
    """
    parts = token.split(".")
    if (
        len(parts) != 3
        or not _EDITION.fullmatch(parts[0])
        or not _LINK_KEY.fullmatch(parts[1])
        or len(parts[2]) != _LINK_SIGNATURE
    ):
        raise BadToken("this link is not valid")
    expected = _signature(_key(secret, "link"), f"{parts[0]}.{parts[1]}")[:_LINK_SIGNATURE]
    if not hmac.compare_digest(expected.encode("ascii"), parts[2].encode("ascii", "replace")):
        raise BadToken("this link is not valid")
    return parts[0], parts[1]
