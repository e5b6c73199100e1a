"""What comes back: bounces, complaints, mailto unsubscribes and replies.

``broadsheet inbox`` reads a :class:`~broadsheet.emails.inbound.mailboxes.Mailbox`
(a Maildir, an IMAP folder, or one message on standard input) and hands it to
:func:`process`, which recognises each message, applies the policies to the
subscribers it names, and files it in the folder saying what was done::

    summary = process(mailbox, settings, store, now=now)
"""

from broadsheet.emails.inbound.mailboxes import FOLDERS, Incoming, Mailbox
from broadsheet.emails.inbound.process import Summary, process

__all__ = ["FOLDERS", "Incoming", "Mailbox", "Summary", "process"]
