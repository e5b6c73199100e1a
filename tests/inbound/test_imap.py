"""The IMAP mailbox against a real Dovecot: list, file, a second run, TLS, failures."""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest

from broadsheet.config import Settings
from broadsheet.emails.inbound.imap import ImapMailbox, _utf7, parse_imap_url
from broadsheet.emails.inbound.sources import open_mailbox
from broadsheet.errors import MailboxError, MailboxUnavailable
from tests.delivery.conftest import tls_files
from tests.delivery.helpers import cli_command, cli_env, free_port
from tests.inbound.mailservers import Dovecot, mail_root, running_dovecot

__all__ = ["tls_files"]  # a fixture, shared with the delivery tests

PASSWORD_ENV = "BROADSHEET_TEST_IMAP_PASSWORD"


# --- URLs (no server) ----------------------------------------------------------


def test_urls() -> None:
    url = parse_imap_url("imaps://bounces%40news.example@mail.example")
    assert (url.secure, url.user, url.host, url.port, url.folder) == (
        True,
        "bounces@news.example",
        "mail.example",
        993,
        "INBOX",
    )
    assert url.label == "imaps://bounces%40news.example@mail.example:993/INBOX"
    url = parse_imap_url("IMAP://me@127.0.0.1:1143/Newsletter/Bounces%20in")
    assert (url.secure, url.port, url.folder, url.loopback) == (
        False,
        1143,
        "Newsletter/Bounces in",
        True,
    )
    assert parse_imap_url("imap://me@[::1]/").loopback
    assert parse_imap_url("imap://me@localhost/").loopback
    assert not parse_imap_url("imap://me@mail.example/").loopback
    assert parse_imap_url("imap://me@[::1]/").label == "imap://me@[::1]:143/INBOX"


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("imap://me:hunter2@mail.example/INBOX", "holds a password"),
        ("imap://mail.example/INBOX", "no user name"),
        ("imap://me@:143/INBOX", "no host name"),
        ("imap://me@mail.example:99999/INBOX", "bad port"),
        ("imap://me@mail.example/INBOX?x=1", "'?' or '#'"),
        ("pop3://me@mail.example/", "not an IMAP URL"),
    ],
)
def test_bad_urls(source: str, says: str) -> None:
    with pytest.raises(MailboxError, match=says) as caught:
        parse_imap_url(source)
    assert "hunter2" not in str(caught.value)


def test_folder_names_in_modified_utf7() -> None:
    # RFC 3501, 5.1.3, and a Russian folder name.
    assert _utf7("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert _utf7("Входящие") == "&BBIERQQ+BDQETwRJBDgENQ-"
    assert _utf7("Tom & Jerry") == "Tom &- Jerry"


# --- against Dovecot -----------------------------------------------------------


@pytest.fixture
def mail_folder() -> Iterator[Path]:
    with mail_root() as root:
        yield root


@pytest.fixture
def dovecot(mail_folder: Path) -> Iterator[Dovecot]:
    with running_dovecot(mail_folder / "dovecot", mail_folder / "Maildir") as server:
        yield server


@pytest.fixture
def imap_settings(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv(PASSWORD_ENV, "imap-secret-for-tests")
    return make_settings(f'[inbound]\npassword_env = "{PASSWORD_ENV}"\n')


def message(number: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"someone{number}@elsewhere.example"
    mail["To"] = "bounces@news.example"
    mail["Subject"] = f"Message {number}"
    mail["Message-ID"] = f"<m{number}@elsewhere.example>"
    mail.set_content(f"Body of message {number}.\n")
    return mail.as_bytes().replace(b"\n", b"\r\n")


def session(server: Dovecot) -> imaplib.IMAP4:
    """A plain IMAP session of the test's own, to put messages in and look."""
    imap = imaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    imap.login(server.user, server.password)
    return imap


def append(server: Dovecot, folder: str, *raws: bytes) -> None:
    imap = session(server)
    try:
        if folder != "INBOX":
            imap.create(folder)
        for raw in raws:
            typ, data = imap.append(folder, "", None, raw)
            assert typ == "OK", data
    finally:
        imap.logout()


def folder_contents(server: Dovecot, folder: str) -> list[tuple[bytes, bytes]]:
    """(flags, Message-ID line) of every message in ``folder``."""
    imap = session(server)
    try:
        typ, count = imap.select(f'"{folder}"', readonly=True)
        assert typ == "OK", f"no folder {folder}"
        if count[0] == b"0":
            return []
        typ, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        found = []
        for item in data:
            if isinstance(item, tuple):
                flags = item[0].split(b"FLAGS (")[1].split(b")")[0]
                found.append((flags, item[1].strip()))
        return found
    finally:
        imap.logout()


def listed(server: Dovecot) -> set[str]:
    imap = session(server)
    try:
        _typ, data = imap.list()
        lines = [line for line in data if isinstance(line, bytes)]
        return {line.rsplit(b" ", 1)[1].decode().strip('"') for line in lines}
    finally:
        imap.logout()


def test_lists_files_and_a_second_run_sees_nothing(
    dovecot: Dovecot, imap_settings: Settings
) -> None:
    append(dovecot, "INBOX", message(1), message(2), message(3))
    mailbox = open_mailbox(dovecot.url(), imap_settings)
    try:
        assert mailbox.label == dovecot.url()
        incoming = list(mailbox.messages())
        assert [m.raw for m in incoming] == [message(1), message(2), message(3)]
        assert all(m.recipient is None for m in incoming)
        for item, folder in zip(incoming, ("bounces", "human", "bounces"), strict=True):
            mailbox.file(item, folder)
        assert list(mailbox.messages()) == []
    finally:
        mailbox.close()

    again = open_mailbox(dovecot.url(), imap_settings)
    try:
        assert list(again.messages()) == []
    finally:
        again.close()
    # Beside INBOX (Maildir++ ".bounces" on disk), moved, not copied, and still unread.
    assert {"INBOX", "bounces", "human"} <= listed(dovecot)
    assert folder_contents(dovecot, "INBOX") == []
    assert [mid for _, mid in folder_contents(dovecot, "bounces")] == [
        b"Message-ID: <m1@elsewhere.example>",
        b"Message-ID: <m3@elsewhere.example>",
    ]
    ((flags, mid),) = folder_contents(dovecot, "human")
    assert mid == b"Message-ID: <m2@elsewhere.example>"
    assert b"\\Seen" not in flags  # left for a person, unread
    assert len(list((dovecot.maildir / ".bounces").glob("*/*"))) == 2


@pytest.mark.parametrize(
    ("folder", "on_the_wire"),
    [("Newsletter", "Newsletter"), ("Рассылка", "&BCAEMARBBEEESwQ7BDoEMA-")],
    ids=["ascii", "russian"],
)
def test_folders_of_another_folder_are_its_children(
    dovecot: Dovecot, imap_settings: Settings, folder: str, on_the_wire: str
) -> None:
    """Under the folder read, with the server's delimiter; names in modified UTF-7."""
    append(dovecot, on_the_wire, message(1))
    mailbox = open_mailbox(dovecot.url(quote(folder)), imap_settings)
    try:
        assert mailbox.label.endswith(f"/{folder}")
        (item,) = mailbox.messages()
        mailbox.file(item, "complaints")
    finally:
        mailbox.close()
    assert f"{on_the_wire}.complaints" in listed(dovecot)  # Dovecot's Maildir++ delimiter
    assert "complaints" not in listed(dovecot)
    assert len(folder_contents(dovecot, f"{on_the_wire}.complaints")) == 1
    assert folder_contents(dovecot, on_the_wire) == []


@pytest.mark.parametrize("uidplus", [True, False], ids=["uidplus", "neither"])
def test_servers_without_move(
    mail_folder: Path, imap_settings: Settings, uidplus: bool, caplog: pytest.LogCaptureFixture
) -> None:
    advertised = "IMAP4rev1 LITERAL+" + (" UIDPLUS" if uidplus else "")
    with running_dovecot(
        mail_folder / "dovecot", mail_folder / "Maildir", capabilities=advertised
    ) as server:
        append(server, "INBOX", message(1), message(2))
        caplog.set_level(logging.WARNING)
        mailbox = open_mailbox(server.url(), imap_settings)
        try:
            first, _second = mailbox.messages()
            mailbox.file(first, "auto-replies")
        finally:
            mailbox.close()
        again = open_mailbox(server.url(), imap_settings)
        try:
            assert [m.raw for m in again.messages()] == [message(2)]
            again.file(next(iter(again.messages())), "auto-replies")
            assert list(again.messages()) == []
        finally:
            again.close()
        assert len(folder_contents(server, "auto-replies")) == 2
        left = folder_contents(server, "INBOX")
        if uidplus:
            assert left == []
            assert "neither MOVE nor UIDPLUS" not in caplog.text
        else:
            assert [flags for flags, _ in left] == [b"\\Deleted", b"\\Deleted"]
            assert "neither MOVE nor UIDPLUS" in caplog.text


def test_expunges_only_the_message_it_filed(mail_folder: Path, imap_settings: Settings) -> None:
    with running_dovecot(
        mail_folder / "dovecot", mail_folder / "Maildir", capabilities="IMAP4rev1 UIDPLUS"
    ) as server:
        append(server, "INBOX", message(1), message(2))
        other = session(server)  # another client flags message 2 for deletion, but keeps it
        other.select("INBOX")
        other.store("2", "+FLAGS", "(\\Deleted)")
        other.logout()
        mailbox = open_mailbox(server.url(), imap_settings)
        try:
            (item,) = mailbox.messages()  # flagged \Deleted: not ours to read
            mailbox.file(item, "bounces")
        finally:
            mailbox.close()
        assert folder_contents(server, "INBOX") == [
            (b"\\Deleted", b"Message-ID: <m2@elsewhere.example>")
        ]


def test_failures_are_one_line_errors(dovecot: Dovecot, imap_settings: Settings) -> None:
    closed = free_port()
    with pytest.raises(MailboxUnavailable, match="cannot connect"):
        open_mailbox(f"imap://bounces@127.0.0.1:{closed}/INBOX", imap_settings)
    with pytest.raises(MailboxError, match="login refused"):
        ImapMailbox.connect(parse_imap_url(dovecot.url()), "wrong password")
    with pytest.raises(MailboxError, match=f"set the environment variable {PASSWORD_ENV}"):
        ImapMailbox.connect(parse_imap_url(dovecot.url()), None, password_env=PASSWORD_ENV)
    with pytest.raises(MailboxError, match="cannot open folder 'Nowhere'"):
        open_mailbox(dovecot.url("Nowhere"), imap_settings)


def test_a_server_gone_mid_run_is_unavailable(mail_folder: Path, imap_settings: Settings) -> None:
    with running_dovecot(mail_folder / "dovecot", mail_folder / "Maildir") as server:
        append(server, "INBOX", message(1), message(2))
        mailbox = open_mailbox(server.url(), imap_settings)
        messages = mailbox.messages()
        first = next(messages)
    # Dovecot has stopped (and with it this session): the next step cannot be done.
    with pytest.raises(MailboxUnavailable, match="connection lost"):
        mailbox.file(first, "bounces")
    mailbox.close()


def test_starttls_and_imaps(
    mail_folder: Path, imap_settings: Settings, tls_files: tuple[Path, Path]
) -> None:
    cert, _key = tls_files
    trusted = ssl.create_default_context(cafile=str(cert))
    with running_dovecot(mail_folder / "dovecot", mail_folder / "Maildir", tls=tls_files) as server:
        append(server, "INBOX", message(1))
        for source in (server.url(), server.url(tls=True)):
            mailbox = ImapMailbox.connect(
                parse_imap_url(source), server.password, ssl_context=trusted
            )
            try:
                assert [m.raw for m in mailbox.messages()] == [message(1)]
            finally:
                mailbox.close()
        # Both logins went over TLS: STARTTLS on the plain port, TLS on the other.
        logins = [line for line in server.log_text().splitlines() if "Login: user=" in line]
        assert len(logins) >= 2
        assert all("TLS" in line for line in logins[-2:]), logins
        # The system's trust store does not know this certificate: no login.
        for source in (server.url(), server.url(tls=True)):
            with pytest.raises(MailboxError, match="TLS failed"):
                open_mailbox(source, imap_settings)


@pytest.mark.slow
def test_the_command_says_what_failed_in_one_line(
    dovecot: Dovecot, imap_settings: Settings
) -> None:
    """`broadsheet inbox URL`: 75 when the server cannot be reached, 1 for a mistake."""
    closed = free_port()
    cases = [
        (f"imap://bounces@127.0.0.1:{closed}/INBOX", dovecot.password, 75, "cannot connect"),
        (dovecot.url(), "wrong password", 1, "login refused"),
        (dovecot.url(), "", 1, f"set the environment variable {PASSWORD_ENV}"),
        (dovecot.url("Nowhere"), dovecot.password, 1, "cannot open folder 'Nowhere'"),
        ("imap://bounces:pw@127.0.0.1/INBOX", dovecot.password, 1, "holds a password"),
    ]
    for source, password, status, says in cases:
        done = subprocess.run(
            cli_command("--config", str(imap_settings.path), "inbox", source),
            env=cli_env(**{PASSWORD_ENV: password}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == status, (source, done.stderr)
        assert done.stderr.startswith("error: ") and says in done.stderr, done.stderr
        assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
        assert ":pw@" not in done.stderr


def own_address() -> str:
    """This machine's address on its default route (a route lookup: nothing is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1
        except OSError as exc:
            pytest.skip(f"no network interface but loopback ({exc})")
        address = str(probe.getsockname()[0])
    if ipaddress.ip_address(address).is_loopback:
        pytest.skip("no network interface but loopback")
    return address


@pytest.mark.allow_skip  # a machine (or container) with loopback alone
def test_no_password_in_clear_text_across_the_network(
    mail_folder: Path, imap_settings: Settings
) -> None:
    address = own_address()
    with running_dovecot(
        mail_folder / "dovecot", mail_folder / "Maildir", address=address
    ) as server:
        imaplib.IMAP4(address, server.port, timeout=10).logout()  # it answers there
        with pytest.raises(MailboxError, match="offers no STARTTLS") as caught:
            open_mailbox(server.url(), imap_settings)
        assert "imaps://" in str(caught.value)
        assert "Login: user=" not in server.log_text()
        assert "auth failed" not in server.log_text()
