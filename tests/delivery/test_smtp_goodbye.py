"""The SMTP transport says QUIT before it hangs up, also when something went wrong.

A connection dropped without QUIT is what a broken client does: Postfix
logs "lost connection after EHLO" for it, and some servers count it
against the sender. Every path on which the server is still talking (a
refused STARTTLS, no STARTTLS offered, a refused login, a refused greeting,
a reply that makes no sense mid-exchange) ends with QUIT; only a connection
already lost (or a failed TLS handshake) is simply closed.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from broadsheet.emails.delivery.transports import SMTPTransport, TransportUnavailable
from tests.delivery.helpers import PlainMessage, free_port

MESSAGE = PlainMessage(
    "<m1@test.example>",
    "letters@news.example",
    "reader1@example.org",
    b"From: letters@news.example\r\nTo: reader1@example.org\r\nSubject: One\r\n"
    b"Message-ID: <m1@test.example>\r\n\r\nBody.\r\n",
)


@dataclass
class Goodbyes:
    """An aiosmtpd handler counting the connections greeted and the QUITs received."""

    greeted: int = 0
    quits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if not getattr(session, "greeted", False):
            session.greeted = True
            with self.lock:
                self.greeted += 1
        return responses

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.quits += 1
        return "221 Bye"


class RefusesStartTLS(SMTP):
    """Offers STARTTLS, then refuses it (as a server whose certificate is missing does)."""

    async def smtp_STARTTLS(self, arg: str) -> None:
        await self.push("454 4.7.0 TLS not available due to local problem")


class RefusesGreeting(SMTP):
    """Answers EHLO and HELO with a temporary refusal."""

    async def smtp_EHLO(self, hostname: str) -> None:
        await self.push("421 4.3.2 try again later")

    async def smtp_HELO(self, hostname: str) -> None:
        await self.push("421 4.3.2 try again later")


class _Controller(Controller):
    def __init__(self, handler: Any, smtp_class: type[SMTP], **kwargs: Any) -> None:
        self.smtp_class = smtp_class
        super().__init__(handler, **kwargs)

    def factory(self) -> SMTP:
        return self.smtp_class(self.handler, **self.SMTP_kwargs)


@pytest.fixture
def serve() -> Iterator[Any]:
    started: list[Controller] = []

    def start(smtp_class: type[SMTP] = SMTP, **kwargs: Any) -> tuple[Goodbyes, int]:
        handler = Goodbyes()
        port = free_port()
        controller = _Controller(
            handler,
            smtp_class,
            hostname="127.0.0.1",
            port=port,
            server_hostname="localhost",
            **kwargs,
        )
        controller.start()
        started.append(controller)
        return handler, port

    yield start
    for controller in started:
        controller.stop()


def _offering_tls() -> ssl.SSLContext:
    # Enough for aiosmtpd to offer STARTTLS; no handshake ever happens here.
    return ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)


def test_a_refused_starttls_ends_with_quit(serve: Any) -> None:
    handler, port = serve(RefusesStartTLS, tls_context=_offering_tls())
    transport = SMTPTransport("127.0.0.1", port, tls="starttls", retries=2, backoff=0.01)
    with pytest.raises(TransportUnavailable, match="454 4.7.0 TLS not available"):
        transport.deliver(MESSAGE, recipient="reader1@example.org")
    transport.close()
    assert handler.greeted == 3
    assert handler.quits == handler.greeted


def test_starttls_not_offered_ends_with_quit(serve: Any) -> None:
    handler, port = serve()
    transport = SMTPTransport("127.0.0.1", port, tls="starttls")
    with pytest.raises(TransportUnavailable, match="does not offer STARTTLS"):
        transport.deliver(MESSAGE, recipient="reader1@example.org")
    assert handler.greeted == 1 and handler.quits == 1


def test_a_refused_login_ends_with_quit(serve: Any) -> None:
    def authenticator(*_args: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)

    handler, port = serve(authenticator=authenticator, auth_require_tls=False)
    transport = SMTPTransport("127.0.0.1", port, tls="none", user="letters", password="wrong")
    with pytest.raises(TransportUnavailable, match="refused the login"):
        transport.deliver(MESSAGE, recipient="reader1@example.org")
    assert handler.greeted == 1 and handler.quits == 1


def test_a_refused_greeting_ends_with_quit(serve: Any) -> None:
    handler, port = serve(RefusesGreeting)
    transport = SMTPTransport("127.0.0.1", port, tls="none", retries=1, backoff=0.01)
    with pytest.raises(TransportUnavailable, match="421 4.3.2 try again later"):
        transport.deliver(MESSAGE, recipient="reader1@example.org")
    assert handler.quits == 2  # one per connection tried


def test_a_good_send_ends_with_quit_too(serve: Any) -> None:
    handler, port = serve()
    transport = SMTPTransport("127.0.0.1", port, tls="none")
    assert transport.deliver(MESSAGE, recipient="reader1@example.org").status == "sent"
    transport.close()
    assert handler.greeted == 1 and handler.quits == 1
