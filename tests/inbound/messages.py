"""Notifications built as the RFCs write them, for the inbox tests and benchmark.

DSNs follow RFC 3464 (``multipart/report; report-type=delivery-status``, a
human part, the ``message/delivery-status`` fields, the returned message or
its headers); complaints follow RFC 5965 (``report-type=feedback-report``);
automatic replies RFC 3834. Every builder returns bytes with CRLF line ends,
as a mail server stores them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

WHEN = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _head(message: EmailMessage, *, subject: str, sender: str, to: str, message_id: str) -> None:
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(WHEN)
    message["Message-ID"] = message_id


def _report(
    *,
    head: str,
    report_type: str,
    human: str,
    fields_type: str,
    fields: str,
    original: bytes | None,
    headers_only: bool,
) -> bytes:
    """A ``multipart/report`` (RFC 6522) written out by hand, as MTAs write them."""
    boundary = "=_report_boundary_1"
    parts = [
        f"{head}MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type={report_type};\r\n boundary="{boundary}"\r\n'
        "\r\nThis is a MIME-encapsulated message.\r\n",
        f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{human}\r\n",
        f"--{boundary}\r\nContent-Type: {fields_type}\r\n\r\n{fields}\r\n",
    ]
    data = "".join(parts).encode("ascii")
    if original is not None:
        if headers_only:
            quoted = original.split(b"\r\n\r\n", 1)[0] + b"\r\n"
            kind = b"text/rfc822-headers"
        else:
            quoted, kind = original, b"message/rfc822"
        data += b"--" + boundary.encode() + b"\r\nContent-Type: " + kind + b"\r\n\r\n"
        data += quoted + b"\r\n"
    return data + f"--{boundary}--\r\n".encode()


def dsn(
    *,
    to: str,
    recipient: str,
    status: str = "5.1.1",
    action: str = "failed",
    original: bytes | None = None,
    headers_only: bool = True,
    message_id: str = "<dsn-1@mx.mail.example>",
    diagnostic: str = "smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown",
    return_path: str = "<>",
    extra_recipients: list[tuple[str, str, str]] | None = None,
) -> bytes:
    """A delivery status notification (RFC 3464) sent to ``to`` (our return path)."""
    head = (
        f"Return-Path: {return_path}\r\nDelivered-To: {to}\r\n"
        "From: MAILER-DAEMON@mx.mail.example (Mail Delivery System)\r\n"
        f"To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(WHEN)}\r\nMessage-ID: {message_id}\r\n"
        "Auto-Submitted: auto-replied\r\n"
    )
    fields = (
        "Reporting-MTA: dns; mx.mail.example\r\n"
        "Arrival-Date: Tue, 24 Nov 2026 09:00:00 +0000\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Remote-MTA: dns; in.mail.example\r\n"
        f"Diagnostic-Code: {diagnostic.format(recipient=recipient)}\r\n"
    )
    for extra, extra_action, extra_status in extra_recipients or []:
        fields += (
            f"\r\nFinal-Recipient: rfc822; {extra}\r\n"
            f"Action: {extra_action}\r\nStatus: {extra_status}\r\n"
        )
    return _report(
        head=head,
        report_type="delivery-status",
        human="I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n",
        fields_type="message/delivery-status",
        fields=fields,
        original=original,
        headers_only=headers_only,
    )


def arf(
    *,
    original: bytes,
    feedback_type: str = "abuse",
    to: str = "fbl@news.example",
    message_id: str = "<arf-1@fbl.mail.example>",
) -> bytes:
    """A feedback-loop complaint (RFC 5965) quoting ``original`` (headers and body)."""
    head = (
        "Return-Path: <fbl-bounces@mail.example>\r\n"
        f"From: Feedback Loop <fbl@mail.example>\r\nTo: {to}\r\n"
        "Subject: FW: Complaint about message\r\n"
        f"Date: {format_datetime(WHEN)}\r\nMessage-ID: {message_id}\r\n"
    )
    fields = (
        f"Feedback-Type: {feedback_type}\r\n"
        "User-Agent: SomeGenerator/1.0\r\n"
        "Version: 1\r\n"
        "Original-Mail-From: <somebody@news.example>\r\n"
        "Arrival-Date: Tue, 24 Nov 2026 09:00:00 +0000\r\n"
        "Reported-Domain: news.example\r\n"
    )
    return _report(
        head=head,
        report_type="feedback-report",
        human="This is an email abuse report for an email message received.\r\n",
        fields_type="message/feedback-report",
        fields=fields,
        original=original,
        headers_only=False,
    )


def plain(
    *,
    subject: str,
    sender: str = "Reader <reader@mail.example>",
    to: str = "letters@news.example",
    message_id: str = "<plain-1@mail.example>",
    body: str = "Thank you for the piece on Belgrade.\n",
    headers: dict[str, str] | None = None,
) -> bytes:
    """A plain message: a reply, an unsubscribe request, an automatic reply."""
    message = EmailMessage(policy=SMTP)
    _head(message, subject=subject, sender=sender, to=to, message_id=message_id)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


def qmail_bounce(*, to: str, recipient: str, message_id: str = "<qmail-1@mail.example>") -> bytes:
    """A non-standard bounce (qmail's plain text), which only the detector library reads."""
    return (
        f"Return-Path: <>\r\nDelivered-To: {to}\r\n"
        "From: MAILER-DAEMON@mail.example\r\n"
        f"To: {to}\r\nSubject: failure notice\r\nMessage-ID: {message_id}\r\n"
        "Date: Tue, 24 Nov 2026 09:00:00 +0000\r\n\r\n"
        "Hi. This is the qmail-send program at mail.example.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
        f"<{recipient}>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n"
        "--- Below this line is a copy of the message.\r\n\r\n"
        "Subject: Test Weekly\r\n\r\nHello.\r\n"
    ).encode()
