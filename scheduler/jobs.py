"""The scheduler's jobs, derived from the configuration, and their slots.

A *slot* is an instant a job is scheduled for. Three kinds of job:

- ``feeds`` rebuilds the feeds every ``scheduler.feeds_every_minutes``. Its
  slots are whole multiples of that interval counted from 1970-01-01 00:00
  UTC, so every 15 minutes means :00, :15, :30 and :45 of every UTC hour
  (and of every local hour in any zone whose offset is whole hours). UTC
  keeps them evenly spaced across daylight-saving changes.
- ``campaign:ID`` sends a stored campaign once at its ``send_at``; these
  jobs come from the store (:func:`campaign_jobs`), not the configuration.
- ``edition:FREQUENCY:LANGUAGE`` builds and sends one newsletter edition,
  one job per language in ``site.languages`` and per enabled frequency in
  ``[newsletters]``. Its slots are ``send_time`` on the wall clock of
  ``site.timezone``: every day for the daily edition, every ``weekday`` for
  the weekly one. A send time that a spring-forward change skips (02:30 on
  the night clocks jump from 02:00 to 03:00) is due at the first instant
  after the gap (03:00); a send time that a fall-back change repeats is due
  once, at its first occurrence.

Everything here is pure: values in, values out, the clock passed in.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from broadsheet.config import WEEKDAYS, Settings
from broadsheet.model import Frequency
from broadsheet.scheduler.purge import PurgeJob
from broadsheet.scheduler.retries import RetryJob
from broadsheet.zones import local_slot as local_slot  # re-exported: the slot arithmetic
from broadsheet.zones import reader_zone

FEEDS = "feeds"
"""The name of the feeds job."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""Interval slots are whole multiples of the interval counted from here."""


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the scheduler needs an aware datetime")  # a bug in the caller
    return now.astimezone(UTC)


# --- interval slots -------------------------------------------------------------


def interval_slot_at_or_before(now: datetime, every: timedelta) -> datetime:
    """The latest multiple of ``every`` since the epoch that is not after ``now``."""
    now = _aware(now)
    return EPOCH + ((now - EPOCH) // every) * every


# --- wall-clock slots -------------------------------------------------------------


def _dates(start: date, stop: int, step: int, weekday: int | None) -> Iterator[date]:
    for offset in range(0, stop, step):
        day = start + timedelta(days=offset)
        if weekday is None or day.weekday() == weekday:
            yield day


def wall_slot_at_or_before(
    now: datetime, at: time, tz: ZoneInfo, *, weekday: int | None = None
) -> datetime:
    """The latest ``at`` in ``tz`` (on ``weekday``, 0 = Monday, when given) not after ``now``."""
    now = _aware(now)
    today = now.astimezone(tz).date()
    # A slot on a later local date can never be before now; eight days back
    # always reach the same weekday of the previous week.
    for day in _dates(today, -8, -1, weekday):
        slot = local_slot(day, at, tz)
        if slot <= now:
            return slot
    raise AssertionError("no slot in the last eight days")  # unreachable


def wall_slot_after(
    now: datetime, at: time, tz: ZoneInfo, *, weekday: int | None = None
) -> datetime:
    """The first ``at`` in ``tz`` (on ``weekday``, 0 = Monday, when given) after ``now``."""
    now = _aware(now)
    # Start the day before: a time pushed past midnight by a gap belongs to it.
    start = now.astimezone(tz).date() - timedelta(days=1)
    for day in _dates(start, 9, 1, weekday):
        slot = local_slot(day, at, tz)
        if slot > now:
            return slot
    raise AssertionError("no slot in the next eight days")  # unreachable


# --- jobs -------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedsJob:
    """Rebuild every feed from the live articles, every ``every``."""

    every: timedelta

    @property
    def name(self) -> str:
        """``feeds``."""
        return FEEDS

    def latest_slot(self, now: datetime) -> datetime:
        """The latest slot at or before ``now``."""
        return interval_slot_at_or_before(now, self.every)

    def next_slot(self, now: datetime) -> datetime:
        """The first slot after ``now``."""
        return interval_slot_at_or_before(now, self.every) + self.every

    def is_late(self, slot: datetime, now: datetime) -> bool:
        """Feeds are never too late: a missed build is simply done now."""
        return False


@dataclass(frozen=True)
class EditionJob:
    """Build and send the ``frequency`` edition in ``language`` at ``at`` in ``tz``.

    Attributes:
        language: the edition's language.
        frequency: daily or weekly.
        at: the send time on the wall clock of ``tz``.
        tz: the site's time zone.
        weekday: 0 (Monday) to 6 for a weekly edition, ``None`` for daily.
        grace: how late a run may start before it is skipped instead.
        local: ``newsletters.FREQUENCY.local_time``: ``at`` is read on each
            reader's own wall clock, so the job has a slot for every distinct
            instant that ``at`` falls on in the readers' zones.
        zones: with ``local``, the distinct zone names of the edition's active
            readers (``None``: no zone, the site's); filled in from the store
            at each tick (:func:`broadsheet.scheduler.localtime.with_reader_zones`).
            The site's zone always counts.
    """

    language: str
    frequency: Frequency
    at: time
    tz: ZoneInfo
    weekday: int | None = None
    grace: timedelta = timedelta(minutes=180)
    local: bool = False
    zones: tuple[str | None, ...] = ()

    @property
    def name(self) -> str:
        """``edition:FREQUENCY:LANGUAGE``, e.g. ``edition:weekly:en``."""
        return f"edition:{self.frequency}:{self.language}"

    def clocks(self) -> tuple[ZoneInfo, ...]:
        """The distinct zones whose wall clock ``at`` is read on (the site's first)."""
        if not self.local:
            return (self.tz,)
        return tuple(dict.fromkeys([self.tz, *(reader_zone(n, self.tz) for n in self.zones)]))

    def latest_slot(self, now: datetime) -> datetime:
        """The latest slot at or before ``now``."""
        return max(
            wall_slot_at_or_before(now, self.at, zone, weekday=self.weekday)
            for zone in self.clocks()
        )

    def next_slot(self, now: datetime) -> datetime:
        """The first slot after ``now``."""
        return min(
            wall_slot_after(now, self.at, zone, weekday=self.weekday) for zone in self.clocks()
        )

    def slots_since(self, start: datetime, now: datetime) -> list[datetime]:
        """Every slot in ``(start, now]``, oldest first, and always the latest one.

        A job in readers' local time has several slots a day, one per distinct
        instant; each reaches other readers, so each slot within the grace
        period runs, not only the latest.
        """
        latest = self.latest_slot(now)
        found = {latest}
        if self.local:
            for zone in self.clocks():
                moment = _aware(now)
                while True:
                    slot = wall_slot_at_or_before(moment, self.at, zone, weekday=self.weekday)
                    if slot <= start:
                        break
                    found.add(slot)
                    moment = slot - timedelta(seconds=1)
        return sorted(found)

    def is_late(self, slot: datetime, now: datetime) -> bool:
        """Whether a run starting at ``now`` is more than ``grace`` after ``slot``."""
        return _aware(now) - slot > self.grace

    def edition_id(self, slot: datetime) -> str:
        """The id the edition of ``slot`` gets (``weekly-en-2026-11-23``).

        With ``local``, the ids of the slot's editions (one per local date
        that sends at ``slot``), joined by ``, ``: ``daily-en-2026-12-03+0300``.
        """
        if self.local:
            from broadsheet.scheduler.localtime import local_editions

            return ", ".join(
                group.edition_id(self.frequency, self.language)
                for group in local_editions(self, slot)
            )
        return f"{self.frequency}-{self.language}-{slot.astimezone(self.tz).date().isoformat()}"


@dataclass(frozen=True)
class CampaignJob:
    """Send the stored campaign ``edition_id`` once, at its ``send_at``.

    Derived from the store, not the configuration: one job per campaign built
    with a ``send_at``. Its only slot is ``send_at``; once that slot has run,
    the job is done. A campaign is sent when the scheduler first runs at or
    after ``send_at``, however late.

    Attributes:
        edition_id: the campaign's id (``campaign-en-2026-12-20-appeal``).
        send_at: when to send it (UTC).
    """

    edition_id: str
    send_at: datetime

    @property
    def name(self) -> str:
        """``campaign:ID``, e.g. ``campaign:campaign-en-2026-12-20-appeal``."""
        return f"campaign:{self.edition_id}"

    def latest_slot(self, now: datetime) -> datetime:
        """``send_at``, its one slot (callers check that it is not after ``now``)."""
        return self.send_at

    def next_slot(self, now: datetime) -> datetime:
        """``send_at``, its one slot."""
        return self.send_at

    def is_late(self, slot: datetime, now: datetime) -> bool:
        """Never: a campaign is sent late rather than not at all."""
        return False


Job = FeedsJob | EditionJob | CampaignJob | RetryJob | PurgeJob
"""Any scheduler job."""


def campaign_jobs(scheduled: Sequence[tuple[str, datetime]]) -> list[CampaignJob]:
    """The jobs of campaigns ``(edition_id, send_at)``, by ``send_at`` then id."""
    return [
        CampaignJob(edition_id=identifier, send_at=_aware(moment))
        for identifier, moment in sorted(scheduled, key=lambda pair: (pair[1], pair[0]))
    ]


def jobs_from_settings(settings: Settings) -> list[Job]:
    """Every job the configuration asks for: feeds first, then the editions.

    Editions come daily before weekly, each in the order of ``site.languages``.
    A frequency with ``enabled = false`` has no job. The grace period is at
    least one scheduler tick, so ``grace_minutes = 0`` still lets the tick
    that first sees a slot run it.
    """
    jobs: list[Job] = []
    every = settings.scheduler.feeds_every_minutes
    if every > 0:
        jobs.append(FeedsJob(every=timedelta(minutes=every)))
    tz = settings.site.tz
    tick = timedelta(seconds=settings.scheduler.tick_seconds)
    for frequency in Frequency:
        letter = settings.newsletters.get(frequency)
        if letter is None or not letter.enabled:
            continue
        weekday = WEEKDAYS.index(letter.weekday) if frequency is Frequency.WEEKLY else None
        grace = max(timedelta(minutes=letter.grace_minutes), tick)
        at = time.fromisoformat(letter.send_time)
        jobs.extend(
            EditionJob(
                language=language,
                frequency=frequency,
                at=at,
                tz=tz,
                weekday=weekday,
                grace=grace,
                local=letter.local_time,
            )
            for language in settings.site.languages
        )
    return jobs


def find_job(jobs: Sequence[Job], name: str) -> Job | None:
    """The job called ``name``, if configured."""
    return next((job for job in jobs if job.name == name), None)


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    """``moment`` on the wall clock of ``tz``: ``2026-11-23 08:00 MSK``."""
    local = moment.astimezone(tz)
    shown = local.strftime("%Y-%m-%d %H:%M")
    if local.second:
        shown += local.strftime(":%S")
    return f"{shown} {local.tzname()}"
