"""Helpers for delivery tests: an SMTP server that records, store content, subprocesses."""

from __future__ import annotations

import email
import email.policy
import os
import socket
import ssl
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from broadsheet.config import Settings
from broadsheet.model import EditionRecord, Frequency, Subscriber
from broadsheet.store import Store
from broadsheet.store.schema import subscribers as subscribers_table

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now (aiosmtpd cannot bind port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    """One message an SMTP server accepted."""

    sender: str
    recipients: list[str]
    message_id: str
    data: bytes


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that keeps what it accepts and can misbehave on cue.

    Attributes:
        busy_mail: answer ``421`` to this many MAIL commands, then recover.
        greylist: address -> how many RCPTs for it get ``451`` first.
        refuse: address -> a permanent reply to its RCPT (e.g. ``550 5.1.1 ...``).
        drop_in_data: addresses whose first DATA is cut off (connection closed
            before any reply, the message not accepted).
        discard: keep counts only, not the messages (for benchmarks).
    """

    busy_mail: int = 0
    greylist: dict[str, int] = field(default_factory=dict)
    refuse: dict[str, str] = field(default_factory=dict)
    drop_in_data: set[str] = field(default_factory=set)
    discard: bool = False
    received: list[Received] = field(default_factory=list)
    count: int = 0
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if not getattr(session, "counted", False):
            session.counted = True
            with self.lock:
                self.connections += 1
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            if self.busy_mail > 0:
                self.busy_mail -= 1
                return "421 4.3.2 Service not available, closing transmission channel"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            if address in self.refuse:
                return self.refuse[address]
            if self.greylist.get(address, 0) > 0:
                self.greylist[address] -= 1
                return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        recipient = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        with self.lock:
            if recipient in self.drop_in_data:
                self.drop_in_data.discard(recipient)
                server.transport.abort()
                return "451 never seen"
            self.count += 1
            if self.discard:
                return "250 OK discarded"
        data = bytes(envelope.content)
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        with self.lock:
            self.received.append(
                Received(
                    envelope.mail_from, list(envelope.rcpt_tos), str(parsed["Message-ID"]), data
                )
            )
        return "250 2.0.0 OK queued"

    def per_recipient(self) -> Counter[str]:
        """Messages accepted per recipient address."""
        return Counter(r for item in self.received for r in item.recipients)

    def ids_per_recipient(self) -> dict[str, set[str]]:
        """The distinct Message-IDs each recipient received."""
        out: dict[str, set[str]] = {}
        for item in self.received:
            for r in item.recipients:
                out.setdefault(r, set()).add(item.message_id)
        return out


class SmtpServer:
    """aiosmtpd on 127.0.0.1 in a thread, on a port chosen first."""

    def __init__(self, handler: RecordingHandler, **kwargs: Any) -> None:
        self.handler = handler
        self.port = free_port()
        self.controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="localhost",
            **kwargs,
        )

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def smtp_config(port: int, **extra: Any) -> str:
    """A [delivery] table pointing at the test server, with quick retries."""
    values: dict[str, Any] = {
        "transport": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "smtp_timeout": 10,
        "retries": 3,
        "backoff_seconds": 0.01,
    }
    values.update(extra)
    lines = ["[delivery]"]
    for key, value in values.items():
        shown = f'"{value}"' if isinstance(value, str) else str(value)
        lines.append(f"{key} = {shown}")
    return "\n".join(lines) + "\n"


# --- store content -----------------------------------------------------------


def add_subscribers(
    store: Store,
    count: int,
    *,
    now: datetime,
    language: str = "en",
    frequency: Frequency = Frequency.WEEKLY,
    topics: tuple[str, ...] = (),
    prefix: str = "reader",
) -> list[int]:
    """Insert ``count`` active subscribers at once; returns their ids."""
    rows = [
        {
            "email": f"{prefix}{i}@example.org",
            "name": f"Reader {i}",
            "language": language,
            "frequency": str(frequency),
            "topics": list(topics),
            "status": "active",
            "source": "test",
            "created": now,
            "changed": now,
            "confirmed": now,
            "status_reason": "",
        }
        for i in range(count)
    ]
    with store.write() as tx:
        for start in range(0, len(rows), 500):
            tx.conn.execute(subscribers_table.insert().values(rows[start : start + 500]))
        emails = {r["email"] for r in rows}
        found = [s.id for s in tx.subscribers.listing() if s.email in emails]
    return sorted(found)


EDITION_HTML = (
    "<!DOCTYPE html><html><body><p>%%bs:greeting%%</p><p>The week in brief.</p>"
    '<p><a href="%%bs:preferences_url%%">Preferences</a> '
    '<a href="%%bs:unsubscribe_url%%">Unsubscribe</a></p></body></html>'
)
EDITION_TEXT = (
    "%%bs:greeting%%\n\nThe week in brief.\n\n"
    "Preferences: %%bs:preferences_url%%\nUnsubscribe: %%bs:unsubscribe_url%%\n"
)


def save_edition(
    store: Store,
    *,
    now: datetime,
    edition_id: str = "weekly-en-2026-11-23",
    language: str = "en",
    frequency: Frequency = Frequency.WEEKLY,
    sections: tuple[str, ...] = ("Foreign policy", "Economy"),
    subject: str = "Test Weekly: the week in brief",
) -> EditionRecord:
    """Store a small rendered edition (with its personal placeholders)."""
    edition = EditionRecord(
        id=edition_id,
        language=language,
        frequency=frequency,
        slot=now,
        since=now - timedelta(days=7),
        until=now,
        new_ids=("piece-01",),
        top_ids=(),
        subject=subject,
        html=EDITION_HTML,
        text=EDITION_TEXT,
        sections=sections,
        path="",
        built=now,
    )
    with store.write() as tx:
        tx.editions.save(edition, now=now)
    return edition


@dataclass(frozen=True)
class PlainMessage:
    """A minimal message for testing the send loop without the edition renderer."""

    message_id: str
    sender: str
    recipient: str
    data: bytes


def plain_factory(
    edition: EditionRecord, settings: Settings, secret: str, now: datetime
) -> Callable[[Subscriber], PlainMessage]:
    """A factory of tiny messages, ids derived from edition and subscriber."""

    def make(subscriber: Subscriber) -> PlainMessage:
        message_id = f"<{edition.id}.{subscriber.id}@test.example>"
        data = (
            f"From: letters@news.example\r\nTo: {subscriber.email}\r\n"
            f"Subject: {edition.subject}\r\nMessage-ID: {message_id}\r\n\r\nHello.\r\n"
        ).encode()
        return PlainMessage(message_id, "letters@news.example", subscriber.email, data)

    return make


def maildir_recipients(path: Path) -> Counter[str]:
    """Messages per Delivered-To address in a Maildir (new/ and cur/)."""
    import mailbox

    box = mailbox.Maildir(path, create=False)
    return Counter(str(message["Delivered-To"]) for message in box)


def cli_command(*args: str) -> list[str]:
    """``broadsheet ARGS`` run from this checkout with the test interpreter."""
    return [
        sys.executable,
        "-c",
        "import sys; from broadsheet.cli import main; sys.exit(main())",
        *args,
    ]


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a ``broadsheet`` subprocess using this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("BROADSHEET_SECRET", "test-secret-for-links")
    env.update(extra)
    return env


def client_context(cert: Path) -> ssl.SSLContext:
    """A client TLS context trusting the test certificate."""
    return ssl.create_default_context(cafile=str(cert))
