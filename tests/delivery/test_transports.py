"""Maildir and SMTP transports against a real Maildir and a real SMTP server."""

from __future__ import annotations

import mailbox
import os
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from broadsheet.emails.delivery.transports import (
    DeliveryStatus,
    MaildirTransport,
    SMTPTransport,
    TransportUnavailable,
    maildir_name,
    make_transport,
)
from broadsheet.errors import DeliveryError
from tests.delivery.helpers import (
    PlainMessage,
    RecordingHandler,
    SmtpServer,
    client_context,
    free_port,
    smtp_config,
)


def _message(n: int, recipient: str | None = None) -> PlainMessage:
    to = recipient or f"reader{n}@example.org"
    message_id = f"<m{n}@test.example>"
    data = (
        f"From: Letters <letters@news.example>\r\nTo: {to}\r\nSubject: Number {n}\r\n"
        f"Message-ID: {message_id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Body {n}.\r\n"
    ).encode()
    return PlainMessage(message_id, "letters@news.example", to, data)


# --- Maildir -------------------------------------------------------------------


def test_maildir_is_standard_and_readable(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path / "outbox")
    for n in range(3):
        result = transport.deliver(_message(n), recipient=f"reader{n}@example.org")
        assert result.status is DeliveryStatus.SENT
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == ["cur", "new", "tmp"]
    assert list((tmp_path / "outbox" / "tmp").iterdir()) == []
    box = mailbox.Maildir(tmp_path / "outbox", create=False)
    messages = sorted(box, key=lambda m: str(m["Subject"]))
    assert [str(m["Subject"]) for m in messages] == ["Number 0", "Number 1", "Number 2"]
    first = messages[0]
    assert first["Delivered-To"] == "reader0@example.org"
    assert first["Return-Path"] == "<letters@news.example>"
    assert first.get_payload() == "Body 0.\n"
    raw = (tmp_path / "outbox" / "new" / maildir_name("<m0@test.example>")).read_bytes()
    assert b"\r\n" not in raw  # a Unix mail store ends lines in LF


def test_maildir_keeps_to_the_rate_and_spends_no_slot_on_a_repeat(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path / "outbox", fsync=False, rate=20.0)
    started = time.monotonic()
    for n in range(6):
        transport.deliver(_message(n), recipient=f"reader{n}@example.org")
    # Six messages at 20 a second need at least five intervals of 50 ms.
    assert time.monotonic() - started >= 0.25
    time.sleep(0.06)  # the next slot is free now
    started = time.monotonic()
    for n in range(6):  # all there already: nothing is written, nothing waits
        assert transport.deliver(_message(n), recipient="x@example.org").status == "already"
    assert time.monotonic() - started < 0.05


def test_maildir_delivers_each_message_once(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path / "outbox")
    message = _message(1)
    assert transport.deliver(message, recipient="reader1@example.org").status == "sent"
    again = transport.deliver(message, recipient="reader1@example.org")
    assert again.status is DeliveryStatus.ALREADY
    # A mail client moved the message to cur/ and flagged it seen: a resumed
    # delivery still finds it.
    new = tmp_path / "outbox" / "new" / maildir_name(message.message_id)
    os.rename(new, tmp_path / "outbox" / "cur" / (new.name + ":2,S"))
    fresh = MaildirTransport(tmp_path / "outbox")
    resumed = fresh.deliver(message, recipient="reader1@example.org", resumed=True)
    assert resumed.status is DeliveryStatus.ALREADY
    assert len(mailbox.Maildir(tmp_path / "outbox", create=False)) == 1
    assert list((tmp_path / "outbox" / "tmp").iterdir()) == []


def test_maildir_leaves_young_tmp_files_and_clears_old_ones(tmp_path: Path) -> None:
    MaildirTransport(tmp_path / "outbox")
    young = tmp_path / "outbox" / "tmp" / "young"
    old = tmp_path / "outbox" / "tmp" / "old"
    young.write_bytes(b"x")
    old.write_bytes(b"x")
    ancient = time.time() - 40 * 3600
    os.utime(old, (ancient, ancient))
    MaildirTransport(tmp_path / "outbox")
    assert young.exists() and not old.exists()


def test_maildir_that_cannot_be_made_is_a_delivery_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DeliveryError, match="delivery.maildir"):
        MaildirTransport(blocker / "outbox")


# --- SMTP ----------------------------------------------------------------------


_OPEN: list[SMTPTransport] = []


@pytest.fixture(autouse=True)
def _close_transports() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _smtp(server: SmtpServer, **kwargs: object) -> SMTPTransport:
    options: dict[str, object] = {"tls": "none", "retries": 3, "backoff": 0.01, "timeout": 10}
    options.update(kwargs)
    transport = SMTPTransport("127.0.0.1", server.port, **options)  # type: ignore[arg-type]
    _OPEN.append(transport)
    return transport


def test_smtp_reuses_one_connection(smtp_server: SmtpServer) -> None:
    transport = _smtp(smtp_server)
    for n in range(5):
        result = transport.deliver(_message(n), recipient=f"reader{n}@example.org")
        assert result.status is DeliveryStatus.SENT
        assert result.code == 250 and result.reply.startswith("250 2.0.0 OK")
    transport.close()
    handler = smtp_server.handler
    assert handler.connections == 1
    assert [r.message_id for r in handler.received] == [f"<m{n}@test.example>" for n in range(5)]
    assert handler.received[0].sender == "letters@news.example"
    assert handler.received[0].recipients == ["reader0@example.org"]


def test_smtp_421_then_recovers(smtp_server: SmtpServer) -> None:
    smtp_server.handler.busy_mail = 2
    transport = _smtp(smtp_server)
    result = transport.deliver(_message(1), recipient="reader1@example.org")
    transport.close()
    assert result.status is DeliveryStatus.SENT
    assert smtp_server.handler.per_recipient() == {"reader1@example.org": 1}
    # 421 means the server closes: each retry starts a new connection.
    assert transport.connections == 3


def test_smtp_421_for_good_is_unavailable(smtp_server: SmtpServer) -> None:
    smtp_server.handler.busy_mail = 100
    transport = _smtp(smtp_server, retries=2)
    with pytest.raises(TransportUnavailable, match="unavailable after 3 attempts: 421"):
        transport.deliver(_message(1), recipient="reader1@example.org")
    assert smtp_server.handler.received == []


def test_smtp_greylisting_is_retried_with_backoff(smtp_server: SmtpServer) -> None:
    smtp_server.handler.greylist = {"reader1@example.org": 2}
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return False

    transport = _smtp(smtp_server, backoff=0.5, wait=wait)
    result = transport.deliver(_message(1), recipient="reader1@example.org")
    assert result.status is DeliveryStatus.SENT
    assert waits == [0.5, 1.0]  # doubled each time
    # The same connection served every attempt.
    assert transport.connections == 1


def test_smtp_temporary_failure_outlasting_retries_fails(smtp_server: SmtpServer) -> None:
    smtp_server.handler.greylist = {"reader1@example.org": 10}
    transport = _smtp(smtp_server, retries=2)
    result = transport.deliver(_message(1), recipient="reader1@example.org")
    assert result.status is DeliveryStatus.FAILED
    assert result.code == 451 and "Greylisted" in result.reply
    # The connection stays usable for the next message.
    assert transport.deliver(_message(2), recipient="reader2@example.org").status == "sent"


def test_smtp_stop_cuts_a_backoff_short(smtp_server: SmtpServer) -> None:
    smtp_server.handler.greylist = {"reader1@example.org": 10}
    transport = _smtp(smtp_server, backoff=60.0, wait=lambda _seconds: True)
    started = time.monotonic()
    result = transport.deliver(_message(1), recipient="reader1@example.org")
    assert time.monotonic() - started < 5
    assert result.status is DeliveryStatus.FAILED and "stopped" in result.reply


def test_smtp_550_bounces_and_others_still_go(smtp_server: SmtpServer) -> None:
    smtp_server.handler.refuse = {
        "gone@example.org": "550 5.1.1 <gone@example.org>: Recipient address rejected",
        "policy@example.org": "550 5.7.1 Message refused by local policy",
    }
    transport = _smtp(smtp_server)
    bounced = transport.deliver(_message(1, "gone@example.org"), recipient="gone@example.org")
    policy = transport.deliver(_message(2, "policy@example.org"), recipient="policy@example.org")
    fine = transport.deliver(_message(3), recipient="reader3@example.org")
    assert bounced.status is DeliveryStatus.BOUNCED
    assert bounced.code == 550 and "Recipient address rejected" in bounced.reply
    assert policy.status is DeliveryStatus.FAILED and policy.reply.startswith("550 5.7.1")
    assert fine.status is DeliveryStatus.SENT
    assert smtp_server.handler.per_recipient() == {"reader3@example.org": 1}
    assert transport.connections == 1


def test_smtp_connection_dropped_mid_data_is_resent_once(smtp_server: SmtpServer) -> None:
    smtp_server.handler.drop_in_data = {"reader1@example.org"}
    transport = _smtp(smtp_server)
    assert transport.deliver(_message(0), recipient="reader0@example.org").status == "sent"
    result = transport.deliver(_message(1), recipient="reader1@example.org")
    assert result.status is DeliveryStatus.SENT
    assert transport.deliver(_message(2), recipient="reader2@example.org").status == "sent"
    assert smtp_server.handler.per_recipient() == {
        "reader0@example.org": 1,
        "reader1@example.org": 1,
        "reader2@example.org": 1,
    }
    assert transport.connections == 2


def test_smtp_server_closing_an_idle_connection_is_reconnected() -> None:
    server = SmtpServer(RecordingHandler(), timeout=0.3).start()
    try:
        transport = _smtp(server)
        assert transport.deliver(_message(0), recipient="reader0@example.org").status == "sent"
        time.sleep(0.8)  # the server's idle timeout closes the connection
        assert transport.deliver(_message(1), recipient="reader1@example.org").status == "sent"
        assert transport.connections == 2
    finally:
        server.stop()
    assert server.handler.per_recipient() == {"reader0@example.org": 1, "reader1@example.org": 1}


def test_smtp_rate_limit_paces_messages(smtp_server: SmtpServer) -> None:
    transport = _smtp(smtp_server, rate=20.0)
    started = time.monotonic()
    for n in range(6):
        transport.deliver(_message(n), recipient=f"reader{n}@example.org")
    # Six messages at 20 a second need at least five intervals of 50 ms.
    assert time.monotonic() - started >= 0.25


def test_smtp_no_server_is_unavailable() -> None:
    transport = SMTPTransport(
        "127.0.0.1", free_port(), tls="none", retries=1, backoff=0.01, timeout=2
    )
    with pytest.raises(TransportUnavailable, match="cannot connect"):
        transport.deliver(_message(1), recipient="reader1@example.org")


def test_smtp_starttls_and_auth(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        from aiosmtpd.smtp import AuthResult

        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    server = SmtpServer(
        RecordingHandler(),
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticator,
    ).start()
    try:
        transport = SMTPTransport(
            "127.0.0.1",
            server.port,
            tls="starttls",
            user="letters",
            password="s3cret",
            ssl_context=client_context(cert),
        )
        assert transport.deliver(_message(1), recipient="reader1@example.org").status == "sent"
        transport.close()
        assert logins == [(b"letters", b"s3cret")]
        wrong = SMTPTransport(
            "127.0.0.1",
            server.port,
            tls="starttls",
            user="letters",
            password="wrong",
            ssl_context=client_context(cert),
        )
        with pytest.raises(TransportUnavailable, match="refused the login of 'letters': 535"):
            wrong.deliver(_message(2), recipient="reader2@example.org")
        untrusting = SMTPTransport("127.0.0.1", server.port, tls="starttls")
        with pytest.raises(TransportUnavailable, match="TLS failed"):
            untrusting.deliver(_message(3), recipient="reader3@example.org")
    finally:
        server.stop()
    assert server.handler.per_recipient() == {"reader1@example.org": 1}


def test_smtp_implicit_tls(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server = SmtpServer(RecordingHandler(), ssl_context=server_context).start()
    try:
        transport = SMTPTransport(
            "127.0.0.1", server.port, tls="ssl", ssl_context=client_context(cert)
        )
        assert transport.deliver(_message(1), recipient="reader1@example.org").status == "sent"
        transport.close()
    finally:
        server.stop()
    assert server.handler.per_recipient() == {"reader1@example.org": 1}


def test_starttls_required_but_not_offered(smtp_server: SmtpServer) -> None:
    transport = SMTPTransport("127.0.0.1", smtp_server.port, tls="starttls")
    with pytest.raises(TransportUnavailable, match="does not offer STARTTLS"):
        transport.deliver(_message(1), recipient="reader1@example.org")


def test_make_transport_from_settings(make_settings, monkeypatch, smtp_server) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(smtp_config(smtp_server.port, smtp_user="letters"))
    monkeypatch.delenv("BROADSHEET_SMTP_PASSWORD", raising=False)
    with pytest.raises(DeliveryError, match="BROADSHEET_SMTP_PASSWORD"):
        make_transport(settings)
    monkeypatch.setenv("BROADSHEET_SMTP_PASSWORD", "pw")
    transport = make_transport(settings)
    assert isinstance(transport, SMTPTransport)
    assert transport.user == "letters" and transport.password == "pw"
    maildir = make_transport(settings, "maildir")
    assert isinstance(maildir, MaildirTransport)
    assert maildir.path == settings.delivery.maildir


def test_smtp_dot_lines_arrive_intact(smtp_server: SmtpServer) -> None:
    transport = _smtp(smtp_server)
    body = b"First line.\r\n.leading dot\r\n.\r\n..two dots\r\nlast line without an end"
    message = PlainMessage(
        "<dots@test.example>",
        "letters@news.example",
        "reader1@example.org",
        b"Subject: Dots\r\nMessage-ID: <dots@test.example>\r\n\r\n" + body,
    )
    assert transport.deliver(message, recipient="reader1@example.org").status == "sent"
    (received,) = smtp_server.handler.received
    assert received.data.split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n") == body


def test_smtp_barrier_failing_delivers_nothing(smtp_server: SmtpServer) -> None:
    transport = _smtp(smtp_server)
    calls: list[str] = []

    def barrier() -> None:
        calls.append("barrier")
        raise RuntimeError("the ledger is gone")

    with pytest.raises(RuntimeError, match="the ledger is gone"):
        transport.deliver(_message(1), recipient="reader1@example.org", barrier=barrier)
    assert calls == ["barrier"]
    # The envelope was given but DATA never sent; the transaction was reset.
    assert transport.deliver(_message(2), recipient="reader2@example.org").status == "sent"
    assert smtp_server.handler.per_recipient() == {"reader2@example.org": 1}
    assert transport.connections == 1


def test_maildir_barrier_failing_delivers_nothing(tmp_path: Path) -> None:
    transport = MaildirTransport(tmp_path / "outbox")

    def barrier() -> None:
        raise RuntimeError("the ledger is gone")

    with pytest.raises(RuntimeError):
        transport.deliver(_message(1), recipient="reader1@example.org", barrier=barrier)
    assert list((tmp_path / "outbox" / "new").iterdir()) == []
    assert list((tmp_path / "outbox" / "tmp").iterdir()) == []
