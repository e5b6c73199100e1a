"""Private Postfix and Dovecot instances for the inbound tests.

Each test gets its own servers, configured and started from here, bound to
127.0.0.1 (or, for one test, this machine's own address) on free ports, with every file (configuration, queue, Maildirs,
logs) under one temporary folder: nothing on the machine is configured or
started outside the test, and nothing is left behind. The Debian packages
``postfix`` and ``dovecot-imapd`` provide the programs (``.ci/run`` installs
them); both master processes start as root and drop privileges, so the
tests skip, saying why, where the programs are absent or the run is not root.

Postfix (the issue's set-up, docs/inbound.md):

- ``local_recipient_maps =`` accepts every recipient during the SMTP
  conversation; ``local(8)`` then bounces those it cannot deliver ("unknown
  user"), and Postfix writes the delivery status notification itself.
- ``recipient_delimiter = +`` delivers ``bounces+TOKEN@news.example`` to
  ``bounces``.
- ``alias_maps`` deliver every reader that exists, and ``bounces``, to a
  Maildir of their own (an alias ending in ``/``), so no Unix user is needed;
  alias deliveries to a file run as the owner of the alias database, so the
  database and the Maildirs belong to one unprivileged user (``nobody`` here;
  a user of its own, such as ``broadsheet``, in docs/inbound.md).

Dovecot serves the ``bounces`` Maildir over IMAP (plain text on loopback,
or TLS with a self-signed certificate) to one account, a line of a
passwd-file as docs/inbound.md sets it up.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.delivery.helpers import free_port

DOMAIN = "news.example"
BOUNCE_USER = "bounces"
IMAP_PASSWORD = "imap-secret-for-tests"
MAIL_UID = "nobody"
MAIL_GROUP = "nogroup"


def _program(name: str) -> str | None:
    return shutil.which(name, path=os.pathsep.join(("/usr/sbin", "/usr/bin", "/sbin", "/bin")))


def need(name: str, package: str) -> str:
    """The path of program ``name``, or skip saying how to install it."""
    path = _program(name)
    if path is None:
        pytest.skip(f"{name} is absent: apt-get install {package} (.ci/run does)")
    if os.geteuid() != 0:
        pytest.skip(f"a private {name} instance must start as root (it drops privileges)")
    return path


@contextlib.contextmanager
def mail_root() -> Iterator[Path]:
    """A fresh folder the mail servers' unprivileged users can reach.

    pytest's ``tmp_path`` lies under a root-only folder, which the ``postfix``
    and ``nobody`` users cannot enter; this one sits in /tmp itself.
    """
    root = Path(tempfile.mkdtemp(prefix="broadsheet-mail-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def chown_tree(path: Path, user: str, group: str) -> None:
    """Give ``path`` and everything below it to ``user`` and ``group``."""
    for folder, _dirs, files in os.walk(path):
        shutil.chown(folder, user, group)
        for name in files:
            shutil.chown(Path(folder) / name, user, group)


def _run(*args: str) -> str:
    """Run a command to its end and return its output (stdout, then stderr).

    The output goes through a file, not a pipe: a daemon the command starts
    inherits it and would hold a pipe open, and the wait would never end.
    """
    with tempfile.TemporaryFile() as output:
        done = subprocess.run(
            args, stdin=subprocess.DEVNULL, stdout=output, stderr=output, timeout=60, check=False
        )
        output.seek(0)
        text = output.read().decode(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{text}")
    return text


def _wait_for_port(
    port: int, what: str, log: Path, timeout: float = 15.0, address: str = "127.0.0.1"
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                text = log.read_text(errors="replace") if log.exists() else "(no log)"
                raise RuntimeError(f"{what} does not answer on port {port}:\n{text}") from None
            time.sleep(0.05)


# --- Postfix -----------------------------------------------------------------


@dataclass
class Postfix:
    """A running private Postfix: SMTP on 127.0.0.1:``port``, local domain ``DOMAIN``."""

    config: Path
    port: int
    mail: Path
    log: Path

    def maildir(self, user: str) -> Path:
        """The Maildir ``user`` (a reader, or ``bounces``) receives mail in."""
        return self.mail / user

    def queue_is_empty(self) -> bool:
        """Whether every message has been delivered or bounced (and every DSN too)."""
        shown = _run(_program("postqueue") or "postqueue", "-c", str(self.config), "-p")
        return "Mail queue is empty" in shown

    def wait_until_delivered(self, timeout: float = 60.0) -> None:
        """Wait until the queue is empty (deliveries and the bounces Postfix writes)."""
        deadline = time.monotonic() + timeout
        while not self.queue_is_empty():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"Postfix still holds mail after {timeout}s:\n{self.log_text()}"
                )
            time.sleep(0.1)

    def log_text(self) -> str:
        """Postfix's own log (maillog_file), for failure messages."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _main_cf(root: Path, aliases: Path, log: Path, extra: str) -> str:
    accept_all = (
        ""
        if "local_recipient_maps" in extra
        else "# Accept every recipient during the SMTP conversation; local(8) bounces the\n"
        "# unknown ones afterwards, and Postfix writes the DSN to the envelope sender.\n"
        "local_recipient_maps =\n"
    )
    return f"""\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
myhostname = mx.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination = {DOMAIN}, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
{accept_all}# bounces+TOKEN@{DOMAIN} is delivered to bounces.
recipient_delimiter = +
alias_maps = hash:{aliases}
alias_database = hash:{aliases}
maillog_file = {log}
maillog_file_prefixes = {root}
smtp_host_lookup = native
disable_dns_lookups = yes
biff = no
mailbox_size_limit = 0
delay_warning_time = 0
# Quick retries of deferred mail (a pipe command that exited 75).
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
{extra}"""


def _master_cf(port: int) -> str:
    """The services Postfix needs, SMTP on ``127.0.0.1:port`` (no chroot: paths are ours)."""
    services = [
        f"127.0.0.1:{port} inet n - n - - smtpd",
        "pickup    unix  n       -       n       60      1       pickup",
        "cleanup   unix  n       -       n       -       0       cleanup",
        "qmgr      unix  n       -       n       300     1       qmgr",
        "tlsmgr    unix  -       -       n       1000?   1       tlsmgr",
        "rewrite   unix  -       -       n       -       -       trivial-rewrite",
        "bounce    unix  -       -       n       -       0       bounce",
        "defer     unix  -       -       n       -       0       bounce",
        "trace     unix  -       -       n       -       0       bounce",
        "verify    unix  -       -       n       -       1       verify",
        "flush     unix  n       -       n       1000?   0       flush",
        "proxymap  unix  -       -       n       -       -       proxymap",
        "proxywrite unix -       -       n       -       1       proxymap",
        "smtp      unix  -       -       n       -       -       smtp",
        "relay     unix  -       -       n       -       -       smtp",
        "showq     unix  n       -       n       -       -       showq",
        "error     unix  -       -       n       -       -       error",
        "retry     unix  -       -       n       -       -       error",
        "discard   unix  -       -       n       -       -       discard",
        "local     unix  -       n       n       -       -       local",
        "virtual   unix  -       n       n       -       -       virtual",
        "lmtp      unix  -       -       n       -       -       lmtp",
        "anvil     unix  -       -       n       -       1       anvil",
        "scache    unix  -       -       n       -       1       scache",
        "postlog   unix-dgram n  -       n       -       1       postlogd",
    ]
    return "\n".join(services) + "\n"


@contextlib.contextmanager
def running_postfix(
    root: Path,
    readers: Iterable[str],
    *,
    main: str = "",
    master: str = "",
    tables: Mapping[str, str] | None = None,
    refusing: Iterable[str] = (),
) -> Iterator[Postfix]:
    """Configure and start Postfix under ``root``; ``readers`` are the local parts that exist.

    Every other local part of ``DOMAIN`` is accepted by SMTP and then bounced
    (unless ``main`` sets ``local_recipient_maps`` again).

    Args:
        root: the folder everything goes in (see :func:`mail_root`).
        readers: local parts of ``DOMAIN`` with a Maildir.
        main: lines added to main.cf; with its own ``local_recipient_maps``,
            Postfix checks recipients during the SMTP conversation.
        master: services added to master.cf.
        tables: lookup tables (file name in the configuration folder: text),
            written and indexed with postmap before Postfix starts.
        refusing: local parts that exist for the SMTP conversation (an alias)
            but whose delivery fails for good: the alias runs ``exit 67``
            (EX_NOUSER), so Postfix bounces them after accepting them even
            where it checks recipients.
    """
    postfix = need("postfix", "postfix")
    etc, mail = root / "postfix", root / "mail"
    for folder in (etc, root / "queue", root / "data", mail):
        folder.mkdir(parents=True)
    shutil.chown(root / "data", "postfix")
    port = free_port()
    log = root / "postfix.log"
    aliases = etc / "aliases"
    users = [*readers, BOUNCE_USER]
    aliases.write_text(
        "".join(f"{user}: {mail / user}/\n" for user in users)
        + "".join(f'{user}: "|exit 67"\n' for user in refusing)
    )
    for user in users:
        for sub in ("cur", "new", "tmp"):
            (mail / user / sub).mkdir(parents=True)
    chown_tree(mail, MAIL_UID, MAIL_GROUP)
    (etc / "main.cf").write_text(_main_cf(root, aliases, log, main))
    (etc / "master.cf").write_text(_master_cf(port) + master)
    _run(_program("postalias") or "postalias", "-c", str(etc), str(aliases))
    for name, text in (tables or {}).items():
        (etc / name).write_text(text)
        _run(_program("postmap") or "postmap", "-c", str(etc), str(etc / name))
    # Deliveries to the Maildirs named in it run as the alias database's owner.
    for table in (aliases, etc / "aliases.db"):
        shutil.chown(table, MAIL_UID, MAIL_GROUP)
    _run(postfix, "-c", str(etc), "start")
    server = Postfix(config=etc, port=port, mail=mail, log=log)
    try:
        _wait_for_port(port, "Postfix", log)
        yield server
    finally:
        with contextlib.suppress(RuntimeError):
            _run(postfix, "-c", str(etc), "stop")


# --- Dovecot -----------------------------------------------------------------


@dataclass
class Dovecot:
    """A running private Dovecot serving one Maildir over IMAP on 127.0.0.1."""

    config: Path
    port: int
    tls_port: int | None
    maildir: Path
    log: Path
    address: str = "127.0.0.1"
    user: str = BOUNCE_USER
    password: str = IMAP_PASSWORD

    def url(self, folder: str = "INBOX", *, tls: bool = False) -> str:
        """The ``imap://`` (or, with ``tls``, ``imaps://``) URL of ``folder``."""
        if tls:
            return f"imaps://{self.user}@{self.address}:{self.tls_port}/{folder}"
        return f"imap://{self.user}@{self.address}:{self.port}/{folder}"

    def log_text(self) -> str:
        """Dovecot's log, for failure messages and the TLS checks."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _dovecot_conf(
    root: Path,
    maildir: Path,
    port: int,
    tls: tuple[Path, Path] | None,
    tls_port: int | None,
    capabilities: str | None,
    address: str,
) -> str:
    ssl = (
        f"ssl = yes\nssl_cert = <{tls[0]}\nssl_key = <{tls[1]}\n"
        if tls is not None
        else "ssl = no\n"
    )
    imaps = f"port = {tls_port}\n    address = {address}" if tls_port else "port = 0"
    advertised = f"imap_capability = {capabilities}\n" if capabilities else ""
    return f"""\
protocols = imap
listen = {address}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
{advertised}# The account as docs/inbound.md sets it up: one line of a passwd-file.
passdb {{
  driver = passwd-file
  args = username_format=%n {root}/broadsheet.passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {root}/broadsheet.passwd
}}
service imap-login {{
  inet_listener imap {{
    address = {address}
    port = {port}
  }}
  inet_listener imaps {{
    {imaps}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


@contextlib.contextmanager
def running_dovecot(
    root: Path,
    maildir: Path,
    *,
    tls: tuple[Path, Path] | None = None,
    capabilities: str | None = None,
    address: str = "127.0.0.1",
) -> Iterator[Dovecot]:
    """Start Dovecot under ``root`` serving ``maildir`` (created if absent).

    Args:
        root: a folder of its own for configuration, state and log.
        maildir: the Maildir user ``bounces`` reads as INBOX.
        tls: a certificate and key: STARTTLS on the plain port, and an imaps port.
        capabilities: the capabilities advertised after login instead of
            Dovecot's (to act as a server without MOVE or UIDPLUS).
        address: where it listens (the tests of a server elsewhere use
            this machine's own non-loopback address).
    """
    dovecot = need("dovecot", "dovecot-imapd")
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    (root / "home").mkdir(exist_ok=True)
    chown_tree(maildir, MAIL_UID, MAIL_GROUP)
    shutil.chown(root / "home", MAIL_UID, MAIL_GROUP)
    port = free_port()
    tls_port = free_port() if tls is not None else None
    config = root / "dovecot.conf"
    config.write_text(_dovecot_conf(root, maildir, port, tls, tls_port, capabilities, address))
    hashed = _run(_program("doveadm") or "doveadm", "pw", "-s", "SHA512-CRYPT", "-p", IMAP_PASSWORD)
    owner = pwd.getpwnam(MAIL_UID)
    (root / "broadsheet.passwd").write_text(
        f"{BOUNCE_USER}:{hashed.strip()}:{owner.pw_uid}:{owner.pw_gid}::{root / 'home'}"
        f"::userdb_mail=maildir:{maildir}\n"
    )
    _run(dovecot, "-c", str(config))
    server = Dovecot(
        config=config,
        port=port,
        tls_port=tls_port,
        maildir=maildir,
        log=root / "dovecot.log",
        address=address,
    )
    try:
        _wait_for_port(port, "Dovecot", server.log, address=address)
        yield server
    finally:
        # Dovecot's stop ends the master; the IMAP sessions and helpers it
        # leaves run on by themselves, so they are ended here too.
        try:
            family = _descendants(int((root / "run" / "master.pid").read_text()))
        except (OSError, ValueError):
            family = []  # it never started, or has already gone
        with contextlib.suppress(RuntimeError):
            _run(dovecot, "-c", str(config), "stop")
        _end(family)


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, read from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
    family = [pid]
    for candidate in family:
        family.extend(child for child, parent in parents.items() if parent == candidate)
    return family


def _end(pids: list[int], grace: float = 5.0) -> None:
    """SIGTERM ``pids``, then SIGKILL those still there after ``grace`` seconds."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; its parent reaps it
