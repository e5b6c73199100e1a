"""What a message that came back is: the detector, pure (bytes in, a value out).

The only module that imports the bounce detector (flufl.bounce), used for
bounces that are not RFC 3464 DSNs. :func:`detect` never raises: a message
it cannot read becomes :attr:`Kind.UNMATCHED` with the reason.

In order, a message is:

1. a **loop** (``unmatched``): it carries our ``X-Broadsheet-Inbox`` mark
   (a copy we forwarded came back) or more than :data:`MAX_RECEIVED`
   ``Received`` lines;
2. a **DSN** (RFC 3464, ``multipart/report; report-type=delivery-status``):
   each recipient's ``Action`` and ``Status``: failed 5.x.x is hard, failed
   4.x.x soft, ``delayed``/``delivered``/``relayed`` change nothing;
3. a **complaint** (RFC 5965, ``report-type=feedback-report``);
4. a **mailto unsubscribe**: the subject holds ``unsubscribe-TOKEN`` as our
   List-Unsubscribe header's ``mailto:`` writes it;
5. an **automatic reply** (RFC 3834 ``Auto-Submitted`` other than ``no``,
   ``X-Autoreply``, ``X-Autorespond``, ``Precedence: auto_reply``, a read
   receipt, an out-of-office subject) unless it is a bounce in another form;
6. a **non-standard bounce**, from a null sender or a mailer daemon or sent
   to the bounce address, recognised by flufl.bounce (permanent: hard;
   temporary: soft); one it cannot read is ``unmatched``;
7. else a message for a **human**.

Where a notification quotes the original message (``message/rfc822`` or
``text/rfc822-headers``), its Return-Path, List-Unsubscribe and Message-ID
are collected, and a quoted original that is itself a bounce makes the
message a **bounce of a bounce** (``unmatched``).
"""

from __future__ import annotations

import email
import email.header
import enum
import hashlib
import logging
import re
from dataclasses import dataclass, replace
from email.message import Message
from email.policy import compat32
from typing import Final

import flufl.bounce

log = logging.getLogger(__name__)

__all__ = [
    "FORWARD_MARK",
    "Failure",
    "Kind",
    "Notification",
    "detect",
    "inbound_key",
]

PARSE_LIMIT: Final = 1 << 20
"""Bytes of a message parsed: a notification's parts come first and its
returned original (with any huge attachment) last, so the first MiB holds
everything that matters, and a 50 MB message costs no more than a small one."""

MAX_RECEIVED: Final = 30
"""More Received lines than this: a mail loop."""

FORWARD_MARK: Final = "X-Broadsheet-Inbox"
"""The header of copies forwarded to ``inbound.forward_to``: one that comes back is a loop."""

_UNSUBSCRIBE = re.compile(r"\bunsubscribe-([0-9a-z]{1,13}\.[0-9a-z]{1,13}\.[A-Za-z0-9_-]{43})\b")
_STATUS = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})")
_OUT_OF_OFFICE = re.compile(
    r"(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"away from (my|the) (desk|office)|on (vacation|holiday|leave)|abwesenheit|"
    r"automatische antwort|réponse automatique|absence|автоответ|автоматический ответ|"
    r"нет на месте|в отпуске|вне офиса)",
    re.IGNORECASE,
)
_DAEMON = re.compile(r"(mailer-daemon|postmaster|mail delivery (sub)?system)", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")


class Kind(enum.StrEnum):
    """What a message is, and the folder it is filed in."""

    BOUNCE = "bounces"
    COMPLAINT = "complaints"
    UNSUBSCRIBE = "unsubscribes"
    AUTO_REPLY = "auto-replies"
    HUMAN = "human"
    UNMATCHED = "unmatched"


@dataclass(frozen=True, slots=True)
class Failure:
    """One recipient a bounce reports.

    Attributes:
        address: the recipient (Final-Recipient, or what the detector found).
        status: the RFC 3463 status (``5.1.1``); ``5.0.0``/``4.0.0`` when
            the bounce gives none.
        hard: a permanent failure (5.x.x); else temporary (4.x.x).
        diagnostic: the remote server's words, shortened.
    """

    address: str
    status: str
    hard: bool
    diagnostic: str = ""


@dataclass(frozen=True, slots=True)
class Notification:
    """What :func:`detect` found in one message.

    Attributes:
        kind: the outcome class (the folder).
        message_id: the message's own Message-ID (``""`` if none).
        subject: its subject, decoded, on one line (for log lines).
        failures: the recipients a bounce reports as failed (may be empty:
            a DSN saying only ``delayed``).
        return_tokens: addresses that may carry our return-path token: the
            envelope recipient, X-Original-To, Delivered-To, To, and the
            quoted original's Return-Path.
        unsubscribe_tokens: signed unsubscribe tokens: from the subject of a
            mailto request, or the quoted original's List-Unsubscribe.
        original_ids: the quoted original's Message-ID(s).
        feedback_type: an ARF report's Feedback-Type.
        reason: why a message is ``unmatched`` (or a note), for the log.
    """

    kind: Kind
    message_id: str = ""
    subject: str = ""
    failures: tuple[Failure, ...] = ()
    return_tokens: tuple[str, ...] = ()
    unsubscribe_tokens: tuple[str, ...] = ()
    original_ids: tuple[str, ...] = ()
    feedback_type: str = ""
    reason: str = ""


def inbound_key(raw: bytes, message_id: str) -> str:
    """The ``inbound_messages`` key: a digest of the Message-ID, else of the bytes.

    A digest, so the table holds no address, and every key fits its column.
    """
    if message_id:
        return "m:" + hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()
    return "d:" + hashlib.sha256(raw).hexdigest()


def text(value: object) -> str:
    """A header's value as one line of text, encoded-words decoded, never raising."""
    if value is None:
        return ""
    try:
        if isinstance(value, email.header.Header):
            parts = email.header.decode_header(value)
        else:
            parts = email.header.decode_header(str(value))
        out = []
        for chunk, charset in parts:
            if isinstance(chunk, bytes):
                try:
                    out.append(chunk.decode(charset or "ascii", "replace"))
                except LookupError:
                    out.append(chunk.decode("utf-8", "replace"))
            else:
                out.append(chunk)
        decoded = "".join(out)
    except Exception:  # noqa: BLE001  (any header, however broken, is read as text)
        decoded = str(value).encode("utf-8", "replace").decode("utf-8", "replace")
    return " ".join(decoded.split())


def _values(message: Message, name: str) -> list[str]:
    try:
        return [text(v) for v in message.get_all(name, [])]
    except Exception:  # noqa: BLE001
        return []


def _message_ids(value: str) -> list[str]:
    return _MESSAGE_ID.findall(value)


def parse(raw: bytes) -> Message:
    """The message parsed leniently (compat32), at most :data:`PARSE_LIMIT` bytes of it."""
    return email.message_from_bytes(raw[:PARSE_LIMIT], policy=compat32)


def detect(raw: bytes, *, recipient: str | None = None) -> Notification:
    """What ``raw`` is (never raises).

    Args:
        raw: the message's bytes.
        recipient: the envelope recipient, when the source knows it.
    """
    try:
        message = parse(raw)
        return _detect(message, recipient)
    except Exception as exc:  # noqa: BLE001  (a message is data: nothing in it may crash a pass)
        return Notification(Kind.UNMATCHED, reason=f"unreadable ({type(exc).__name__}: {exc})")


def _detect(message: Message, recipient: str | None) -> Notification:
    message_id = next(iter(_message_ids(" ".join(_values(message, "Message-ID")))), "")
    subject = text(message.get("Subject", ""))[:200]
    addressed = [recipient] if recipient else []
    for name in ("X-Original-To", "Delivered-To", "Envelope-To", "To"):
        addressed.extend(_values(message, name))
    base = Notification(Kind.HUMAN, message_id=message_id, subject=subject)

    if message.get(FORWARD_MARK) is not None:
        return replace(base, kind=Kind.UNMATCHED, reason="mail loop: a copy we forwarded")
    if len(message.get_all("Received", [])) > MAX_RECEIVED:
        return replace(base, kind=Kind.UNMATCHED, reason="mail loop: too many Received lines")
    if not message.keys():
        return replace(base, kind=Kind.UNMATCHED, reason="malformed: no header could be read")

    content_type = message.get_content_type()
    report_type = (message.get_param("report-type") or "") if message.is_multipart() else ""
    report_type = str(report_type).lower()
    if content_type == "multipart/report" and report_type == "delivery-status":
        return _dsn(message, addressed, base)
    if content_type == "multipart/report" and report_type == "feedback-report":
        return _arf(message, addressed, base)

    found = _UNSUBSCRIBE.search(subject)
    if found:
        return replace(base, kind=Kind.UNSUBSCRIBE, unsubscribe_tokens=(found.group(1),))

    sender = " ".join(_values(message, "Return-Path"))
    null_sender = sender.replace(" ", "") in ("<>", "") and bool(message.get("Return-Path"))
    from_daemon = bool(_DAEMON.search(" ".join(_values(message, "From"))))
    bounceish = null_sender or from_daemon

    if not bounceish and _auto_reply(message, content_type, report_type, subject):
        return replace(base, kind=Kind.AUTO_REPLY)
    if bounceish:
        return _other_bounce(message, addressed, base, subject, content_type, report_type)
    return replace(base, kind=Kind.HUMAN)


def _auto_reply(message: Message, content_type: str, report_type: str, subject: str) -> bool:
    submitted = text(message.get("Auto-Submitted", "")).lower()
    if submitted and submitted != "no":
        return True
    if message.get("X-Autoreply") is not None or message.get("X-Autorespond") is not None:
        return True
    if text(message.get("Precedence", "")).lower() in ("auto_reply", "auto-reply"):
        return True
    if content_type == "multipart/report" and report_type == "disposition-notification":
        return True
    return bool(_OUT_OF_OFFICE.search(subject))


def _originals(message: Message) -> list[Message]:
    """The quoted original message(s), or their headers, inside a report."""
    found: list[Message] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list):
                found.extend(p for p in payload if isinstance(p, Message))
        elif kind in ("text/rfc822-headers", "text/global-headers"):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                found.append(email.message_from_bytes(data, policy=compat32))
    return found


def _quoted(originals: list[Message]) -> tuple[list[str], list[str], list[str], bool]:
    """Return-Paths, unsubscribe tokens and Message-IDs of the originals; a bounce among them?"""
    paths: list[str] = []
    unsubscribe: list[str] = []
    ids: list[str] = []
    of_bounce = False
    for original in originals:
        for value in _values(original, "Return-Path"):
            paths.append(value)
            if value.replace(" ", "") == "<>":
                of_bounce = True
        for value in _values(original, "List-Unsubscribe"):
            unsubscribe.extend(_token_of_link(value))
        for value in _values(original, "Message-ID"):
            ids.extend(_message_ids(value))
        kind = original.get_content_type()
        report = str(original.get_param("report-type") or "").lower()
        if kind == "multipart/report" and report in ("delivery-status", "feedback-report"):
            of_bounce = True
        if _DAEMON.search(" ".join(_values(original, "From"))):
            of_bounce = True
    return paths, unsubscribe, ids, of_bounce


_LINK_TOKEN = re.compile(
    r"(?:token=|unsubscribe-)([0-9a-z]{1,13}\.[0-9a-z]{1,13}\.[A-Za-z0-9_-]{43})"
)


def _token_of_link(value: str) -> list[str]:
    return _LINK_TOKEN.findall(value)


def _dsn(message: Message, addressed: list[str], base: Notification) -> Notification:
    failures: list[Failure] = []
    reported = 0
    status_parts = [p for p in message.walk() if p.get_content_type() == "message/delivery-status"]
    for part in status_parts:
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:] if len(blocks) > 1 else blocks:
            if not isinstance(block, Message):
                continue
            action = text(block.get("Action", "")).lower()
            status = text(block.get("Status", ""))
            final = text(block.get("Final-Recipient", "")) or text(
                block.get("Original-Recipient", "")
            )
            address = final.partition(";")[2].strip() or final
            if action:
                reported += 1
            matched = _STATUS.match(status)
            if action != "failed" or not matched:
                continue
            code = ".".join(matched.groups())
            failures.append(
                Failure(
                    address=address.strip("<> ").lower(),
                    status=code,
                    hard=code.startswith("5"),
                    diagnostic=text(block.get("Diagnostic-Code", ""))[:300],
                )
            )
    paths, unsubscribe, ids, of_bounce = _quoted(_originals(message))
    if of_bounce:
        return replace(base, kind=Kind.UNMATCHED, reason="a bounce of a bounce")
    if not status_parts:
        return replace(base, kind=Kind.UNMATCHED, reason="malformed DSN: no delivery-status part")
    if not reported:
        # A DSN whose fields we could not read: the detector may.
        failures = _flufl(message)
    return replace(
        base,
        kind=Kind.BOUNCE,
        failures=tuple(failures),
        return_tokens=tuple(addressed + paths),
        unsubscribe_tokens=tuple(unsubscribe),
        original_ids=tuple(ids),
    )


def _arf(message: Message, addressed: list[str], base: Notification) -> Notification:
    feedback_type = ""
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            fields: Message | None = None
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                fields = payload[0]
            elif isinstance(payload, str):
                fields = email.message_from_string(payload, policy=compat32)
            if fields is not None:
                feedback_type = text(fields.get("Feedback-Type", "")).lower()
    if not feedback_type:
        return replace(base, kind=Kind.UNMATCHED, reason="malformed ARF: no feedback report")
    paths, unsubscribe, ids, _ = _quoted(_originals(message))
    # The report's own envelope is the feedback loop's, not ours: only the
    # quoted original's headers name the message.
    return replace(
        base,
        kind=Kind.COMPLAINT,
        return_tokens=tuple(paths),
        unsubscribe_tokens=tuple(unsubscribe),
        original_ids=tuple(ids),
        feedback_type=feedback_type,
    )


def _flufl(message: Message) -> list[Failure]:
    try:
        temporary, permanent = flufl.bounce.all_failures(message)
    except Exception as exc:  # noqa: BLE001  (its heuristics meet any input)
        log.debug("the bounce detector failed on a message: %s", exc)
        return []
    failures = [Failure(_address(raw), "5.0.0", True) for raw in sorted(permanent) if _address(raw)]
    failures += [
        Failure(_address(raw), "4.0.0", False)
        for raw in sorted(temporary)
        if _address(raw) and raw not in permanent
    ]
    return failures


def _address(raw: bytes | str) -> str:
    value = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return value.strip().strip("<>").lower()


def _other_bounce(
    message: Message,
    addressed: list[str],
    base: Notification,
    subject: str,
    content_type: str,
    report_type: str,
) -> Notification:
    failures = _flufl(message)
    paths, unsubscribe, ids, of_bounce = _quoted(_originals(message))
    if failures and of_bounce:
        return replace(base, kind=Kind.UNMATCHED, reason="a bounce of a bounce")
    if failures:
        return replace(
            base,
            kind=Kind.BOUNCE,
            failures=tuple(failures),
            return_tokens=tuple(addressed + paths),
            unsubscribe_tokens=tuple(unsubscribe),
            original_ids=tuple(ids),
        )
    if _auto_reply(message, content_type, report_type, subject):
        return replace(base, kind=Kind.AUTO_REPLY)
    return replace(
        base,
        kind=Kind.UNMATCHED,
        reason="from a mailer daemon, but no failed recipient found",
    )
