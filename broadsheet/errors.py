"""The one exception tree of broadsheet.

Every error a user can cause is a :class:`BroadsheetError` whose message is
written for that user: it names the file (and line or field) and says what is
wrong. Anything else that escapes is a bug and keeps its traceback.

```
BroadsheetError        message is for the user, names file/field/what to do
├── ConfigError        collects every problem in the file, not just the first
├── StoreError         the database cannot be opened or used (too new, disk full, read-only)
│   └── StoreUnavailable  it cannot be reached or went away mid-work (try again later)
├── ContentError       one bad article, feed or CSV row
├── RenderError        wraps jinja2 / premailer / feedgen failures
├── DeliveryError      SMTP and Maildir failures
├── MailboxError       a mailbox `inbox` reads cannot be opened, read or filed in
│   └── MailboxUnavailable  its server cannot be reached or went away (try again later)
└── LockedError        another process holds the lock for the same work
```
"""

from __future__ import annotations

from collections.abc import Sequence


class BroadsheetError(Exception):
    """Base of every error whose message is meant for the user."""


class ConfigError(BroadsheetError):
    """One or more problems in a configuration file.

    Attributes:
        problems: every problem found, each a ``key: what is wrong`` line.
    """

    def __init__(self, path: str, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        lines = [f"{path}: {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


class StoreError(BroadsheetError):
    """The store cannot be opened, migrated or used.

    Raised at the store's boundary for the database's own failures (a full
    disk, a read-only file, a server that refuses the work), with a message
    naming the store and what to do; the command stops without a traceback.
    """


class StoreUnavailable(StoreError):
    """The database cannot be reached, or the connection was lost mid-work.

    Trying again later may succeed: ``broadsheet serve`` answers 503 with
    ``Retry-After``, and a command run again resumes where it stopped.
    """


class ContentError(BroadsheetError):
    """One bad article, feed, or CSV row.

    The message reads ``source:line: field: reason`` with the parts that are
    known, e.g. ``content/a.md:4: published: no time zone and ...``.

    Attributes:
        source: the file (or URL) the content came from.
        reason: what is wrong, for a person.
        line: the 1-based line inside the file, when known.
        field: the field or column, when known.
    """

    def __init__(
        self, source: str, reason: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        self.source = source
        self.reason = reason
        self.line = line
        self.field = field
        where = source if line is None else f"{source}:{line}"
        what = reason if field is None else f"{field}: {reason}"
        super().__init__(f"{where}: {what}")


class RenderError(BroadsheetError):
    """A template, the CSS inliner or the feed generator failed."""


class DeliveryError(BroadsheetError):
    """A message could not be handed to SMTP or written to a Maildir."""


class MailboxError(BroadsheetError):
    """A mailbox ``broadsheet inbox`` reads cannot be opened, read or filed in.

    A wrong URL, a refused login, a folder that does not exist: something to fix.
    """


class MailboxUnavailable(MailboxError):
    """The mailbox's server cannot be reached, or the connection was lost mid-work.

    Trying again later may succeed; the command exits 75 (EX_TEMPFAIL), and
    the messages not yet filed are read again on the next run.
    """


class LockedError(BroadsheetError):
    """Another process holds the lock for the same work."""
