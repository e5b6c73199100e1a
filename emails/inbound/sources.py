"""From the SOURCE of `broadsheet inbox` to a :class:`Mailbox`.

``imap://user@host[:port]/FOLDER``, ``imaps://…``  an IMAP folder (:mod:`.imap`)
``-``                                           one message on standard input
anything else                                   a Maildir folder
"""

from __future__ import annotations

from broadsheet.config import Settings
from broadsheet.emails.inbound.imap import ImapMailbox, is_imap_url, parse_imap_url
from broadsheet.emails.inbound.mailboxes import Mailbox
from broadsheet.errors import MailboxError

__all__ = ["open_mailbox"]


def open_mailbox(source: str, settings: Settings) -> Mailbox:
    """Open the mailbox ``source`` names.

    Args:
        source: an IMAP URL, ``-``, or a Maildir folder.
        settings: the publication's settings (the IMAP password's variable).

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
    raise MailboxError(f"{source}: only IMAP URLs (imap://, imaps://) can be read so far")
