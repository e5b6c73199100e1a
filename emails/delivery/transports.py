"""Where messages go: a Maildir folder or an SMTP server, behind one small protocol.

:func:`make_transport` sets up the transport the settings name. The protocol,
the message it takes and the results it gives are defined in
:mod:`broadsheet.emails.delivery.protocol`; :class:`MaildirTransport`
(:mod:`broadsheet.emails.delivery.maildir`) writes each message into a Maildir exactly once, and
:class:`SMTPTransport` (:mod:`broadsheet.emails.delivery.smtp`) hands messages to an SMTP server,
classifying every reply for the ledger. All of them can be imported from here.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from broadsheet.emails.delivery.maildir import MaildirTransport, maildir_name
from broadsheet.emails.delivery.protocol import (
    DeliveryResult,
    DeliveryStatus,
    Message,
    Transport,
    TransportUnavailable,
    Wait,
    plain_wait,
)
from broadsheet.emails.delivery.smtp import SMTPTransport
from broadsheet.errors import DeliveryError

if TYPE_CHECKING:
    from broadsheet.config import Settings

__all__ = [
    "DeliveryResult",
    "DeliveryStatus",
    "MaildirTransport",
    "Message",
    "SMTPTransport",
    "Transport",
    "TransportUnavailable",
    "Wait",
    "maildir_name",
    "make_transport",
    "plain_wait",
]


def make_transport(
    settings: Settings,
    name: str | None = None,
    *,
    wait: Wait = plain_wait,
    rate_share: int = 1,
    ssl_context: ssl.SSLContext | None = None,
) -> Transport:
    """The transport ``name`` (default ``delivery.transport``) set up from the settings.

    Args:
        settings: the publication's settings.
        name: ``"maildir"`` or ``"smtp"``.
        wait: sleep used between SMTP retries.
        rate_share: the number of transports sharing ``delivery.rate`` (every
            connection of every worker process; each gets an equal part).
        ssl_context: TLS settings for SMTP (default: verify the server).

    Raises:
        DeliveryError: an unknown transport, or AUTH without a password.
    """
    config = settings.delivery
    chosen = name or config.transport
    rate = config.rate / max(rate_share, 1) if config.rate else None
    if chosen == "maildir":
        return MaildirTransport(config.maildir, rate=rate)
    if chosen == "smtp":
        password = None
        if config.smtp_user is not None:
            password = settings.smtp_password()
            if password is None:
                raise DeliveryError(
                    f"delivery.smtp_user is {config.smtp_user!r} but the environment variable "
                    f"{config.smtp_password_env} (delivery.smtp_password_env) is not set"
                )
        return SMTPTransport(
            config.smtp_host,
            config.smtp_port,
            tls=config.smtp_tls,
            user=config.smtp_user,
            password=password,
            timeout=config.smtp_timeout,
            rate=rate,
            retries=config.retries,
            backoff=config.backoff_seconds,
            ssl_context=ssl_context,
            wait=wait,
        )
    raise DeliveryError(f"unknown transport {chosen!r}: expected 'maildir' or 'smtp'")
