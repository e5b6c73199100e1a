"""One pass over a mailbox: recognise, act, record, file.

For each waiting message:

1. :func:`~broadsheet.emails.inbound.detect.detect` says what it is (pure,
   never raises);
2. if ``inbound_messages`` already holds its key (its Message-ID, else a
   digest of its bytes), it was acted on before: it is only filed again;
3. a human reply is forwarded to ``inbound.forward_to`` when set;
4. in one transaction the policies are applied
   (:mod:`~broadsheet.emails.inbound.policy`) and the key recorded;
5. the mailbox moves it to the folder saying what was done.

A message whose transaction or forward fails stays where it is, with a log
line naming it, and a later pass takes it again; when the store cannot be
reached at all the pass stops there. Running twice changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, make_msgid

from broadsheet.config import Settings
from broadsheet.emails.delivery.protocol import Transport
from broadsheet.emails.edition import headers
from broadsheet.emails.edition.compose import OutgoingMessage
from broadsheet.emails.edition.returnpath import plain_sender
from broadsheet.emails.inbound.detect import FORWARD_MARK, Kind, Notification, detect, inbound_key
from broadsheet.emails.inbound.mailboxes import Incoming, Mailbox
from broadsheet.emails.inbound.policy import apply
from broadsheet.errors import DeliveryError, StoreError, StoreUnavailable
from broadsheet.store import Store

__all__ = ["Summary", "folder_of", "process"]

log = logging.getLogger(__name__)


@dataclass
class Summary:
    """What one pass did.

    Attributes:
        filed: messages filed, by folder (see ``mailboxes.FOLDERS``).
        left: messages left where they were (the store or the forward failed);
            a later pass takes them again.
        problems: one line per message left, naming it and why.
        outcomes: messages by outcome (``hard-bounce``, ``soft-bounce``,
            ``complaint``, ``unsubscribe``, ``unmatched``…).
    """

    filed: dict[str, int] = field(default_factory=dict)
    left: int = 0
    problems: list[str] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def read(self) -> int:
        """Messages read in the pass."""
        return sum(self.filed.values()) + self.left


def folder_of(outcome: str) -> str:
    """The folder a message with this recorded outcome is filed in."""
    if outcome in ("hard-bounce", "soft-bounce", "delayed"):
        return str(Kind.BOUNCE)
    if outcome == "complaint":
        return str(Kind.COMPLAINT)
    if outcome == "unsubscribe":
        return str(Kind.UNSUBSCRIBE)
    if outcome in (str(Kind.AUTO_REPLY), str(Kind.HUMAN)):
        return outcome
    return str(Kind.UNMATCHED)


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
            (default: ``delivery.transport``); closed at the end.

    Raises:
        MailboxError: the mailbox could not be read or filed in.
        StoreError: the store could not be opened for the link secret.
    """
    secret = store.link_secret(settings.secret(), env_name=settings.links.secret_env)
    pass_ = _Pass(mailbox, settings, store, now=now, secret=secret, transport=transport)
    try:
        for incoming in mailbox.messages():
            if not pass_.one(incoming):
                break
    finally:
        pass_.close()
    return pass_.summary


class _Pass:
    def __init__(
        self,
        mailbox: Mailbox,
        settings: Settings,
        store: Store,
        *,
        now: datetime,
        secret: str,
        transport: Transport | None,
    ) -> None:
        self.mailbox = mailbox
        self.settings = settings
        self.store = store
        self.now = now
        self.secret = secret
        self.transport = transport
        self.summary = Summary()

    def name(self, incoming: Incoming, note: Notification | None = None) -> str:
        """How a log line names a message: the mailbox, its key, its Message-ID."""
        ident = note.message_id if note is not None and note.message_id else "no Message-ID"
        return f"{self.mailbox.label}: {incoming.key} ({ident})"

    def one(self, incoming: Incoming) -> bool:
        """Handle one message; False when the pass must stop (the store is gone)."""
        note = detect(incoming.raw, recipient=incoming.recipient)
        key = inbound_key(incoming.raw, note.message_id)
        try:
            with self.store.read() as tx:
                seen = tx.inbound.outcome(key)
            if seen is not None:
                log.info("%s: acted on before (%s), filed again", self.name(incoming, note), seen)
                outcome = seen
            else:
                if note.kind is Kind.HUMAN and self.settings.inbound.forward_to:
                    self.forward(incoming, note, key)
                with self.store.write() as tx:
                    outcome, edition_id = apply(
                        tx, note, self.settings, secret=self.secret, now=self.now
                    )
                    tx.inbound.remember(key, outcome, edition_id=edition_id, now=self.now)
        except (StoreError, DeliveryError) as exc:
            line = f"{self.name(incoming, note)}: left in place: {exc}"
            log.error("%s", line)
            self.summary.left += 1
            self.summary.problems.append(line)
            return not isinstance(exc, StoreUnavailable)
        folder = folder_of(outcome)
        reason = outcome.partition(": ")[2] or note.reason
        if folder == str(Kind.UNMATCHED):
            log.warning("%s: ignored, %s", self.name(incoming, note), reason or "unmatched")
        else:
            log.info("%s: %s", self.name(incoming, note), outcome)
        self.mailbox.file(incoming, folder)
        self.summary.filed[folder] = self.summary.filed.get(folder, 0) + 1
        short = outcome.partition(":")[0]
        self.summary.outcomes[short] = self.summary.outcomes.get(short, 0) + 1
        return True

    def forward(self, incoming: Incoming, note: Notification, key: str) -> None:
        """Send a copy of a human reply to ``inbound.forward_to``, attached whole."""
        target = self.settings.inbound.forward_to
        assert target is not None
        if self.transport is None:
            from broadsheet.emails.delivery.transports import make_transport

            self.transport = make_transport(self.settings)
        domain = self.settings.site.domain
        # The same message always gets the same id: a Maildir keeps one copy
        # however often a pass is cut short between forward and record.
        digest = hashlib.sha256(key.encode("ascii")).hexdigest()[:32]
        message_id = f"<inbox.{digest}@{domain}>" if domain else make_msgid()
        subject = note.subject or "(no subject)"
        head = [
            headers.address("From", self.settings.sender.name, self.settings.sender.email),
            headers.address("To", "", target),
            headers.unstructured("Subject", f"Fwd: {subject}"),
            headers.fold("Date", [format_datetime(self.now)]),
            f"Message-ID: {message_id}\r\n",
            f"{FORWARD_MARK}: forwarded\r\n",
            "Auto-Submitted: auto-forwarded\r\n",
            "MIME-Version: 1.0\r\n",
        ]
        boundary = f"=_fwd_{digest[:16]}"
        body = (
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"A reply to the newsletter, forwarded by broadsheet inbox.\r\n\r\n"
            f"--{boundary}\r\nContent-Type: message/rfc822\r\n"
            "Content-Disposition: inline\r\n\r\n"
        ).encode()
        raw = incoming.raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        data = "".join(head).encode("utf-8") + body + raw + f"\r\n--{boundary}--\r\n".encode()
        outgoing = OutgoingMessage(
            message_id=message_id, sender=plain_sender(self.settings), recipient=target, data=data
        )
        from broadsheet.emails.delivery.protocol import DeliveryStatus

        result = self.transport.deliver(outgoing, recipient=target)
        if result.status not in (DeliveryStatus.SENT, DeliveryStatus.ALREADY):
            raise DeliveryError(f"cannot forward to {target} (inbound.forward_to): {result.reply}")
        log.info("%s: forwarded to %s", self.name(incoming, note), target)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
