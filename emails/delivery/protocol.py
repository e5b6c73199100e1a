"""What every transport shares: the protocol, the message it takes, the result it gives.

A transport delivers one message at a time and says what became of it
(:class:`DeliveryResult`); when it cannot deliver anything at all it raises
:class:`TransportUnavailable` instead, so a send stops rather than failing
message after message. :mod:`broadsheet.emails.delivery.maildir` and
:mod:`broadsheet.emails.delivery.smtp` implement
the protocol; :func:`broadsheet.emails.delivery.transports.make_transport` picks one.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from broadsheet.errors import DeliveryError

__all__ = [
    "DeliveryResult",
    "DeliveryStatus",
    "Message",
    "Pacer",
    "Transport",
    "TransportUnavailable",
    "Wait",
    "plain_wait",
]


class Message(Protocol):
    """What a transport needs of a message (``OutgoingMessage`` of the edition room fits)."""

    @property
    def message_id(self) -> str:
        """The Message-ID header's value, angle brackets included."""

    @property
    def sender(self) -> str:
        """The envelope sender (MAIL FROM)."""

    @property
    def data(self) -> bytes:
        """The complete RFC 5322 message, CRLF line ends."""


class DeliveryStatus(enum.StrEnum):
    """What became of one delivery."""

    SENT = "sent"
    ALREADY = "already"
    """The message was delivered by an earlier attempt (the Maildir file is there)."""
    FAILED = "failed"
    """A temporary failure outlasted the retries, or a policy refusal: try again later."""
    BOUNCED = "bounced"
    """The address was refused for good."""


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of one delivery, with the reply kept in the ledger.

    Attributes:
        status: see :class:`DeliveryStatus`.
        reply: the server's reply (``"250 2.0.0 Ok: queued as 4F3"``) or, for a
            Maildir, where the file went.
        code: the SMTP reply code, when there was one.
    """

    status: DeliveryStatus
    reply: str
    code: int | None = None


class TransportUnavailable(DeliveryError):
    """The transport cannot deliver anything now (server away, refused login or sender).

    Raised instead of failing message after message: the send stops, the
    messages not delivered stay queued, and a later run picks them up.
    """


class Transport(Protocol):
    """Outbound delivery: Maildir and SMTP implement it for real."""

    name: str

    def deliver(
        self,
        message: Message,
        *,
        recipient: str,
        resumed: bool = False,
        barrier: Callable[[], None] | None = None,
    ) -> DeliveryResult:
        """Deliver ``message`` to ``recipient``.

        Args:
            message: the message.
            recipient: the envelope recipient.
            resumed: an earlier attempt, cut short, may have delivered the
                message already; a transport that can tell avoids a second copy.
            barrier: called once, right before the point after which the
                message may have been delivered (the end of SMTP DATA, the
                link into ``new/``); if it raises, nothing is delivered. A
                sender waits there for the previous outcome to be recorded,
                so recording overlaps the start of the next delivery while
                never more than one message is delivered and unrecorded.
        """

    def close(self) -> None:
        """Release connections; the transport may be used again afterwards."""


Wait = Callable[[float], bool]
"""Sleep up to this many seconds; returns True when woken early to stop."""


def plain_wait(seconds: float) -> bool:
    """``time.sleep`` as a :data:`Wait` that is never woken early."""
    time.sleep(seconds)
    return False


class Pacer:
    """Spaces deliveries out to at most ``rate`` a second (``None``: no limit).

    Each call to :meth:`pace` takes the next free slot, sleeping until it
    comes; a transport that was idle starts again at once, without a burst
    to make up for the pause.
    """

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next_slot = 0.0

    def pace(self) -> None:
        """Wait for the next slot (returns at once without a limit)."""
        if not self.interval:
            return
        now = time.monotonic()
        if now < self._next_slot:
            time.sleep(self._next_slot - now)
            now = self._next_slot
        self._next_slot = now + self.interval
