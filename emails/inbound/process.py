"""One pass over a mailbox: recognise, act, record, file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from broadsheet.config import Settings
from broadsheet.emails.delivery.protocol import Transport
from broadsheet.emails.inbound.mailboxes import Mailbox
from broadsheet.store import Store

__all__ = ["Summary", "process"]


@dataclass
class Summary:
    """What one pass did.

    Attributes:
        filed: messages filed, by folder (see ``mailboxes.FOLDERS``).
        left: messages left where they were (the store or the forward failed);
            a later pass takes them again.
        problems: one line per message left, naming it and why.
    """

    filed: dict[str, int] = field(default_factory=dict)
    left: int = 0
    problems: list[str] = field(default_factory=list)


def process(
    mailbox: Mailbox,
    settings: Settings,
    store: Store,
    *,
    now: datetime,
    transport: Transport | None = None,
) -> Summary:
    """Read every waiting message of ``mailbox``, act on it and file it.

    Args:
        mailbox: where the messages are.
        settings: the publication's settings (``[inbound]``).
        store: the publication's store.
        now: the time events are recorded at.
        transport: how human replies are forwarded to ``inbound.forward_to``
            (default: ``delivery.transport``).
    """
    raise NotImplementedError
