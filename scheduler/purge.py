"""The ``purge`` job: subscriptions never confirmed are deleted after ``purge_unconfirmed_days``.

A request made through the form that nobody confirms leaves a pending
subscription and its ``requested`` event (the address, the time, the
client's network). After ``inbound.purge_unconfirmed_days`` (30 by default;
0 keeps them for ever) since its last request, the ``purge`` job deletes
them (:meth:`broadsheet.store.privacy.Privacy.purge_unconfirmed`); an
address left with no subscription loses its whole history. What the run
records is counts only: no address is logged or kept.

Like the retries job it is derived from the store at each tick: present
only when some unconfirmed subscription is old enough (one query), so a
publication with nothing to purge shows no such job. Its slots are whole
UTC days: it runs at most once a day, and whatever passes the limit later
that day goes at the next day's first tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from broadsheet.config import Settings
from broadsheet.store import Tx

PURGE = "purge"
"""The name of the purge job."""

_EVERY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PurgeJob:
    """Delete the subscriptions never confirmed whose last request is ``days`` old.

    Attributes:
        days: ``inbound.purge_unconfirmed_days``.
        due_at: when the oldest unconfirmed subscription passes the limit
            (``broadsheet status`` shows it as the next slot while it is to come).
    """

    days: int
    due_at: datetime | None = None

    @property
    def name(self) -> str:
        """``purge``."""
        return PURGE

    def latest_slot(self, now: datetime) -> datetime:
        """The start of the UTC day of ``now``."""
        now = now.astimezone(UTC)
        return _EPOCH + ((now - _EPOCH) // _EVERY) * _EVERY

    def next_slot(self, now: datetime) -> datetime:
        """When the oldest unconfirmed subscription passes the limit, if still to come;
        else the start of the next UTC day."""
        if self.due_at is not None and self.due_at > now:
            return self.due_at
        return self.latest_slot(now) + _EVERY

    def is_late(self, slot: datetime, now: datetime) -> bool:
        """Never: a purge is due until it has run."""
        return False


def purge_jobs(
    tx: Tx, settings: Settings, now: datetime, *, waiting: bool = False
) -> list[PurgeJob]:
    """The purge job when an unconfirmed subscription is old enough at ``now``; else none.

    With ``waiting`` (``broadsheet status``), also when one will be later.
    """
    days = settings.inbound.purge_unconfirmed_days
    if days <= 0:
        return []
    oldest = tx.privacy.oldest_unconfirmed()
    if oldest is None:
        return []
    due_at = oldest + timedelta(days=days)
    if due_at >= now and not waiting:
        return []
    return [PurgeJob(days=days, due_at=due_at)]
