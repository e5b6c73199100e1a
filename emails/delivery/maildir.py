"""Delivery into a Maildir folder, exactly once per message.

:class:`MaildirTransport` writes a standard Maildir that ``mailbox.Maildir``
and mail clients read. Each message's file name is derived from its
Message-ID, and a file only appears in ``new/`` through an atomic hard link
from ``tmp/``, so a delivery repeated after a crash finds the file already
there and writes nothing: a Maildir receives every message exactly once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from broadsheet.emails.delivery.protocol import (
    DeliveryResult,
    DeliveryStatus,
    Message,
    Pacer,
    TransportUnavailable,
)
from broadsheet.errors import DeliveryError

__all__ = ["MaildirTransport", "maildir_name"]


def maildir_name(message_id: str) -> str:
    """The file name of a message in the Maildir: the same for every attempt."""
    digest = hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:40]
    return f"{digest}.broadsheet"


def _header_value(text: str) -> str:
    # The envelope values come from our own records; still, a line break in
    # one must never become a header of its own.
    return re.sub(r"[\r\n]+", " ", text)


class MaildirTransport:
    """Delivery into a Maildir folder (``cur/``, ``new/``, ``tmp/``).

    A message is written to ``tmp/`` under a name unique to this process,
    flushed to disk, and hard-linked into ``new/`` under a name derived from
    its Message-ID. Linking fails when that name exists, so two attempts (or
    two senders) can never both deliver it. Lines end in LF as Unix mail
    stores expect, and ``Return-Path`` and ``Delivered-To`` are prepended as
    a delivery agent does.
    """

    name = "maildir"

    def __init__(self, path: Path, *, fsync: bool = True, rate: float | None = None) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.pacer = Pacer(rate)
        self._seen_in_cur: set[str] | None = None
        try:
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeliveryError(
                f"delivery.maildir: cannot create the Maildir {self.path}: {exc.strerror}"
            ) from None
        self._clean_tmp()

    def _clean_tmp(self) -> None:
        # Maildir convention: a tmp file untouched for 36 hours is debris of
        # a delivery that died; anything younger may be another sender's.
        limit = time.time() - 36 * 3600
        for entry in os.scandir(self.path / "tmp"):
            try:
                if entry.is_file() and entry.stat().st_mtime < limit:
                    os.unlink(entry.path)
            except OSError:
                continue

    def delivered(self, message_id: str, *, look_in_cur: bool = False) -> bool:
        """Whether the message is in the Maildir already.

        ``new/`` is checked with one ``stat``; ``cur/`` (where a mail client
        moves what it has seen, adding flags to the name) is listed once and
        remembered, and only when asked.
        """
        name = maildir_name(message_id)
        if (self.path / "new" / name).exists():
            return True
        if not look_in_cur:
            return False
        if self._seen_in_cur is None:
            self._seen_in_cur = {entry.split(":", 1)[0] for entry in os.listdir(self.path / "cur")}
        return name in self._seen_in_cur

    def deliver(
        self,
        message: Message,
        *,
        recipient: str,
        resumed: bool = False,
        barrier: Callable[[], None] | None = None,
    ) -> DeliveryResult:
        """Write ``message`` into ``new/`` unless it is already in the Maildir."""
        name = maildir_name(message.message_id)
        target = self.path / "new" / name
        if self.delivered(message.message_id, look_in_cur=resumed):
            return DeliveryResult(DeliveryStatus.ALREADY, f"already in {self.path.name}/{name}")
        self.pacer.pace()
        envelope = (
            f"Return-Path: <{_header_value(message.sender)}>\n"
            f"Delivered-To: {_header_value(recipient)}\n"
        ).encode()
        body = message.data.replace(b"\r\n", b"\n")
        temporary = self.path / "tmp" / f"{name}.{os.getpid()}.{os.urandom(6).hex()}"
        try:
            with open(temporary, "xb") as handle:
                handle.write(envelope)
                handle.write(body)
                handle.flush()
                if self.fsync:
                    os.fdatasync(handle.fileno())
            if barrier is not None:
                barrier()
            try:
                os.link(temporary, target)
            except FileExistsError:
                return DeliveryResult(
                    DeliveryStatus.ALREADY, f"already in {self.path.name}/new/{name}"
                )
            except OSError:
                # A file system without hard links: rename is atomic but would
                # replace a file that appeared meanwhile, so look first.
                if target.exists():
                    return DeliveryResult(
                        DeliveryStatus.ALREADY, f"already in {self.path.name}/new/{name}"
                    )
                os.rename(temporary, target)
            if self.fsync:
                self._fsync_dir(self.path / "new")
        except OSError as exc:
            raise TransportUnavailable(
                f"delivery.maildir: cannot write to {self.path}: {exc.strerror or exc}"
            ) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        return DeliveryResult(DeliveryStatus.SENT, f"delivered to {self.path.name}/new/{name}")

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Nothing to release."""
        self._seen_in_cur = None
