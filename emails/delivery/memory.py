"""A transport that keeps every message in memory: for embedding and tests.

A host application that wants to hand messages to its own mail system, or a
test that wants to look at what was sent, passes a :class:`MemoryTransport`
to :func:`~broadsheet.emails.delivery.sender.send_edition`; the ledger still
records every delivery, so exactly-once holds as with Maildir and SMTP.

    transport = MemoryTransport()
    send_edition(store, settings, "weekly-en-2026-11-23", now=now, transport=transport)
    for sent in transport.messages:
        print(sent.recipient, sent.message["Subject"])
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

from broadsheet.emails.delivery.protocol import DeliveryResult, DeliveryStatus, Message


@dataclass(frozen=True)
class SentMessage:
    """One message a :class:`MemoryTransport` took.

    Attributes:
        recipient: the envelope recipient.
        sender: the envelope sender.
        message_id: the Message-ID header's value.
        data: the complete message as delivered (CRLF line ends).
    """

    recipient: str
    sender: str
    message_id: str
    data: bytes

    @property
    def message(self) -> EmailMessage:
        """The message parsed with the standard library's modern policy."""
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)  # what policy.default builds
        return parsed


class MemoryTransport:
    """Keeps each message once per Message-ID, like a Maildir; thread-safe."""

    name = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[SentMessage] = []
        self._ids: set[str] = set()

    @property
    def messages(self) -> list[SentMessage]:
        """Every message taken so far, in order."""
        with self._lock:
            return list(self._messages)

    def deliver(
        self,
        message: Message,
        *,
        recipient: str,
        resumed: bool = False,
        barrier: Callable[[], None] | None = None,
    ) -> DeliveryResult:
        """Keep ``message`` unless a message with its Message-ID was taken already."""
        with self._lock:
            if message.message_id in self._ids:
                return DeliveryResult(DeliveryStatus.ALREADY, "already in memory")
        if barrier is not None:
            barrier()
        sent = SentMessage(
            recipient=recipient,
            sender=message.sender,
            message_id=message.message_id,
            data=message.data,
        )
        with self._lock:
            if message.message_id in self._ids:
                return DeliveryResult(DeliveryStatus.ALREADY, "already in memory")
            self._ids.add(message.message_id)
            self._messages.append(sent)
        return DeliveryResult(DeliveryStatus.SENT, f"kept in memory ({len(self._messages)})")

    def close(self) -> None:
        """Nothing to release; the messages stay."""
