"""Signed tokens for the personal links: confirm, unsubscribe, preferences.

A token carries one subscriber id, signed with the publication's secret and
salted with its purpose, so a token made to confirm an address cannot be used
to change preferences, and a token for one subscriber says nothing about any
other. itsdangerous does the signing (HMAC-SHA256) and stamps the time, so a
link can expire.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from itsdangerous import BadData, URLSafeTimedSerializer

from broadsheet.errors import BroadsheetError

PURPOSES = frozenset({"confirm", "unsubscribe", "preferences"})
"""The purposes a token may be made for."""


class BadToken(BroadsheetError):
    """A token that is forged, altered, expired, or made for another purpose."""


@lru_cache(maxsize=32)
def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")  # a bug in the caller
    if not secret:
        raise ValueError("empty link-signing secret")  # a bug in the caller
    return URLSafeTimedSerializer(
        secret,
        salt=f"broadsheet.{purpose}",
        signer_kwargs={"digest_method": hashlib.sha256},
    )


def sign(secret: str, purpose: str, subscriber_id: int) -> str:
    """A URL-safe token binding ``subscriber_id`` to ``purpose``.

    Args:
        secret: the link-signing secret.
        purpose: one of ``confirm``, ``unsubscribe``, ``preferences``.
        subscriber_id: the subscriber the token is for.

    Returns:
        The token, safe to put in a URL query without escaping.
    """
    token: str = _serializer(secret, purpose).dumps(int(subscriber_id))
    return token


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
    try:
        value = _serializer(secret, purpose).loads(token, max_age=max_age)
    except BadData as exc:
        raise BadToken(f"this {purpose} link is not valid or has expired") from exc
    if type(value) is not int:
        raise BadToken(f"this {purpose} link is not valid")
    return value
