"""A Maildir, and one message on standard input, as mailboxes `broadsheet inbox` reads.

:class:`MaildirMailbox` reads the messages in a Maildir's ``new/`` and
``cur/`` and files each in a Maildir++ subfolder (``.bounces``,
``.complaints``, ``.unsubscribes``, ``.auto-replies``, ``.human``,
``.unmatched``), the layout Dovecot and Courier serve over IMAP and mail
clients show as folders beside the inbox. Filing is one ``rename`` within the
Maildir: a message read from ``new/`` goes to the folder's ``new/`` (a person
looking at ``human`` still sees it as unread), one from ``cur/`` keeps its
name, and so its flags, in the folder's ``cur/``. Nothing is copied, nothing
deleted.

:class:`StdinMailbox` is one message handed over by a mail server (a Postfix
``pipe`` transport, procmail, maildrop). It cannot move what it read; when a
Maildir is given to keep copies in (``[inbound] mailbox``), the message is
written into that Maildir's folder instead, so it is never lost unread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from broadsheet.emails.inbound.mailboxes import FOLDERS, Incoming
from broadsheet.errors import MailboxError

__all__ = ["MaildirMailbox", "StdinMailbox", "is_maildir"]

log = logging.getLogger(__name__)

STDIN_LIMIT = 64 << 20
"""The largest message read from standard input (mail servers refuse larger ones anyway)."""


def is_maildir(path: Path) -> bool:
    """Whether ``path`` is a Maildir (it holds ``cur``, ``new`` and ``tmp``)."""
    return all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


class MaildirMailbox:
    """A Maildir folder whose messages are filed in Maildir++ subfolders."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._made: dict[str, str] = {}
        if not is_maildir(self.path):
            raise MailboxError(
                f"{self.path}: not a Maildir (it needs the folders cur, new and tmp); "
                "give the Maildir the mail server delivers bounces to"
            )

    @property
    def label(self) -> str:
        return str(self.path)

    def messages(self) -> Iterator[Incoming]:
        """The messages in ``new/`` and ``cur/``, oldest name first."""
        for sub in ("new", "cur"):
            try:
                names = sorted(os.listdir(self.path / sub))
            except OSError as exc:
                raise MailboxError(f"{self.path / sub}: cannot list: {exc.strerror}") from None
            for name in names:
                if name.startswith("."):
                    continue
                try:
                    raw = (self.path / sub / name).read_bytes()
                except FileNotFoundError:
                    continue  # moved meanwhile (a mail client, another pass)
                except IsADirectoryError:
                    continue
                except OSError as exc:
                    log.error("%s/%s/%s: cannot read: %s", self.path, sub, name, exc.strerror)
                    continue
                yield Incoming(key=f"{sub}/{name}", raw=raw)

    def folder(self, folder: str) -> Path:
        """The Maildir++ subfolder ``.folder``, made when missing."""
        if folder not in FOLDERS:
            raise ValueError(f"unknown folder {folder!r}")  # a bug in the caller
        path = self.path / f".{folder}"
        if folder in self._made:
            return path
        try:
            for sub in ("cur", "new", "tmp"):
                (path / sub).mkdir(parents=True, exist_ok=True)
            # Courier and Dovecot mark a Maildir++ subfolder with this empty file.
            (path / "maildirfolder").touch(exist_ok=True)
        except OSError as exc:
            raise MailboxError(f"{path}: cannot create the folder: {exc.strerror}") from None
        self._made[folder] = str(path)
        return path

    def file(self, message: Incoming, folder: str) -> None:
        """Move ``message`` into the subfolder ``folder``."""
        sub, _, name = message.key.partition("/")
        if folder not in self._made:
            self.folder(folder)
        base = str(self.path)
        try:
            os.rename(f"{base}/{sub}/{name}", f"{self._made[folder]}/{sub}/{name}")
        except FileNotFoundError:
            log.info("%s: %s was moved meanwhile", self.path, message.key)
        except OSError as exc:
            raise MailboxError(
                f"{self.path}: cannot move {message.key} to .{folder}: {exc.strerror}"
            ) from None

    def add(self, raw: bytes, folder: str) -> Path:
        """Write a new message into the subfolder ``folder`` (as a delivery agent does)."""
        target = self.folder(folder)
        unique = f"{time.time_ns()}.P{os.getpid()}R{os.urandom(6).hex()}.{socket.gethostname()}"
        temporary = target / "tmp" / unique
        try:
            with open(temporary, "xb") as handle:
                handle.write(raw)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(temporary, target / "new" / unique)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise MailboxError(f"{target}: cannot write a message: {exc.strerror}") from None
        return target / "new" / unique

    def close(self) -> None:
        """Nothing to release."""


class StdinMailbox:
    """One message on standard input, as a mail server's ``pipe`` delivery hands it over.

    Args:
        stream: where the message is read from.
        recipient: the envelope recipient the mail server passes (``${original_recipient}``).
        keep: a Maildir where the message is filed instead of being moved.
    """

    def __init__(
        self, stream: BinaryIO, *, recipient: str | None = None, keep: MaildirMailbox | None = None
    ) -> None:
        self.stream = stream
        self.recipient = recipient or None
        self.keep = keep
        self.filed: str | None = None

    @property
    def label(self) -> str:
        return "standard input"

    def messages(self) -> Iterator[Incoming]:
        try:
            raw = self.stream.read(STDIN_LIMIT + 1)
        except OSError as exc:
            raise MailboxError(f"standard input: cannot read: {exc.strerror}") from None
        if len(raw) > STDIN_LIMIT:
            raise MailboxError(f"standard input: a message over {STDIN_LIMIT >> 20} MiB")
        if not raw.strip():
            raise MailboxError("standard input: no message")
        yield Incoming(key="message", raw=raw, recipient=self.recipient)

    def file(self, message: Incoming, folder: str) -> None:
        if folder not in FOLDERS:
            raise ValueError(f"unknown folder {folder!r}")  # a bug in the caller
        self.filed = folder
        if self.keep is not None:
            where = self.keep.add(message.raw, folder)
            log.info("standard input: kept in %s", where)

    def close(self) -> None:
        """Nothing to release: the stream belongs to the caller."""
