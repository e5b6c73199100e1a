"""Where `broadsheet inbox` reads mail from, and the folders it files it in.

A mailbox hands over its messages one by one as :class:`Incoming`; once the
message has been acted on (or deliberately left alone), the mailbox moves it
to the folder named after what was done (:data:`FOLDERS`). A message that
could not be processed is left where it is. Nothing is ever deleted unread.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol

FOLDERS: Final = (
    "bounces",
    "complaints",
    "unsubscribes",
    "auto-replies",
    "human",
    "unmatched",
)
"""The folders messages are filed in, one per outcome:

``bounces``       a delivery status notification (hard or soft), acted on
``complaints``    a feedback-loop complaint report (ARF), acted on
``unsubscribes``  a ``mailto:`` unsubscribe request, acted on
``auto-replies``  an automatic reply (out of office, RFC 3834): ignored
``human``         anything else: a person's reply, left for a person
``unmatched``     a bounce or report naming no message of ours (forged,
                  unknown, malformed, a bounce of a bounce, a loop): ignored
"""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message taken from a mailbox.

    Attributes:
        key: the mailbox's own name for it (a Maildir key, an IMAP UID).
        raw: the message's bytes, as stored.
        recipient: the envelope recipient, when the source knows it (the
            address an MTA passes to a ``pipe`` transport); else ``None``.
    """

    key: str
    raw: bytes
    recipient: str | None = None


class Mailbox(Protocol):
    """A source of messages: a Maildir, an IMAP folder, or standard input."""

    @property
    def label(self) -> str:
        """How log lines name this mailbox (a path or a URL without password)."""
        ...

    def messages(self) -> Iterator[Incoming]:
        """The messages waiting in the mailbox (not those already filed)."""
        ...

    def file(self, message: Incoming, folder: str) -> None:
        """Move ``message`` to ``folder`` (one of :data:`FOLDERS`), creating it if needed."""
        ...

    def close(self) -> None:
        """Release the mailbox (log out, close files)."""
        ...
