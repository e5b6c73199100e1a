"""DKIM signatures (dkimpy), covering the headers receivers judge a newsletter by.

Gmail and Yahoo require bulk mail to be signed, and RFC 8058 one-click
unsubscribe only counts when the signature covers both List-Unsubscribe
headers; so they are always in the signed set.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

import dkim

from broadsheet.config import Settings
from broadsheet.errors import ConfigError, RenderError

log = logging.getLogger(__name__)

SIGNED_HEADERS: Final = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "MIME-Version",
    "Content-Type",
)
"""Headers every signature covers (when present in the message)."""


class DkimSigner:
    """Signs complete messages with one key.

    Args:
        key: an RSA private key in PEM, or an Ed25519 seed in base64.
        selector: the DNS selector (``SELECTOR._domainkey.DOMAIN``).
        domain: the signing domain (``d=``), normally the From address's domain.
    """

    def __init__(self, key: bytes, *, selector: str, domain: str) -> None:
        self.key = key
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("idna")
        # dkimpy takes RSA keys as PEM and Ed25519 keys as a bare base64 seed.
        pem = key.lstrip().startswith(b"-----")
        self.algorithm = b"rsa-sha256" if pem else b"ed25519-sha256"
        self.headers = [name.lower().encode("ascii") for name in SIGNED_HEADERS]

    @classmethod
    def for_sender(cls, settings: Settings) -> DkimSigner | None:
        """The signer ``[sender]`` configures (its ``dkim_key``), or ``None``."""
        if settings.sender.dkim_key is None:
            return None
        return cls.from_file(
            settings.sender.dkim_key,
            selector=settings.sender.dkim_selector,
            domain=settings.sender.email.rpartition("@")[2] or settings.site.domain,
            config=settings.path,
        )

    @classmethod
    def from_file(cls, path: Path, *, selector: str, domain: str, config: Path) -> DkimSigner:
        """A signer with the key in ``path`` (``sender.dkim_key``).

        Raises:
            ConfigError: the key file cannot be read.
        """
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                str(config), [f"sender.dkim_key: cannot read {path}: {exc.strerror}"]
            ) from None
        return cls(key, selector=selector, domain=domain)

    def signature(self, message: bytes) -> bytes:
        """The ``DKIM-Signature`` header (CRLF-terminated) for ``message``.

        Raises:
            RenderError: dkimpy refused the key or the message.
        """
        try:
            header: bytes = dkim.sign(
                message,
                self.selector,
                self.domain,
                self.key,
                canonicalize=(b"relaxed", b"relaxed"),
                signature_algorithm=self.algorithm,
                include_headers=self.headers,
                linesep=b"\r\n",
            )
        except dkim.DKIMException as exc:
            raise RenderError(f"sender.dkim_key: cannot sign with this key: {exc}") from exc
        return header

    def sign(self, message: bytes) -> bytes:
        """``message`` with its signature prepended."""
        return self.signature(message) + message
