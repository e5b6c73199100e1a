"""One pass over a mailbox: recognise, act, record, file.

For each waiting message:

1. :func:`~broadsheet.emails.inbound.detect.detect` says what it is (pure,
   never raises);
2. if ``inbound_messages`` already holds its key (its Message-ID, else a
   digest of its bytes), it was acted on before: it is only filed again;
3. a human reply is forwarded to ``inbound.forward_to`` when set;
4. the policies are applied (:mod:`~broadsheet.emails.inbound.policy`) and
   the key recorded, in one transaction per batch of messages;
5. the mailbox moves it to the folder saying what was done, once its
   batch is committed.

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
from broadsheet.emails.delivery.brake import BrakeLimits, check_brake_in
from broadsheet.emails.delivery.protocol import Transport
from broadsheet.emails.edition import headers
from broadsheet.emails.edition.compose import OutgoingMessage
from broadsheet.emails.edition.returnpath import plain_sender
from broadsheet.emails.inbound.detect import FORWARD_MARK, Kind, Notification, detect, inbound_key
from broadsheet.emails.inbound.mailboxes import Incoming, Mailbox
from broadsheet.emails.inbound.policy import Batch
from broadsheet.errors import DeliveryError, StoreError, StoreUnavailable
from broadsheet.store import Store, Tx

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


BATCH = 500
"""Messages acted on in one transaction."""

BATCH_BYTES = 16 << 20
"""A batch is cut short once its messages hold this many bytes."""


def process(
    mailbox: Mailbox,
    settings: Settings,
    store: Store,
    *,
    now: datetime,
    transport: Transport | None = None,
) -> Summary:
    """Read every waiting message of ``mailbox``, act on it and file it.

    Messages are taken in batches of up to :data:`BATCH`: each batch is
    recognised, then acted on in one transaction, then filed.

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
        batch: list[Incoming] = []
        size = 0
        for incoming in mailbox.messages():
            batch.append(incoming)
            size += len(incoming.raw)
            if len(batch) >= BATCH or size >= BATCH_BYTES:
                if not pass_.batch(batch):
                    return pass_.summary
                batch, size = [], 0
        if batch:
            pass_.batch(batch)
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
        self.limits = BrakeLimits.from_settings(settings)

    def name(self, incoming: Incoming, note: Notification | None = None) -> str:
        """How a log line names a message: the mailbox, its key, its Message-ID."""
        ident = note.message_id if note is not None and note.message_id else "no Message-ID"
        return f"{self.mailbox.label}: {incoming.key} ({ident})"

    def leave(self, incoming: Incoming, note: Notification, why: object) -> None:
        line = f"{self.name(incoming, note)}: left in place: {why}"
        log.error("%s", line)
        self.summary.left += 1
        self.summary.problems.append(line)

    def batch(self, items: list[Incoming]) -> bool:
        """Act on a batch and file it; False when the pass must stop (the store is gone)."""
        notes = [detect(item.raw, recipient=item.recipient) for item in items]
        keys = [
            inbound_key(item.raw, note.message_id) for item, note in zip(items, notes, strict=True)
        ]
        outcomes: dict[int, str] = {}
        left: set[int] = set()
        try:
            with self.store.read() as tx:
                seen = tx.inbound.outcomes(keys)
            fresh: list[int] = []
            first: dict[str, int] = {}
            for index, key in enumerate(keys):
                if key in seen:
                    outcomes[index] = seen[key]
                    log.info(
                        "%s: acted on before (%s), filed again",
                        self.name(items[index], notes[index]),
                        seen[key],
                    )
                elif key not in first:
                    first[key] = index
                    fresh.append(index)
            if self.settings.inbound.forward_to:
                for index in list(fresh):
                    if notes[index].kind is Kind.HUMAN:
                        try:
                            self.forward(items[index], notes[index], keys[index])
                        except DeliveryError as exc:
                            self.leave(items[index], notes[index], exc)
                            left.add(index)
                            fresh.remove(index)
                            del first[keys[index]]
            if fresh:
                with self.store.write() as tx:
                    acting = Batch(
                        tx,
                        [notes[i] for i in fresh],
                        self.settings,
                        secret=self.secret,
                        now=self.now,
                    )
                    rows = []
                    for index in fresh:
                        outcome, edition_id = acting.apply(notes[index])
                        outcomes[index] = outcome
                        rows.append((keys[index], outcome, edition_id))
                    acting.write()
                    tx.inbound.remember(rows, now=self.now)
                    self.brake(tx, rows)
            for index, key in enumerate(keys):
                if index not in outcomes and key in first:
                    outcomes[index] = outcomes[first[key]]
        except StoreError as exc:
            # Nothing of the batch was recorded: every message stays for the next pass.
            for index, item in enumerate(items):
                if index not in left:
                    self.leave(item, notes[index], exc)
            return not isinstance(exc, StoreUnavailable)
        for index, item in enumerate(items):
            if index in outcomes:
                self.file(item, notes[index], outcomes[index])
        return True

    def brake(self, tx: Tx, rows: list[tuple[str, str, str | None]]) -> None:
        """Check the brake of each edition a hard bounce or a complaint named.

        An edition whose bounce or complaint rate is now past its threshold
        is paused (:mod:`broadsheet.emails.delivery.brake`), in the batch's
        own transaction: the pause is committed with the events that caused it.
        """
        named = sorted(
            {
                edition_id
                for _key, outcome, edition_id in rows
                if edition_id and outcome.partition(":")[0] in ("hard-bounce", "complaint")
            }
        )
        for edition_id in named:
            check_brake_in(tx, self.limits, edition_id, self.now)

    def file(self, incoming: Incoming, note: Notification, outcome: str) -> None:
        folder = folder_of(outcome)
        if folder == str(Kind.UNMATCHED):
            reason = outcome.partition(": ")[2] or note.reason
            log.warning("%s: ignored, %s", self.name(incoming, note), reason or "unmatched")
        elif log.isEnabledFor(logging.INFO):
            log.info("%s: %s", self.name(incoming, note), outcome)
        self.mailbox.file(incoming, folder)
        self.summary.filed[folder] = self.summary.filed.get(folder, 0) + 1
        short = outcome.partition(":")[0]
        self.summary.outcomes[short] = self.summary.outcomes.get(short, 0) + 1

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
