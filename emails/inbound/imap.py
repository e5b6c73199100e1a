"""An IMAP folder as a :class:`~broadsheet.emails.inbound.mailboxes.Mailbox`.

``imap://user@host[:port]/FOLDER`` and ``imaps://user@host[:port]/FOLDER``
(the folder defaults to ``INBOX``; ``%40`` writes an ``@`` inside the user
name). The password comes from the environment variable that
``[inbound] password_env`` names, never from the URL.

Transport security:

``imaps://``  TLS from the first byte (port 993), certificate verified.
``imap://``   STARTTLS (port 143) whenever the server offers it, certificate
              verified. A server that does not offer it is used in clear
              text only on a loopback address (127.0.0.0/8, ::1,
              ``localhost``); anywhere else the password would cross the
              network readable, so the mailbox refuses to log in.

Where messages go: every message read is moved to one of
:data:`~broadsheet.emails.inbound.mailboxes.FOLDERS`. Read from ``INBOX``
they become top-level folders beside it (``bounces``, ``complaints``, …:
what a Maildir read directly holds as ``.bounces``, and how mail clients
show them); read from any other folder they become its children, with the
server's hierarchy delimiter (``Newsletter/bounces`` or
``Newsletter.bounces``), so broadsheet's folders stay together. A folder is
created (and subscribed to) the first time something is filed in it.

Filing is ``UID MOVE`` (RFC 6851) where the server offers it, else
``UID COPY``, then the ``\\Deleted`` flag and ``UID EXPUNGE`` of that one
message (RFC 4315, UIDPLUS). A server with neither keeps the flagged copy
until someone expunges; it is never read again, since only undeleted
messages are listed. Nothing here ever expunges messages other clients
flagged: closing the mailbox logs out without ``CLOSE``.

Failures are :class:`~broadsheet.errors.MailboxError` (a wrong URL, a refused
login, a missing folder) or :class:`~broadsheet.errors.MailboxUnavailable`
(the server cannot be reached or went away: try again later).
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import ipaddress
import logging
import re
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from broadsheet.emails.inbound.mailboxes import FOLDERS, Incoming
from broadsheet.errors import MailboxError, MailboxUnavailable

__all__ = ["ImapMailbox", "ImapUrl", "is_imap_url", "parse_imap_url"]

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 60.0
"""How long one network read or write may wait before the server counts as gone."""

_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delimiter>NIL|"(?:\\.|[^"\\])*")')


def is_imap_url(source: str) -> bool:
    """Whether ``source`` names an IMAP folder (rather than a Maildir or ``-``)."""
    return source.lower().startswith(("imap://", "imaps://"))


@dataclass(frozen=True, slots=True)
class ImapUrl:
    """Where an IMAP folder is: the parts of an ``imap://`` or ``imaps://`` URL."""

    secure: bool
    user: str
    host: str
    port: int
    folder: str

    @property
    def label(self) -> str:
        """The URL as log lines show it (never with a password)."""
        scheme = "imaps" if self.secure else "imap"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{quote(self.user, safe='')}@{host}:{self.port}/{self.folder}"

    @property
    def loopback(self) -> bool:
        """Whether the server is on this machine (a clear-text login stays here)."""
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_imap_url(source: str) -> ImapUrl:
    """Read ``imap[s]://user@host[:port][/FOLDER]``.

    Raises:
        MailboxError: the URL lacks a user or host, has a bad port, or holds a
            password (which belongs in the environment, not in a file or a log).
    """
    parts = urlsplit(source)
    scheme = parts.scheme.lower()
    if scheme not in ("imap", "imaps"):
        raise MailboxError(f"{source}: not an IMAP URL (imap://user@host/FOLDER or imaps://…)")
    shown = f"{scheme}://{parts.hostname or ''}"
    if parts.password is not None:
        raise MailboxError(
            f"{shown}: the URL holds a password; put it in the environment variable "
            "that [inbound] password_env names instead"
        )
    if not parts.username:
        raise MailboxError(f"{source}: no user name (imap://user@host/FOLDER)")
    if not parts.hostname:
        raise MailboxError(f"{source}: no host name (imap://user@host/FOLDER)")
    if parts.query or parts.fragment:
        raise MailboxError(f"{source}: an IMAP URL takes no '?' or '#' part")
    try:
        port = parts.port
    except ValueError as exc:
        raise MailboxError(f"{source}: bad port ({exc})") from None
    secure = scheme == "imaps"
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return ImapUrl(
        secure=secure,
        user=unquote(parts.username),
        host=parts.hostname,
        port=port or (993 if secure else 143),
        folder=folder,
    )


class ImapMailbox:
    """One IMAP folder, logged in; see the module docstring for the rules.

    Open with :meth:`connect`; :meth:`close` logs out.
    """

    def __init__(self, url: ImapUrl, connection: imaplib.IMAP4) -> None:
        self._url = url
        self._imap = connection
        self._capabilities: frozenset[str] = frozenset()
        self._targets: dict[str, str] = {}
        self._warned_no_expunge = False

    @classmethod
    def connect(
        cls,
        url: ImapUrl,
        password: str | None,
        *,
        password_env: str = "BROADSHEET_IMAP_PASSWORD",
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> ImapMailbox:
        """Connect, secure the connection, log in and select ``url.folder``.

        Args:
            url: where the folder is.
            password: the password (``Settings.imap_password()``).
            password_env: the variable it came from, for the message when unset.
            ssl_context: certificates to trust (default: the system's); the
                certificate and host name are always verified.
            timeout: seconds one network operation may wait.

        Raises:
            MailboxUnavailable: the server cannot be reached.
            MailboxError: no password, TLS or login refused, no such folder.
        """
        if not password:
            raise MailboxError(
                f"{url.label}: no password: set the environment variable {password_env}"
            )
        context = ssl_context or ssl.create_default_context()
        try:
            if url.secure:
                connection: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    url.host, url.port, ssl_context=context, timeout=timeout
                )
            else:
                connection = imaplib.IMAP4(url.host, url.port, timeout=timeout)
        except ssl.SSLError as exc:
            raise MailboxError(f"{url.label}: TLS failed: {_reason(exc)}") from None
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxUnavailable(f"{url.label}: cannot connect: {_reason(exc)}") from None
        mailbox = cls(url, connection)
        try:
            mailbox._start(password, context)
        except BaseException:
            mailbox.close()
            raise
        return mailbox

    @property
    def label(self) -> str:
        """The URL, without password."""
        return self._url.label

    def messages(self) -> Iterator[Incoming]:
        """Every undeleted message in the folder, oldest first, fetched one at a time.

        Fetching uses ``BODY.PEEK[]``, so a message left for a person stays unread.
        """
        found = self._ok(self._call(self._imap.uid, "SEARCH", "UNDELETED"), "search")
        uids = b" ".join(_bytes(found)).split()
        for uid in uids:
            data = self._ok(
                self._call(self._imap.uid, "FETCH", uid.decode(), "(BODY.PEEK[])"), "fetch"
            )
            raw = next((item[1] for item in data if isinstance(item, tuple)), None)
            if raw is None:  # moved or expunged by another client since the search
                continue
            yield Incoming(key=uid.decode(), raw=bytes(raw))

    def file(self, message: Incoming, folder: str) -> None:
        """Move ``message`` to ``folder`` (one of ``FOLDERS``), creating it if needed."""
        if folder not in FOLDERS:
            raise ValueError(f"not an inbox folder: {folder!r}")
        target = self._target(folder)
        uid = message.key
        if "MOVE" in self._capabilities:
            self._ok(self._call(self._imap.uid, "MOVE", uid, target), f"move to {folder}")
            return
        self._ok(self._call(self._imap.uid, "COPY", uid, target), f"copy to {folder}")
        self._ok(self._call(self._imap.uid, "STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), "flag")
        if "UIDPLUS" in self._capabilities:
            self._ok(self._call(self._imap.uid, "EXPUNGE", uid), "expunge")
        elif not self._warned_no_expunge:
            self._warned_no_expunge = True
            logger.warning(
                "%s: the server offers neither MOVE nor UIDPLUS: filed messages stay "
                "flagged \\Deleted in the folder until a mail client expunges them",
                self.label,
            )

    def close(self) -> None:
        """Log out (never CLOSE, which would expunge what other clients flagged)."""
        try:
            self._imap.logout()
        except (OSError, imaplib.IMAP4.error):
            with contextlib.suppress(OSError):
                self._imap.shutdown()  # the connection is already broken: close the socket

    # -- the session --------------------------------------------------------------

    def _start(self, password: str, context: ssl.SSLContext) -> None:
        url = self._url
        try:
            if not url.secure:
                if "STARTTLS" in self._imap.capabilities:
                    self._imap.starttls(ssl_context=context)
                elif not url.loopback:
                    raise MailboxError(
                        f"{url.label}: the server offers no STARTTLS, and the password "
                        "would cross the network in clear text: use imaps:// or "
                        "enable TLS on the server"
                    )
            try:
                self._imap.login(url.user, password)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as exc:
                raise MailboxError(
                    f"{url.label}: login refused ({_reason(exc)}): check the user name "
                    "and the password"
                ) from None
            typ, data = self._imap.capability()
            if typ == "OK" and data and data[0]:
                self._capabilities = frozenset(data[0].decode("ascii", "replace").upper().split())
            typ, data = self._imap.select(_quoted(url.folder))
            if typ != "OK":
                raise MailboxError(f"{url.label}: cannot open folder {url.folder!r}: {_text(data)}")
        except ssl.SSLError as exc:
            raise MailboxError(f"{url.label}: TLS failed: {_reason(exc)}") from None
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise MailboxUnavailable(f"{url.label}: connection lost: {_reason(exc)}") from None
        except imaplib.IMAP4.error as exc:  # a BAD answer, a STARTTLS the server refused
            raise MailboxError(f"{url.label}: {_reason(exc)}") from None

    def _target(self, folder: str) -> str:
        """The quoted IMAP name of ``folder``, created and subscribed on first use."""
        if folder in self._targets:
            return self._targets[folder]
        source = self._url.folder
        if source.upper() == "INBOX":
            name = folder
        else:
            entry = self._list_entry(source)
            if entry is None:
                raise MailboxError(f"{self.label}: folder {source!r} is not listed by the server")
            flags, delimiter = entry
            if delimiter is None or "\\NOINFERIORS" in flags:
                name = folder  # the server has no hierarchy there: top level
            else:
                name = f"{source}{delimiter}{folder}"
        quoted = _quoted(name)
        if self._list_entry(name) is None:
            typ, data = self._call(self._imap.create, quoted)
            if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(_bytes(data)).upper():
                raise MailboxError(f"{self.label}: cannot create folder {name!r}: {_text(data)}")
            self._call(self._imap.subscribe, quoted)  # clients show it; refusal is harmless
            logger.info("%s: created folder %s", self.label, name)
        self._targets[folder] = quoted
        return quoted

    def _list_entry(self, name: str) -> tuple[frozenset[str], str | None] | None:
        """The LIST flags and hierarchy delimiter of folder ``name`` (None when absent)."""
        data = self._ok(self._call(self._imap.list, '""', _quoted(name)), "list")
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            match = _LIST_LINE.match(line) if isinstance(line, bytes) else None
            if match is None:
                continue
            flags = frozenset(match["flags"].decode("ascii", "replace").upper().split())
            raw = match["delimiter"]
            delimiter = None if raw == b"NIL" else re.sub(rb"\\(.)", rb"\1", raw[1:-1]).decode()
            return flags, delimiter or None
        return None

    def _call(self, method: object, *args: str) -> tuple[str, list[object]]:
        """Run one IMAP command; a lost connection is MailboxUnavailable."""
        try:
            return method(*args)  # type: ignore[operator, no-any-return]
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise MailboxUnavailable(f"{self.label}: connection lost: {_reason(exc)}") from None
        except imaplib.IMAP4.error as exc:
            raise MailboxError(f"{self.label}: {_reason(exc)}") from None

    def _ok(self, result: tuple[str, list[object]], what: str) -> list[object]:
        typ, data = result
        if typ != "OK":
            raise MailboxError(f"{self.label}: {what} refused by the server: {_text(data)}")
        return data


def _quoted(name: str) -> str:
    """``name`` as an IMAP quoted string, in modified UTF-7 (RFC 3501 5.1.3)."""
    encoded = _utf7(name).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{encoded}"'


def _utf7(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            chunk = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + chunk.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if " " <= char <= "~":
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _bytes(data: Sequence[object]) -> list[bytes]:
    return [item for item in data if isinstance(item, bytes)]


def _text(data: Sequence[object]) -> str:
    return b" ".join(_bytes(data)).decode("utf-8", "replace") or "no reason given"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    return text or type(exc).__name__
