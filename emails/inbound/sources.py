"""From the SOURCE of `broadsheet inbox` to a :class:`Mailbox`.

``imap://user@host[:port]/FOLDER``, ``imaps://…``  an IMAP folder (:mod:`.imap`)
``-``                                           one message on standard input
anything else                                   a Maildir folder
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

from broadsheet.config import Settings
from broadsheet.emails.inbound.imap import ImapMailbox, is_imap_url, parse_imap_url
from broadsheet.emails.inbound.mailboxes import Mailbox
from broadsheet.emails.inbound.maildir import MaildirMailbox, StdinMailbox, is_maildir

__all__ = ["open_mailbox"]


def open_mailbox(
    source: str,
    settings: Settings,
    *,
    recipient: str | None = None,
    stdin: BinaryIO | None = None,
) -> Mailbox:
    """Open the mailbox ``source`` names.

    Args:
        source: an IMAP URL, ``-``, or a Maildir folder.
        settings: the publication's settings (the IMAP password's variable;
            ``[inbound] mailbox``, a Maildir, keeps what standard input brings).
        recipient: with ``-``: the envelope recipient the mail server passes.
        stdin: with ``-``: where the message is read (default: standard input).

    Raises:
        MailboxError: a bad URL, a refused login, a missing folder.
        MailboxUnavailable: the IMAP server cannot be reached (try again later).
    """
    if is_imap_url(source):
        return ImapMailbox.connect(
            parse_imap_url(source),
            settings.imap_password(),
            password_env=settings.inbound.password_env,
        )
    if source == "-":
        keep = None
        configured = settings.inbound.mailbox
        if configured and not is_imap_url(configured):
            folder = settings.root / configured
            if is_maildir(folder):
                keep = MaildirMailbox(folder)
        return StdinMailbox(stdin or sys.stdin.buffer, recipient=recipient, keep=keep)
    return MaildirMailbox(Path(source))
