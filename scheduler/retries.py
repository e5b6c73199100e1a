"""The ``retries`` job: every tick, messages deferred by a temporary failure are tried again.

A message refused for now (a 4xx such as ``451 greylisted``) after the
sender's immediate retries waits in the ledger as ``deferred``, with the
time of its next attempt (:mod:`broadsheet.emails.delivery.retry`). The
``retries`` job is there at a tick only when some deferred message is due
(one cheap indexed query); it then sends each edition's due messages once,
claiming them like any sender, so a second scheduler or a ``broadsheet send``
at the same moment never sends one twice. A paused or cancelled edition is
left alone. Its slots are whole minutes, so two ticks within one minute run
it once; like every job it runs under its own lock and its runs are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from broadsheet.store import Tx

RETRIES = "retries"
"""The name of the retries job."""

_EVERY = timedelta(minutes=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RetryJob:
    """Try again the deferred messages whose next attempt has come.

    Derived from the store at each tick, like campaign jobs: present when a
    deferred message is due (:func:`retry_jobs`).

    Attributes:
        next_attempt: the earliest next attempt of a deferred message, shown
            as the job's next slot when it is still to come.
    """

    next_attempt: datetime | None = None

    @property
    def name(self) -> str:
        """``retries``."""
        return RETRIES

    def latest_slot(self, now: datetime) -> datetime:
        """The start of the minute of ``now`` (UTC)."""
        now = now.astimezone(UTC)
        return _EPOCH + ((now - _EPOCH) // _EVERY) * _EVERY

    def next_slot(self, now: datetime) -> datetime:
        """The earliest next attempt still to come, else the next minute."""
        if self.next_attempt is not None and self.next_attempt > now:
            return self.next_attempt
        return self.latest_slot(now) + _EVERY

    def is_late(self, slot: datetime, now: datetime) -> bool:
        """Never: a retry is due until it has run."""
        return False


def retry_jobs(tx: Tx, now: datetime, *, waiting: bool = False) -> list[RetryJob]:
    """The retries job when a deferred message is due at ``now``; else none.

    With ``waiting`` (``broadsheet status``), also when deferred messages
    wait for a later time.
    """
    due = tx.ledger.next_deferred()
    if due is None or (due > now and not waiting):
        return []
    return [RetryJob(next_attempt=due)]
